/**
 * Bridges from protected memory to Node's key types: a private or secret
 * `KeyObject` (PEM, DER or JWK) and a non-extractable WebCrypto `CryptoKey`.
 *
 * The key's bytes are handed to Node as views of protected memory (inside a
 * read window for a key), never copied to the JavaScript heap by this
 * package. A JWK is not given to JSON.parse: it is scanned in place and
 * turned into PKCS#8 DER (or the raw secret of an `oct` key) in a ProtBuf
 * that is wiped once Node has imported it.
 *
 * Node parses the key into OpenSSL's memory: private keys' secret parts in
 * OpenSSL's secure heap when Node runs with `--secure-heap=N` (else its
 * ordinary heap), secret keys always in Node's ordinary heap. See
 * docs/node-crypto.md.
 */
import { createPrivateKey, createSecretKey, webcrypto } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import os = require('@tarsjs/os-memlock')
import { ContainerError } from './errors.js'
import { jwkToProtected } from './jwk-der.js'
import { withSecret, withSecretAsync } from './secret-input.js'
import type { SecretInput } from './secret-input.js'

/** Options of {@link privateKeyObject}. */
export interface PrivateKeyOptions {
  /** Encoding of the key's bytes. Default `'pem'`. */
  format?: 'pem' | 'der' | 'jwk'
  /** Structure of a DER key. Default `'pkcs8'`. */
  type?: 'pkcs8' | 'pkcs1' | 'sec1'
  /** Passphrase of an encrypted PEM or DER key, read in place as well. */
  passphrase?: SecretInput
}

/** Options of {@link secretKeyObject}. */
export interface SecretKeyOptions {
  /** `'raw'`: the bytes are the key (default). `'jwk'`: an `oct` JWK. */
  format?: 'raw' | 'jwk'
}

/** The algorithm argument of `crypto.subtle.importKey`. */
export type ImportAlgorithm = Parameters<typeof webcrypto.subtle.importKey>[2]

/** A format `importCryptoKey` reads. */
export type CryptoKeyFormat = 'raw' | 'pkcs8' | 'jwk' | 'pem'

function choice<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (!(allowed as readonly unknown[]).includes(value)) {
    throw new ContainerError('ERR_INVALID_ARG_VALUE', `The "${name}" must be one of ${allowed.join(', ')}. Received ${typeof value === 'string' ? value : typeof value}`)
  }
  return value as T
}

function optionsObject<T extends object>(options: T | undefined): Partial<T> {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null) throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be an object')
  return options
}

/** A Buffer over the same memory (no copy): Node's key parsers type their input as Buffer. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** A JWK in protected memory, converted into a ProtBuf that `use` gets and that is wiped afterwards. */
function withJwk<R>(source: SecretInput, expect: 'secret' | 'private', use: (bytes: Uint8Array) => R): R {
  const converted = withSecret(source, 'source', jwkToProtected)
  try {
    if (converted.kind !== expect) {
      throw new ContainerError('ERR_INVALID_KEY_DATA', expect === 'secret' ? 'The JWK is not a secret ("oct") key' : 'The JWK is a secret ("oct") key: use secretKeyObject')
    }
    return use(converted.bytes.bytes)
  } finally {
    converted.bytes.dispose()
  }
}

/**
 * A private `KeyObject` from a key held in protected memory, parsed once by Node (sign with it as often as needed).
 * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a source that is not a container or a view, or options that are not an object; `ERR_INVALID_ARG_VALUE` for an unknown format or type; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT`; `ERR_INVALID_KEY_DATA` for a JWK that is not valid or is a secret key; `ERR_UNSUPPORTED_KEY_FORMAT` for a JWK of another type or curve; Node's own codes when the key does not parse (`ERR_OSSL_*`, `ERR_MISSING_PASSPHRASE`)
 * @example
 * ```js
 * import { generateKeyPairSync, sign, verify } from 'node:crypto'
 * import { ProtKey, privateKeyObject } from '@tarsjs/prot-containers'
 * const pair = generateKeyPairSync('ed25519')
 * const pem = ProtKey.from(pair.privateKey.export({ format: 'der', type: 'pkcs8' }), { wipeSource: true })
 * const signer = privateKeyObject(pem, { format: 'der' })
 * const signature = sign(null, Buffer.from('hello'), signer)
 * console.log(verify(null, Buffer.from('hello'), pair.publicKey, signature), signer.asymmetricKeyType) // true ed25519
 * pem.dispose()
 * ```
 */
