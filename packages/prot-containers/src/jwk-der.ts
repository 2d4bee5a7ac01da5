/**
 * A private or secret JWK, read from bytes in protected memory, turned into
 * bytes Node and WebCrypto import (PKCS#8 DER, or the raw secret of an
 * `oct` key) in new protected memory — without JSON.parse, whose strings
 * would put the key on the V8 heap where nothing can wipe it.
 *
 * The JSON is scanned in place: member names and the public members (`kty`,
 * `crv`) are decoded as short strings; the secret members are located as
 * byte ranges and base64url-decoded straight into the output.
 */
import { ContainerError } from './errors.js'
import { ProtBuf } from './prot-buf.js'

/** Where a string member's value lies in the JSON bytes. */
interface Range {
  start: number
  end: number
}

const QUOTE = 0x22
const BACKSLASH = 0x5c

function invalid(why: string): ContainerError {
  return new ContainerError('ERR_INVALID_KEY_DATA', `The JWK is not valid: ${why}`)
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
}

/** The index after the string that opens at `i` (a quote). */
function skipString(b: Uint8Array, i: number): number {
  for (let j = i + 1; j < b.length; j++) {
    if (b[j] === BACKSLASH) j++
    else if (b[j] === QUOTE) return j + 1
  }
  throw invalid('a string is not closed')
}

/** The index after a non-string value (number, literal, array, object) that starts at `i`. */
function skipValue(b: Uint8Array, i: number): number {
  let depth = 0
  for (let j = i; j < b.length; j++) {
    const c = b[j]
    if (c === QUOTE) {
      j = skipString(b, j) - 1
    } else if (c === 0x5b || c === 0x7b) {
      depth++
    } else if (c === 0x5d || c === 0x7d) {
      if (depth === 0) return j
      depth--
      if (depth === 0) return j + 1
    } else if (c === 0x2c && depth === 0) {
      return j
    }
  }
  throw invalid('a value is not closed')
}

function skipSpaces(b: Uint8Array, i: number): number {
  while (isSpace(b[i])) i++
  return i
}

/** The string members of a flat JSON object, as ranges of `b`. */
function stringMembers(b: Uint8Array): Map<string, Range> {
  const members = new Map<string, Range>()
  let i = skipSpaces(b, 0)
  if (b[i] !== 0x7b) throw invalid('it is not a JSON object')
  i = skipSpaces(b, i + 1)
  if (b[i] === 0x7d) return members
  for (;;) {
    if (b[i] !== QUOTE) throw invalid('a member name is expected')
    const nameEnd = skipString(b, i)
    const name = ascii(b, { start: i + 1, end: nameEnd - 1 })
    i = skipSpaces(b, nameEnd)
    if (b[i] !== 0x3a) throw invalid(`no ":" after "${name}"`)
    i = skipSpaces(b, i + 1)
    if (b[i] === QUOTE) {
      const end = skipString(b, i)
      members.set(name, { start: i + 1, end: end - 1 })
      i = end
    } else {
      i = skipValue(b, i)
    }
    i = skipSpaces(b, i)
    if (b[i] === 0x7d) break
    if (b[i] !== 0x2c) throw invalid('"," or "}" expected')
    i = skipSpaces(b, i + 1)
  }
  if (skipSpaces(b, i + 1) !== b.length) throw invalid('text after the object')
  return members
}

/** A short public string (a member name, `kty`, `crv`): printable ASCII only. */
function ascii(b: Uint8Array, r: Range): string {
  let s = ''
  for (let i = r.start; i < r.end; i++) {
    const c = b[i] as number
    if (c < 0x20 || c > 0x7e || c === BACKSLASH || r.end - r.start > 64) throw invalid('a name or public member is not plain ASCII')
    s += String.fromCharCode(c)
  }
  return s
}

function sextet(c: number | undefined): number {
  if (c === undefined) return -1
  if (c >= 0x41 && c <= 0x5a) return c - 0x41
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52
  if (c === 0x2d) return 62
  if (c === 0x5f) return 63
  return -1
}

