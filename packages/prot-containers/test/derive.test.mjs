// Derivation into protected memory: scrypt, PBKDF2 and HKDF from a password
// or key in a container, sync and async, into a ProtKey, ProtBuf or SealedKey.
// Node's heap result is captured (by wrapping node:crypto) and must be all
// zero by the time the function returns or its promise resolves.
import { createRequire } from 'node:module'
import { afterEach, describe, expect, it } from 'vitest'
import { ProtBuf, ProtKey, SealedKey, hkdfKey, hkdfKeySync, pbkdf2Key, pbkdf2KeySync, scryptKey, scryptKeySync } from '../dist/index.js'

const require = createRequire(import.meta.url)
const crypto = require('node:crypto')
const PASSWORD = Buffer.from('correct horse battery staple')
const code = (c) => expect.objectContaining({ code: c })

/** Each helper: the call with our containers, Node's call on a heap copy, and the node:crypto function whose result is captured. */
const HELPERS = [
  { name: 'scryptKeySync', node: 'scryptSync', ours: (s, o) => scryptKeySync(s, 'salt', 32, (typeof o === 'string' ? o : { N: 1024, ...o })), plain: (p) => crypto.scryptSync(p, 'salt', 32, { N: 1024 }) },
  { name: 'scryptKey', node: 'scrypt', ours: (s, o) => scryptKey(s, 'salt', 32, (typeof o === 'string' ? o : { N: 1024, ...o })), plain: (p) => crypto.scryptSync(p, 'salt', 32, { N: 1024 }) },
  { name: 'pbkdf2KeySync', node: 'pbkdf2Sync', ours: (s, o) => pbkdf2KeySync(s, 'salt', 1000, 48, 'sha256', o), plain: (p) => crypto.pbkdf2Sync(p, 'salt', 1000, 48, 'sha256') },
  { name: 'pbkdf2Key', node: 'pbkdf2', ours: (s, o) => pbkdf2Key(s, 'salt', 1000, 48, 'sha256', o), plain: (p) => crypto.pbkdf2Sync(p, 'salt', 1000, 48, 'sha256') },
  { name: 'hkdfKeySync', node: 'hkdfSync', ours: (s, o) => hkdfKeySync('sha256', s, 'salt', 'info', 40, o), plain: (p) => Buffer.from(crypto.hkdfSync('sha256', p, 'salt', 'info', 40)) },
  { name: 'hkdfKey', node: 'hkdf', ours: (s, o) => hkdfKey('sha256', s, 'salt', 'info', 40, o), plain: (p) => Buffer.from(crypto.hkdfSync('sha256', p, 'salt', 'info', 40)) }
]

/** @type {Array<[string, () => any, ((input: any) => any)?]>} */
const INPUTS = [
  ['ProtKey', () => ProtKey.from(PASSWORD)],
  ['SealedKey', () => SealedKey.from(PASSWORD)],
  ['ProtBuf', () => ProtBuf.from(PASSWORD)],
  ['a protected view', () => ProtBuf.from(PASSWORD), (c) => c.bytes]
]

function contentOf (c) {
  return c instanceof ProtBuf ? Buffer.from(c.bytes) : c.read((bytes) => Buffer.from(bytes))
}

/** Wraps node:crypto[name] so that every heap result it hands back is recorded. */
function capture (name) {
  const original = crypto[name]
  const seen = []
  const asBytes = (r) => (r instanceof ArrayBuffer ? new Uint8Array(r) : r)
  crypto[name] = name.endsWith('Sync')
    ? (...args) => {
        const r = original(...args)
        seen.push(asBytes(r))
        return r
      }
    : (...args) => {
        const cb = args.pop()
        return original(...args, (err, r) => {
          if (r) seen.push(asBytes(r))
          cb(err, r)
        })
      }
  restore.push(() => { crypto[name] = original })
  return seen
}
const restore = []
afterEach(() => { while (restore.length > 0) restore.pop()() })

