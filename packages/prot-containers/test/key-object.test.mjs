// The KeyObject and CryptoKey bridges: keys in protected memory become Node
// key objects equal to the originals, read in place (no JSON.parse, no heap
// copy), with the key's window closed afterwards and every temporary ProtBuf
// disposed (wiped).
import { spawnSync } from 'node:child_process'
import { createHmac, createSecretKey, generateKeyPairSync, randomBytes, sign, verify, webcrypto } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { ProtBuf, ProtKey, SealedKey, importCryptoKey, privateKeyObject, secretKeyObject } from '../dist/index.js'

const code = (c) => expect.objectContaining({ code: c })
const MESSAGE = Buffer.from('message to sign')

/** @type {Array<[any, any, any]>} */
const PAIRS = [
  ['ed25519', {}, { name: 'Ed25519' }],
  ['x25519', {}, null],
  ['ed448', {}, null],
  ['ec', { namedCurve: 'P-256' }, { name: 'ECDSA', namedCurve: 'P-256' }],
  ['ec', { namedCurve: 'P-384' }, { name: 'ECDSA', namedCurve: 'P-384' }],
  ['ec', { namedCurve: 'P-521' }, { name: 'ECDSA', namedCurve: 'P-521' }],
  ['ec', { namedCurve: 'secp256k1' }, null],
  ['rsa', { modulusLength: 2048 }, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }]
]

function encoded (privateKey, format) {
  if (format === 'jwk') return Buffer.from(JSON.stringify(privateKey.export({ format: 'jwk' }), null, 2))
  return Buffer.from(privateKey.export({ format, type: 'pkcs8' }))
}

/** Records every ProtBuf that ProtBuf.alloc makes (the bridges' temporaries). */
const undo = []
afterEach(() => { while (undo.length > 0) undo.pop()() })
function recordTemporaries () {
  const alloc = ProtBuf.alloc
  const made = []
  ProtBuf.alloc = function (...args) {
    const b = alloc.apply(this, args)
    made.push(b)
    return b
  }
  const parse = JSON.parse
  JSON.parse = () => { throw new Error('JSON.parse was called on key material') }
  undo.push(() => { ProtBuf.alloc = alloc; JSON.parse = parse })
  return made
}

describe.each(PAIRS)('privateKeyObject: %s %o', (type, options, algorithm) => {
  // No encoding in `options`: KeyObjects (the overload for a type chosen at run time cannot tell).
  const { privateKey, publicKey } = /** @type {import('node:crypto').KeyPairKeyObjectResult} */ (/** @type {unknown} */ (generateKeyPairSync(type, options)))
  for (const format of /** @type {const} */ (['pem', 'der', 'jwk'])) {
    it(`${format}: equals the original key, leaves the window closed and no temporary alive`, () => {
      const key = ProtKey.from(encoded(privateKey, format), { wipeSource: true })
      const made = recordTemporaries()
      const object = privateKeyObject(key, { format })
      undo.pop()()
      expect(object.type).toBe('private')
      expect(object.equals(privateKey)).toBe(true)
      expect(key.windows).toEqual({ readers: 0, writer: false })
      expect(key.protections().access).toBe('none')
      expect(made.length).toBe(format === 'jwk' ? 1 : 0)
      for (const b of made) expect(b.disposed).toBe(true)
      if (type === 'ed25519' || type === 'ed448') expect(verify(null, MESSAGE, publicKey, sign(null, MESSAGE, object))).toBe(true)
      key.dispose()
    })
  }

  if (algorithm) {
    it('importCryptoKey from pkcs8, jwk and pem: a non-extractable private CryptoKey', async () => {
      for (const [format, enc] of /** @type {const} */ ([['pkcs8', 'der'], ['jwk', 'jwk'], ['pem', 'pem']])) {
        const key = SealedKey.from(encoded(privateKey, enc))
        const made = recordTemporaries()
        const cryptoKey = await importCryptoKey(key, format, algorithm, ['sign'])
        undo.pop()()
        expect(cryptoKey.type).toBe('private')
        expect(cryptoKey.extractable).toBe(false)
        for (const b of made) expect(b.disposed).toBe(true)
        await expect(webcrypto.subtle.exportKey('pkcs8', cryptoKey)).rejects.toThrow()
        expect(key.windows).toEqual({ readers: 0, writer: false })
        key.dispose()
      }
    })
  }
})

