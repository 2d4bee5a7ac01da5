// ProtKey: every constructor and method, on the default page allocator.
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PageAllocator, ProtBuf, ProtKey, SECRETMEM, expectCode, live, pc } from './helpers.mjs'

let made = []
const keep = (c) => { made.push(c); return c }
let baseline
beforeEach(() => { baseline = live(pc.defaultKeyAllocator()) })
afterEach(() => {
  for (const c of made) c.dispose()
  made = []
  expect(live(pc.defaultKeyAllocator())).toEqual(baseline)
})

describe('ProtKey.alloc', () => {
  it('gives a zero-filled key with no access, in pages of its own', () => {
    const key = keep(ProtKey.alloc(32))
    expect(key.byteLength).toBe(32)
    expect(key.allocator).toBe(pc.defaultKeyAllocator())
    expect(pc.defaultKeyAllocator()).toBeInstanceOf(PageAllocator)
    const p = key.protections()
    expect(p).toMatchObject({ access: 'none', isolated: true, guardPages: true, locked: true, noDump: true, canary: true })
    // Where the kernel offers memfd_secret, the default key allocator uses it; otherwise wipe-on-fork.
    expect(p.secretmem).toBe(SECRETMEM)
    expect(p.wipeOnFork).toBe(!SECRETMEM)
    expect(p.dontFork).toBe(SECRETMEM)
    expect(key.windows).toEqual({ readers: 0, writer: false })
    expect(key.read((b) => [b.byteLength, b.buffer.byteLength, b.every((x) => x === 0)])).toEqual([32, 32, true])
  })

  it('counts in the allocator until disposed', () => {
    const a = new PageAllocator({ secretmem: 'off' })
    const key = ProtKey.alloc(100, { allocator: a })
    expect(live(a)).toEqual({ allocations: 1, bytes: 100 })
    key.dispose()
    expect(live(a)).toEqual({ allocations: 0, bytes: 0 })
  })

  it('handles keys of several pages', () => {
    const key = keep(ProtKey.alloc(3 * 4096 + 1))
    key.write((b) => { b[0] = 1; b[b.length - 1] = 2 })
    expect(key.read((b) => [b.length, b[0], b[b.length - 1]])).toEqual([3 * 4096 + 1, 1, 2])
  })
})

describe('ProtKey.random', () => {
  it('fills the key from the CSPRNG and leaves it with no access', () => {
    const a = keep(ProtKey.random(32))
    const b = keep(ProtKey.random(32))
    expect(a.protections().access).toBe('none')
    expect(a.read((x) => x.some((v) => v !== 0))).toBe(true)
    expect(a.equals(b)).toBe(false)
  })
})

describe('ProtKey.from', () => {
  it('copies the source; wipeSource zeroes it (read back)', () => {
    const src = randomBytes(32)
    const secret = Buffer.from(src)
    const kept = keep(ProtKey.from(src))
    expect(src.equals(secret)).toBe(true)
    expect(kept.equals(secret)).toBe(true)
    const wiped = keep(ProtKey.from(src, { wipeSource: true }))
    expect(src.every((x) => x === 0)).toBe(true)
    expect(wiped.equals(secret)).toBe(true)
    expect(wiped.protections().access).toBe('none')
  })

  it('accepts an ArrayBuffer and a DataView', () => {
    const ab = new Uint8Array([5, 6, 7]).buffer
    expect(keep(ProtKey.from(ab)).read((b) => [...b])).toEqual([5, 6, 7])
    expect(keep(ProtKey.from(new DataView(ab, 1))).read((b) => [...b])).toEqual([6, 7])
  })
})

describe('ProtKey#read and #write', () => {
  it('open a window only for the callback and return what it returns', () => {
    const key = keep(ProtKey.random(32))
    const seen = []
    const result = key.read((b) => {
      seen.push(key.protections().access, key.windows.readers, String(key), b.byteLength)
      return 'value'
    })
    expect(result).toBe('value')
    expect(seen).toEqual(['read', 1, 'ProtKey(32 bytes, read window)', 32])
    expect(key.protections().access).toBe('none')
    expect(key.windows).toEqual({ readers: 0, writer: false })
  })

  it('write changes the key; read sees the change', () => {
    const key = keep(ProtKey.alloc(4))
    const out = key.write((b) => {
      expect(key.protections().access).toBe('readwrite')
      expect(key.windows).toEqual({ readers: 0, writer: true })
      expect(String(key)).toBe('ProtKey(4 bytes, read-write window)')
      b.set([1, 2, 3, 4])
      return b.length
    })
    expect(out).toBe(4)
    expect(key.read((b) => [...b])).toEqual([1, 2, 3, 4])
    expect(key.protections().access).toBe('none')
  })

  it('close the window when the callback throws, and rethrow', () => {
    const key = keep(ProtKey.random(16))
    const boom = new Error('boom')
    expect(() => key.read(() => { throw boom })).toThrow(boom)
    expect(key.protections().access).toBe('none')
    expect(() => key.write(() => { throw boom })).toThrow(boom)
    expect(key.protections().access).toBe('none')
    expect(key.windows).toEqual({ readers: 0, writer: false })
    expect(key.read((b) => b.length)).toBe(16)
  })

  it('give a fresh view per window; the previous one is detached', () => {
    const key = keep(ProtKey.random(32))
    const first = key.read((b) => b)
    let same = null
    const second = key.read((b) => { same = b === first; return b })
    expect(same).toBe(false)
    expect(first.byteLength).toBe(0)
    expect(second.byteLength).toBe(0)
    expect(first[0]).toBeUndefined()
  })
})