/** Bytes a base64url range decodes to. */
function decodedLength(r: Range): number {
  const n = r.end - r.start
  if (n % 4 === 1) throw invalid('a base64url member has a bad length')
  return Math.floor((n * 3) / 4)
}

/** Decodes a base64url range of `b` into `out` at `at`; returns the index after. */
function decodeInto(b: Uint8Array, r: Range, out: Uint8Array, at: number): number {
  let acc = 0
  let bits = 0
  for (let i = r.start; i < r.end; i++) {
    const v = sextet(b[i])
    if (v < 0) throw invalid('a secret member is not base64url')
    acc = ((acc << 6) | v) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[at++] = (acc >> bits) & 0xff
    }
  }
  return at
}

/** The first decoded byte of a range (to know whether a DER INTEGER needs a leading zero). */
function firstByte(b: Uint8Array, r: Range): number {
  return ((sextet(b[r.start]) << 2) | (sextet(b[r.start + 1]) >> 4)) & 0xff
}

/** A DER tree: fixed bytes, a base64url member as INTEGER or OCTET STRING, or a constructed TLV. */
type Der = { fixed: readonly number[] } | { int: Range } | { octets: Range } | { tag: number; of: Der[] }

function lengthOfLength(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : 3
}

function contentLength(d: Der, b: Uint8Array): number {
  if ('fixed' in d) return d.fixed.length
  if ('int' in d) {
    const n = decodedLength(d.int)
    return n + (firstByte(b, d.int) >= 0x80 ? 1 : 0)
  }
  if ('octets' in d) return decodedLength(d.octets)
  return d.of.reduce((sum, c) => sum + size(c, b), 0)
}

function size(d: Der, b: Uint8Array): number {
  if ('fixed' in d) return d.fixed.length
  const n = contentLength(d, b)
  return 1 + lengthOfLength(n) + n
}

function writeHeader(out: Uint8Array, at: number, tag: number, n: number): number {
  out[at++] = tag
  if (n >= 0x100) {
    out[at++] = 0x82
    out[at++] = n >> 8
  } else if (n >= 0x80) {
    out[at++] = 0x81
  }
  out[at++] = n & 0xff
  return at
}

function write(d: Der, b: Uint8Array, out: Uint8Array, at: number): number {
  if ('fixed' in d) {
    out.set(d.fixed, at)
    return at + d.fixed.length
  }
  const n = contentLength(d, b)
  if ('int' in d) {
    at = writeHeader(out, at, 0x02, n)
    if (firstByte(b, d.int) >= 0x80) out[at++] = 0
    return decodeInto(b, d.int, out, at)
  }
  if ('octets' in d) return decodeInto(b, d.octets, out, writeHeader(out, at, 0x04, n))
  at = writeHeader(out, at, d.tag, n)
  for (const c of d.of) at = write(c, b, out, at)
  return at
}

const SEQUENCE = 0x30
const OCTET_STRING = 0x04
const VERSION_0 = { fixed: [0x02, 0x01, 0x00] }
const VERSION_1 = { fixed: [0x02, 0x01, 0x01] }

/** AlgorithmIdentifier DER of the OKP curves (RFC 8410). */
const OKP: Record<string, readonly number[]> = {
  Ed25519: [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70],
  Ed448: [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71],
  X25519: [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e],
  X448: [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6f]
}

/** AlgorithmIdentifier DER (id-ecPublicKey + named curve) and the private key length of the EC curves. */
const EC_PUBLIC_KEY = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]
const EC: Record<string, { oid: readonly number[]; length: number }> = {
  'P-256': { oid: [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07], length: 32 },
  'P-384': { oid: [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22], length: 48 },
  'P-521': { oid: [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23], length: 66 },
  secp256k1: { oid: [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a], length: 32 }
}

/** rsaEncryption AlgorithmIdentifier with NULL parameters. */
const RSA_ALGORITHM = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]