describe('secret keys', () => {
  const raw = randomBytes(32)
  const jwk = Buffer.from(JSON.stringify({ ...createSecretKey(raw).export({ format: 'jwk' }), ext: true, key_ops: ['sign', 'verify'], alg: 'HS256' }))
  const expected = createHmac('sha256', raw).update(MESSAGE).digest()

  it.each([
    ['ProtKey raw', () => ProtKey.from(raw), undefined],
    ['SealedKey raw', () => SealedKey.from(raw), undefined],
    ['ProtBuf raw', () => ProtBuf.from(raw), undefined],
    ['ProtKey jwk (with arrays and booleans around)', () => ProtKey.from(jwk), { format: 'jwk' }]
  ])('secretKeyObject from a %s gives the same HMAC', (_label, make, options) => {
    const key = make()
    const object = secretKeyObject(key, options)
    expect(object.type).toBe('secret')
    expect(createHmac('sha256', object).update(MESSAGE).digest().equals(expected)).toBe(true)
    if ('windows' in key) expect(key.windows.readers).toBe(0)
    key.dispose()
  })

  it('importCryptoKey raw keeps the window open until the import settles, then closes it', async () => {
    const key = ProtKey.from(raw)
    const pending = importCryptoKey(key, 'raw', { name: 'HMAC', hash: 'SHA-256' }, ['sign'])
    expect(key.windows.readers).toBe(1)
    const cryptoKey = await pending
    expect(key.windows.readers).toBe(0)
    expect(cryptoKey.extractable).toBe(false)
    expect(Buffer.from(await webcrypto.subtle.sign('HMAC', cryptoKey, MESSAGE)).equals(expected)).toBe(true)
    const fromJwk = await importCryptoKey(ProtBuf.from(jwk), 'jwk', { name: 'HMAC', hash: 'SHA-256' }, ['sign'])
    expect(Buffer.from(await webcrypto.subtle.sign('HMAC', fromJwk, MESSAGE)).equals(expected)).toBe(true)
    key.dispose()
  })
})

