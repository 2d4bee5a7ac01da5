// A container never turns into key material by accident: every conversion
// that would hand its description (or nothing) to a crypto API as if it were
// the key throws ERR_SECRET_COERCION, saying what to do; the printing paths
// stay redacted; and the container is intact afterwards.
import { createHmac, createSecretKey } from 'node:crypto'
import { format, inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { ProtBuf, ProtKey, SealedKey } from '../dist/index.js'

const SECRET = Buffer.from('a9f1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1', 'hex')
const code = (c) => expect.objectContaining({ code: c })

/** @type {Array<[string, () => any, string]>} */
const MAKERS = [
  ['ProtKey', () => ProtKey.from(SECRET), 'read('],
  ['ProtBuf', () => ProtBuf.from(SECRET), 'buf.bytes'],
  ['SealedKey', () => SealedKey.from(SECRET), 'read(']
]

/** Each conversion that would make key material out of the container itself. */
const COERCIONS = {
  'Buffer.from(x)': (x) => Buffer.from(x),
  'Buffer.from(x, "utf8")': (x) => Buffer.from(x, 'utf8'),
  'new Uint8Array(x)': (x) => new Uint8Array(x),
  'Uint8Array.from(x)': (x) => Uint8Array.from(x),
  'Array.from(x)': (x) => Array.from(x),
  '[...x]': (x) => [...x],
  'for of': (x) => { for (const b of x) return b },
  'Array.prototype.slice.call(x)': (x) => Array.prototype.slice.call(x),
  'x.valueOf()': (x) => x.valueOf(),
  'x.length': (x) => x.length,
  '+x': (x) => +x,
  'Number(x)': (x) => Number(x),
  'x + ""': (x) => x + '',
  '"k=" + x': (x) => 'k=' + x,
  // Loose equality on purpose: it is one of the coercions a secret must refuse.
  'x == 1': (x) => x == 1, // eslint-disable-line eqeqeq
  "util.format('%d', x)": (x) => format('%d', x)
}

describe.each(MAKERS)('%s', (name, make, remedy) => {
  for (const [label, convert] of Object.entries(COERCIONS)) {
    it(`${label} throws ERR_SECRET_COERCION with a remedy; the container is intact`, () => {
      const x = make()
      let thrown = null
      try {
        convert(x)
      } catch (err) {
        thrown = err
      }
      expect(thrown).toEqual(code('ERR_SECRET_COERCION'))
      expect(thrown.message).toContain(name)
      expect(thrown.message).toContain(remedy)
      expect(thrown.message).not.toContain(SECRET.toString('hex').slice(0, 8))
      const content = name === 'ProtBuf' ? Buffer.from(x.bytes) : x.read((bytes) => Buffer.from(bytes))
      expect(content.equals(SECRET)).toBe(true)
      x.dispose()
    })
  }

  it('a key has no .bytes: ERR_SECRET_COERCION (ProtBuf keeps its view)', () => {
    const x = make()
    if (name === 'ProtBuf') expect(x.bytes.byteLength).toBe(32)
    else expect(() => x.bytes).toThrow(code('ERR_SECRET_COERCION'))
    x.dispose()
  })

  it("Node's crypto refuses the container itself (createHmac, createSecretKey) and its error shows no bytes", () => {
    const x = make()
    for (const use of [() => createHmac('sha256', x), () => createSecretKey(x)]) {
      let thrown = null
      try {
        use()
      } catch (err) {
        thrown = err
      }
      expect(thrown?.code).toBe('ERR_INVALID_ARG_TYPE')
      expect(thrown.message).toContain(`an instance of ${name}`)
      expect(thrown.message).not.toContain(SECRET.toString('hex').slice(0, 8))
    }
    x.dispose()
  })

  it('String() and template literals give the redacted description (documented): a jose-style encode holds no key byte', () => {
    const x = make()
    const description = String(x)
    expect(`${x}`).toBe(description)
    expect(description).toMatch(new RegExp(`^${name}\\(32 bytes, [a-z -]+\\)$`))
    const encoded = new TextEncoder().encode(`${x}`)
    expect(Buffer.from(encoded).toString()).toBe(description)
    expect(Buffer.from(encoded).includes(SECRET.subarray(0, 4))).toBe(false)
    // An HMAC keyed that way is not the HMAC with the key: the mistake is visible at the first verification.
    const wrong = createHmac('sha256', encoded).update('m').digest('hex')
    const right = name === 'ProtBuf' ? createHmac('sha256', x.bytes).update('m').digest('hex') : x.read((k) => createHmac('sha256', k).update('m').digest('hex'))
    expect(wrong).not.toBe(right)
    expect(inspect(x)).toBe(description)
    expect(JSON.stringify({ x })).toBe(JSON.stringify({ x: description }))
    expect(format('%s', x)).toBe(description)
    x.dispose()
  })
})

describe('windows', () => {
  it('a window guard refuses the same coercions; its bytes are the way in', async () => {
    const key = ProtKey.from(SECRET)
    const sync = key.reader()
    const later = key.readerAsync()
    for (const w of [sync, later]) {
      for (const convert of [COERCIONS['Buffer.from(x)'], COERCIONS['[...x]'], COERCIONS['+x'], COERCIONS['x + ""'], COERCIONS['x.length']]) {
        expect(() => convert(w)).toThrow(expect.objectContaining({ code: 'ERR_SECRET_COERCION', message: expect.stringContaining('window.bytes') }))
      }
      expect(`${w}`).toMatch(/read window\(32 bytes, open\)$/)
      expect(Buffer.from(w.bytes).equals(SECRET)).toBe(true)
    }
    sync.close()
    await later[Symbol.asyncDispose]()
    key.dispose()
  })
})