describe('ProtKey#reader and #writer', () => {
  it('are windows with bytes, closed, close() and [Symbol.dispose]', () => {
    const key = keep(ProtKey.random(32))
    const r = key.reader()
    expect(r.closed).toBe(false)
    expect(r.bytes.byteLength).toBe(32)
    expect(key.protections().access).toBe('read')
    r.close()
    expect(r.closed).toBe(true)
    expect(r.bytes.byteLength).toBe(0)
    expect(key.protections().access).toBe('none')
    r.close() // idempotent
    r[Symbol.dispose]()
    expect(key.windows).toEqual({ readers: 0, writer: false })

    const w = key.writer()
    w.bytes.fill(7)
    expect(key.protections().access).toBe('readwrite')
    w[Symbol.dispose]()
    expect(w.closed).toBe(true)
    expect(w.bytes.byteLength).toBe(0)
    expect(key.protections().access).toBe('none')
    w.close()
    expect(key.read((b) => b.every((x) => x === 7))).toBe(true)
  })
})

describe('ProtKey#equals', () => {
  it('compares with another key (any allocator) and with plain bytes, in constant time windows', () => {
    const secret = randomBytes(32)
    const a = keep(ProtKey.from(secret))
    const b = keep(ProtKey.from(secret, { allocator: new PageAllocator({ secretmem: 'off' }) }))
    expect(a.equals(b)).toBe(true)
    expect(b.equals(a)).toBe(true)
    expect(a.equals(a)).toBe(true)
    expect(a.equals(secret)).toBe(true)
    const flipped = Buffer.from(secret)
    flipped[17] ^= 4
    expect(a.equals(flipped)).toBe(false)
    expect(a.equals(keep(ProtKey.from(flipped)))).toBe(false)
    // Both keys are closed again afterwards.
    expect(a.protections().access).toBe('none')
    expect(b.protections().access).toBe('none')
  })

  it('returns false for a length mismatch', () => {
    const secret = randomBytes(32)
    const a = keep(ProtKey.from(secret))
    expect(a.equals(secret.subarray(0, 31))).toBe(false)
    expect(a.equals(Buffer.concat([secret, Buffer.from([0])]))).toBe(false)
    expect(a.equals(keep(ProtKey.from(secret.subarray(0, 16))))).toBe(false)
  })

  it('works inside a read window of either key (reads nest) and refuses inside a write window', () => {
    const secret = randomBytes(32)
    const a = keep(ProtKey.from(secret))
    const b = keep(ProtKey.from(secret))
    expect(a.read(() => a.equals(b))).toBe(true)
    expect(b.read(() => a.equals(b))).toBe(true)
    expect(a.protections().access).toBe('none')
    a.write(() => expectCode(() => a.equals(b), 'ERR_WINDOW_CONFLICT'))
    expect(a.equals(b)).toBe(true)
  })

  it('refuses a ProtBuf or a non-view', () => {
    const a = keep(ProtKey.random(32))
    const buf = keep(ProtBuf.random(32))
    for (const other of [buf, 'x', 1, null, undefined, new ArrayBuffer(32), [1, 2]]) {
      expectCode(() => a.equals(other), 'ERR_INVALID_ARG_TYPE', 'TypeError')
    }
    expect(a.protections().access).toBe('none')
  })
})

describe('ProtKey state', () => {
  it('windows reports nesting; protections reports access; printing shows length and state', () => {
    const key = ProtKey.random(32)
    expect(String(key)).toBe('ProtKey(32 bytes, no access)')
    key.read(() => key.read(() => {
      expect(key.windows).toEqual({ readers: 2, writer: false })
    }))
    key.dispose()
    expect(String(key)).toBe('ProtKey(32 bytes, disposed)')
    expect(key.disposed).toBe(true)
    expect(key.windows).toEqual({ readers: 0, writer: false })
  })
})