describe('refusals', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  /** @type {Array<[string, Buffer, string]>} */
  const cases = [
    ['not JSON', Buffer.from('-----BEGIN'), 'ERR_INVALID_KEY_DATA'],
    ['an unclosed object', Buffer.from('{"kty":"OKP","crv":"Ed25519","d":"abc'), 'ERR_INVALID_KEY_DATA'],
    ['text after the object', Buffer.from('{"kty":"oct","k":"AAAA"} x'), 'ERR_INVALID_KEY_DATA'],
    ['no kty', Buffer.from('{"k":"AAAA"}'), 'ERR_INVALID_KEY_DATA'],
    ['a public JWK', Buffer.from(JSON.stringify(publicKey.export({ format: 'jwk' }))), 'ERR_INVALID_KEY_DATA'],
    ['d that is not base64url', Buffer.from('{"kty":"OKP","crv":"Ed25519","x":"","d":"a+b/"}'), 'ERR_INVALID_KEY_DATA'],
    ['an EC d of the wrong length', Buffer.from('{"kty":"EC","crv":"P-256","d":"AAAA"}'), 'ERR_INVALID_KEY_DATA'],
    ['an unknown curve', Buffer.from('{"kty":"OKP","crv":"Ed9999","d":"AAAA"}'), 'ERR_UNSUPPORTED_KEY_FORMAT'],
    ['an unknown key type', Buffer.from('{"kty":"XYZ","d":"AAAA"}'), 'ERR_UNSUPPORTED_KEY_FORMAT'],
    ['a secret JWK given as private', Buffer.from('{"kty":"oct","k":"AAAA"}'), 'ERR_INVALID_KEY_DATA']
  ]
  it.each(cases)('a JWK with %s: %s, and the key is left closed', (_label, bytes, want) => {
    const key = ProtKey.from(bytes)
    expect(() => privateKeyObject(key, { format: 'jwk' })).toThrow(code(want))
    expect(key.windows.readers).toBe(0)
    key.dispose()
  })

  it('bad arguments and options are typed errors', async () => {
    const key = ProtKey.from(encoded(privateKey, 'der'))
    // @ts-expect-error a string, not a ProtKey: refused at run time
    expect(() => privateKeyObject('pem text')).toThrow(code('ERR_INVALID_ARG_TYPE'))
    // @ts-expect-error an unknown format: refused at run time
    expect(() => privateKeyObject(key, { format: 'xml' })).toThrow(code('ERR_INVALID_ARG_VALUE'))
    // @ts-expect-error x509 is not a private key encoding: refused at run time
    expect(() => privateKeyObject(key, { format: 'der', type: 'x509' })).toThrow(code('ERR_INVALID_ARG_VALUE'))
    // @ts-expect-error a string, not an options object: refused at run time
    expect(() => privateKeyObject(key, 'der')).toThrow(code('ERR_INVALID_ARG_TYPE'))
    // @ts-expect-error a secret key is raw or jwk: refused at run time
    expect(() => secretKeyObject(key, { format: 'pem' })).toThrow(code('ERR_INVALID_ARG_VALUE'))
    expect(() => secretKeyObject(ProtKey.from(Buffer.from('{"kty":"OKP","crv":"Ed25519","d":"AAAA"}')), { format: 'jwk' })).toThrow(code('ERR_INVALID_KEY_DATA'))
    // @ts-expect-error spki is a public key format: refused at run time
    await expect(importCryptoKey(key, 'spki', { name: 'Ed25519' }, ['sign'])).rejects.toThrow(code('ERR_INVALID_ARG_VALUE'))
    // @ts-expect-error format, algorithm and usages missing: refused at run time
    await expect(importCryptoKey(key)).rejects.toThrow(code('ERR_INVALID_ARG_TYPE'))
    // A DER key read as PEM: Node's own typed error, window closed.
    expect(() => privateKeyObject(key)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_/) }))
    expect(key.windows.readers).toBe(0)
    key.dispose()
    expect(() => privateKeyObject(key, { format: 'der' })).toThrow(code('ERR_DISPOSED'))
  })

  it('an encrypted PEM opens with a passphrase held in protected memory', () => {
    const pem = Buffer.from(privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'open sesame' }))
    const key = ProtKey.from(pem)
    const passphrase = ProtKey.from(Buffer.from('open sesame'))
    expect(privateKeyObject(key, { passphrase }).equals(privateKey)).toBe(true)
    expect(passphrase.windows.readers).toBe(0)
    expect(() => privateKeyObject(key, { passphrase: ProtBuf.from(Buffer.from('wrong')) })).toThrow()
    key.dispose()
    passphrase.dispose()
  })
})

describe('where OpenSSL keeps the parsed key', () => {
  it("under --secure-heap, an Ed25519 private key made by the bridge is in OpenSSL's secure heap; a secret key is not", () => {
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))
    const script = `
      const c = require('node:crypto')
      const { ProtKey, privateKeyObject, secretKeyObject } = require(${JSON.stringify(dist)})
      const der = ProtKey.from(c.generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' }))
      const used = () => c.secureHeapUsed().used
      let before = used(); const priv = privateKeyObject(der, { format: 'der' }); const privateGrew = used() - before
      before = used(); const sec = secretKeyObject(ProtKey.random(32)); const secretGrew = used() - before
      console.log(JSON.stringify({ privateGrew, secretGrew, total: c.secureHeapUsed().total, keep: [priv.type, sec.type] }))`
    const run = spawnSync(process.execPath, ['--secure-heap=65536', '-e', script], { encoding: 'utf8' })
    expect(run.status, run.stderr).toBe(0)
    const r = JSON.parse(run.stdout)
    expect(r.total).toBe(65536)
    expect(r.privateGrew).toBeGreaterThanOrEqual(32)
    expect(r.secretGrew).toBe(0)
  })
})