describe.each(HELPERS)('$name', ({ node, ours, plain }) => {
  const expected = plain(PASSWORD)

  for (const [label, make, view] of INPUTS) {
    it(`derives from a ${label} what Node derives from the same bytes, into each container`, async () => {
      const input = make()
      for (const output of ['ProtKey', 'ProtBuf', 'SealedKey']) {
        const out = await ours(view ? view(input) : input, { output })
        expect(out.constructor.name).toBe(output)
        expect(contentOf(out).equals(expected)).toBe(true)
        out.dispose()
      }
      if (input instanceof ProtKey || input instanceof SealedKey) expect(input.windows).toEqual({ readers: 0, writer: false })
      input.dispose()
    })
  }

  it("wipes Node's heap result before it returns or resolves", async () => {
    const seen = capture(node)
    const key = ProtKey.from(PASSWORD)
    const pending = ours(key)
    // The password's window is closed as soon as the call started (Node copied it).
    expect(key.windows.readers).toBe(0)
    expect(key.protections().access).toBe('none')
    const out = await pending
    expect(seen.length).toBe(1)
    expect(seen[0].byteLength).toBe(expected.length)
    expect(seen[0].every((b) => b === 0)).toBe(true)
    expect(contentOf(out).equals(expected)).toBe(true)
    out.dispose()
    key.dispose()
  })

  it('wipes the heap result when the container cannot be made, and reports why', async () => {
    const seen = capture(node)
    const key = ProtKey.from(PASSWORD)
    const attempt = async () => ours(key, { allocator: { not: 'an allocator' } })
    await expect(attempt()).rejects.toThrow(code('ERR_INVALID_ARG_TYPE'))
    expect(seen.length).toBe(1)
    expect(seen[0].every((b) => b === 0)).toBe(true)
    key.dispose()
  })

  it('refuses a string, an unknown output and a disposed key with typed errors; no window stays open', async () => {
    const key = ProtKey.from(PASSWORD)
    await expect((async () => ours('a string password'))()).rejects.toThrow(code('ERR_INVALID_ARG_TYPE'))
    await expect((async () => ours(key, { output: 'Buffer' }))()).rejects.toThrow(code('ERR_INVALID_ARG_VALUE'))
    await expect((async () => ours(key, 'options'))()).rejects.toThrow(code('ERR_INVALID_ARG_TYPE'))
    expect(key.windows.readers).toBe(0)
    key.dispose()
    await expect((async () => ours(key))()).rejects.toThrow(code('ERR_DISPOSED'))
  })
})

describe('parameters Node refuses', () => {
  it('a bad scrypt cost throws Node\'s typed error and leaves the password window closed', async () => {
    const key = ProtKey.from(PASSWORD)
    expect(() => scryptKeySync(key, 'salt', 32, { N: 3 })).toThrow(code('ERR_CRYPTO_INVALID_SCRYPT_PARAMS'))
    await expect(scryptKey(key, 'salt', 32, { N: 3 })).rejects.toThrow(code('ERR_CRYPTO_INVALID_SCRYPT_PARAMS'))
    await expect(pbkdf2Key(key, 'salt', 1, 32, 'no-such-digest')).rejects.toThrow(code('ERR_CRYPTO_INVALID_DIGEST'))
    expect(key.windows.readers).toBe(0)
    expect(key.protections().access).toBe('none')
    key.dispose()
  })
})

describe('what the async forms rely on', () => {
  it.each(/** @type {Array<[string, (...args: any[]) => void, (p: Buffer) => any]>} */ ([
    ['scrypt', (p, cb) => crypto.scrypt(p, 's', 32, { N: 1024 }, cb), (p) => crypto.scryptSync(p, 's', 32, { N: 1024 })],
    ['pbkdf2', (p, cb) => crypto.pbkdf2(p, 's', 1000, 32, 'sha256', cb), (p) => crypto.pbkdf2Sync(p, 's', 1000, 32, 'sha256')],
    ['hkdf', (p, cb) => crypto.hkdf('sha256', p, 's', 'i', 32, cb), (p) => crypto.hkdfSync('sha256', p, 's', 'i', 32)]
  ]))('Node copies the secret input of %s when the call starts (so the window can close at once)', async (_name, call, sync) => {
    const input = Buffer.from(PASSWORD)
    const want = Buffer.from(sync(Buffer.from(PASSWORD)))
    const got = await new Promise((resolve, reject) => {
      call(input, (err, out) => (err ? reject(err) : resolve(Buffer.from(out))))
      input.fill(0)
    })
    expect(got.equals(want)).toBe(true)
  })
})