function member(members: Map<string, Range>, name: string, kty: string): Range {
  const r = members.get(name)
  if (r === undefined) throw invalid(`a private ${kty} JWK needs "${name}" (a public JWK holds no secret to protect)`)
  return r
}

function publicMember(b: Uint8Array, members: Map<string, Range>, name: string, kty: string): string {
  return ascii(b, member(members, name, kty))
}

function unsupported(what: string): ContainerError {
  return new ContainerError('ERR_UNSUPPORTED_KEY_FORMAT', `${what} is not supported from a JWK; convert the key to PKCS#8 (PEM or DER) and import that`)
}

/** The PKCS#8 DER tree of a private OKP, EC or RSA JWK. */
function pkcs8Tree(b: Uint8Array, members: Map<string, Range>, kty: string): Der {
  if (kty === 'OKP') {
    const crv = publicMember(b, members, 'crv', kty)
    const algorithm = OKP[crv]
    if (algorithm === undefined) throw unsupported(`The OKP curve ${crv}`)
    return { tag: SEQUENCE, of: [VERSION_0, { fixed: algorithm }, { tag: OCTET_STRING, of: [{ octets: member(members, 'd', kty) }] }] }
  }
  if (kty === 'EC') {
    const crv = publicMember(b, members, 'crv', kty)
    const curve = EC[crv]
    if (curve === undefined) throw unsupported(`The EC curve ${crv}`)
    const d = member(members, 'd', kty)
    if (decodedLength(d) !== curve.length) throw invalid(`"d" of a ${crv} key must be ${curve.length} bytes`)
    const ecPrivateKey: Der = { tag: SEQUENCE, of: [VERSION_1, { octets: d }] }
    return { tag: SEQUENCE, of: [VERSION_0, { tag: SEQUENCE, of: [{ fixed: EC_PUBLIC_KEY }, { fixed: curve.oid }] }, { tag: OCTET_STRING, of: [ecPrivateKey] }] }
  }
  if (kty === 'RSA') {
    if (members.has('oth')) throw unsupported('A multi-prime RSA key')
    const ints: Der[] = ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'].map((name) => ({ int: member(members, name, kty) }))
    const rsaPrivateKey: Der = { tag: SEQUENCE, of: [VERSION_0, ...ints] }
    return { tag: SEQUENCE, of: [VERSION_0, { fixed: RSA_ALGORITHM }, { tag: OCTET_STRING, of: [rsaPrivateKey] }] }
  }
  throw unsupported(`The key type ${JSON.stringify(kty)}`)
}

/** What a JWK becomes: the raw secret of an `oct` key, or the PKCS#8 DER of a private key, in a new ProtBuf. */
export interface JwkBytes {
  kind: 'secret' | 'private'
  bytes: ProtBuf
}

/**
 * Converts the JWK in `b` (protected memory) into a new ProtBuf. Public keys are refused: they hold nothing to protect.
 * @internal used by the KeyObject and CryptoKey bridges
 */
export function jwkToProtected(b: Uint8Array): JwkBytes {
  const members = stringMembers(b)
  const ktyRange = members.get('kty')
  if (ktyRange === undefined) throw invalid('"kty" is missing')
  const kty = ascii(b, ktyRange)
  if (kty === 'oct') {
    const k = member(members, 'k', kty)
    const length = decodedLength(k)
    if (length === 0) throw invalid('"k" is empty')
    return { kind: 'secret', bytes: filled(length, (out) => decodeInto(b, k, out, 0)) }
  }
  const tree = pkcs8Tree(b, members, kty)
  return { kind: 'private', bytes: filled(size(tree, b), (out) => write(tree, b, out, 0)) }
}

/** A new ProtBuf of `length` bytes filled by `fill`; disposed (wiped) if filling fails. */
function filled(length: number, fill: (out: Uint8Array) => void): ProtBuf {
  const buf = ProtBuf.alloc(length)
  try {
    fill(buf.bytes)
  } catch (err) {
    buf.dispose()
    throw err
  }
  return buf
}