export function privateKeyObject(source: SecretInput, options?: PrivateKeyOptions): KeyObject {
  const opts = optionsObject(options)
  const format = choice(opts.format, 'options.format', ['pem', 'der', 'jwk'] as const, 'pem')
  const type = choice(opts.type, 'options.type', ['pkcs8', 'pkcs1', 'sec1'] as const, 'pkcs8')
  if (format === 'jwk') return withJwk(source, 'private', (der) => createPrivateKey({ key: asBuffer(der), format: 'der', type: 'pkcs8' }))
  const parse = (bytes: Uint8Array, passphrase?: Uint8Array): KeyObject =>
    createPrivateKey({
      key: asBuffer(bytes),
      format,
      ...(format === 'der' ? { type } : {}),
      ...(passphrase === undefined ? {} : { passphrase: asBuffer(passphrase) })
    })
  const passphrase = opts.passphrase
  if (passphrase === undefined) return withSecret(source, 'source', (bytes) => parse(bytes))
  return withSecret(source, 'source', (bytes) => withSecret(passphrase, 'options.passphrase', (pass) => parse(bytes, pass)))
}

/**
 * A secret `KeyObject` (HMAC, AES, ...) from bytes in protected memory, or from an `oct` JWK there.
 * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a source that is not a container or a view; `ERR_INVALID_ARG_VALUE` for an unknown format; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT`; `ERR_INVALID_KEY_DATA` for a JWK that is not a valid `oct` key
 * @example
 * ```js
 * import { createHmac } from 'node:crypto'
 * import { ProtKey, secretKeyObject } from '@tarsjs/prot-containers'
 * const key = ProtKey.random(32)
 * const hmacKey = secretKeyObject(key)
 * const mac = createHmac('sha256', hmacKey).update('message').digest()
 * console.log(mac.equals(key.read((bytes) => createHmac('sha256', bytes).update('message').digest()))) // true
 * key.dispose()
 * ```
 */
export function secretKeyObject(source: SecretInput, options?: SecretKeyOptions): KeyObject {
  const format = choice(optionsObject(options).format, 'options.format', ['raw', 'jwk'] as const, 'raw')
  if (format === 'jwk') return withJwk(source, 'secret', (bytes) => createSecretKey(bytes))
  return withSecret(source, 'source', (bytes) => createSecretKey(bytes))
}

/** A non-extractable CryptoKey from PKCS#8 DER of a KeyObject (Node 20 has no `KeyObject#toCryptoKey`); the DER heap copy is wiped. */
async function keyObjectToCryptoKey(key: KeyObject, algorithm: ImportAlgorithm, usages: webcrypto.KeyUsage[]): Promise<webcrypto.CryptoKey> {
  const convert = (key as { toCryptoKey?: (a: ImportAlgorithm, e: boolean, u: webcrypto.KeyUsage[]) => webcrypto.CryptoKey }).toCryptoKey
  if (typeof convert === 'function') return convert.call(key, algorithm, false, usages)
  const der = key.export({ format: 'der', type: 'pkcs8' })
  try {
    return await webcrypto.subtle.importKey('pkcs8', der, algorithm, false, usages)
  } finally {
    os.wipe(der)
  }
}

/**
 * A non-extractable WebCrypto `CryptoKey` from a key in protected memory: `'raw'` or `'pkcs8'` bytes (read in a window that stays open until the import settles), a `'jwk'` (converted in protected memory), or a `'pem'` private key.
 * @throws {ContainerError} (as rejections) `ERR_INVALID_ARG_TYPE`; `ERR_INVALID_ARG_VALUE` for an unknown format; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT`; `ERR_WINDOW_TIMEOUT`; `ERR_INVALID_KEY_DATA`; `ERR_UNSUPPORTED_KEY_FORMAT`; WebCrypto's own errors (`DataError`, `NotSupportedError`, `SyntaxError` as DOMException) for keys or algorithms it refuses
 * @example
 * ```js
 * import { webcrypto } from 'node:crypto'
 * import { ProtKey, importCryptoKey } from '@tarsjs/prot-containers'
 * const key = ProtKey.random(32)
 * const hmac = await importCryptoKey(key, 'raw', { name: 'HMAC', hash: 'SHA-256' }, ['sign', 'verify'])
 * const mac = await webcrypto.subtle.sign('HMAC', hmac, Buffer.from('message'))
 * console.log(mac.byteLength, hmac.extractable) // 32 false
 * key.dispose()
 * ```
 */
export async function importCryptoKey(source: SecretInput, format: CryptoKeyFormat, algorithm: ImportAlgorithm, usages: webcrypto.KeyUsage[]): Promise<webcrypto.CryptoKey> {
  if (typeof format !== 'string') throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "format" argument must be one of raw, pkcs8, jwk, pem')
  const chosen = choice(format, 'format', ['raw', 'pkcs8', 'jwk', 'pem'] as const, 'raw')
  if (chosen === 'pem') return keyObjectToCryptoKey(privateKeyObject(source, { format: 'pem' }), algorithm, usages)
  if (chosen === 'jwk') {
    const converted = withSecret(source, 'source', jwkToProtected)
    try {
      return await webcrypto.subtle.importKey(converted.kind === 'secret' ? 'raw' : 'pkcs8', converted.bytes.bytes, algorithm, false, usages)
    } finally {
      converted.bytes.dispose()
    }
  }
  return withSecretAsync(source, 'source', (bytes) => webcrypto.subtle.importKey(chosen, bytes, algorithm, false, usages))
}
