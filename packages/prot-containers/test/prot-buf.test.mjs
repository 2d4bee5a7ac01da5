// ProtBuf: every constructor and method, on the default slot allocator.
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PageAllocator, ProtBuf, ProtKey, SlotAllocator, expectCode, live, pa, pc } from './helpers.mjs'

const TYPES = [Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array]

let made = []
const keep = (c) => { made.push(c); return c }
let baseline
beforeEach(() => { baseline = live(pc.defaultBufAllocator()) })
afterEach(() => {
  for (const c of made) c.dispose()
  made = []
  // Every test disposes what it made: the default allocator is back where it was.
  expect(live(pc.defaultBufAllocator())).toEqual(baseline)
})

describe('ProtBuf.alloc', () => {
  it('gives zero-filled, writable bytes of exactly the length, in an ArrayBuffer of exactly that size', () => {
    for (const n of [1, 15, 16, 32, 33, 2048]) {
      const buf = keep(ProtBuf.alloc(n))
      expect(buf.byteLength).toBe(n)
      expect(buf.bytes.byteLength).toBe(n)
      expect(buf.bytes.byteOffset).toBe(0)
      expect(buf.bytes.buffer.byteLength).toBe(n) // never a slice of a shared page
      expect(buf.bytes.every((b) => b === 0)).toBe(true)
      buf.bytes.fill(0xa5)
      expect(buf.bytes.every((b) => b === 0xa5)).toBe(true)
    }
  })

  it('returns the same view every time while alive', () => {
    const buf = keep(ProtBuf.alloc(32))
    expect(buf.bytes).toBe(buf.bytes)
  })

  it('uses the default slot allocator and counts in its stats until disposed', () => {
    const a = pc.defaultBufAllocator()
    expect(a).toBeInstanceOf(SlotAllocator)
    expect(pc.defaultBufAllocator()).toBe(a)
    const before = live(a)
    const buf = ProtBuf.alloc(40)
    expect(buf.allocator).toBe(a)
    expect(live(a)).toEqual({ allocations: before.allocations + 1, bytes: before.bytes + 40 })
    buf.dispose()
    expect(live(a)).toEqual(before)
  })

  it('reports the protections it actually has: packed slot, locked, no-dump, wipe-on-fork, guard pages', () => {
    const buf = keep(ProtBuf.alloc(30))
    const p = buf.protections()
    expect(p).toMatchObject({ locked: true, noDump: true, wipeOnFork: true, guardPages: true, isolated: false, access: 'readwrite', canary: true })
    // 32 bytes fill a 32-byte slot exactly: no slack, so no canary, and that is reported.
    expect(keep(ProtBuf.alloc(32)).protections().canary).toBe(false)
  })

  it('puts secrets larger than half a page in pages of their own (still via the slot allocator)', () => {
    const buf = keep(ProtBuf.alloc(pa.MAX_SLOT + 1))
    expect(buf.allocator).toBe(pc.defaultBufAllocator())
    expect(buf.protections()).toMatchObject({ isolated: true, guardPages: true, access: 'readwrite' })
    expect(buf.bytes.buffer.byteLength).toBe(pa.MAX_SLOT + 1)
  })

  it('takes any allocator by option', () => {
    const a = new PageAllocator({ secretmem: 'off' })
    const buf = keep(ProtBuf.alloc(32, { allocator: a }))
    expect(buf.allocator).toBe(a)
    expect(a.stats().allocations).toBe(1)
    expect(buf.protections()).toMatchObject({ isolated: true, secretmem: false, wipeOnFork: true })
  })
})

describe('ProtBuf.random', () => {
  it('fills the buffer from the CSPRNG; two buffers differ', () => {
    const a = keep(ProtBuf.random(32))
    const b = keep(ProtBuf.random(32))
    expect(a.byteLength).toBe(32)
    expect(a.bytes.some((x) => x !== 0)).toBe(true)
    expect(a.equals(b)).toBe(false)
  })

  it('fills every byte of a long buffer (not only the first page)', () => {
    const buf = keep(ProtBuf.random(3 * 4096 + 5))
    // 512 zero bytes in a row at the end would mean the tail was never written.
    expect(buf.bytes.subarray(-512).some((x) => x !== 0)).toBe(true)
  })
})

describe('ProtBuf.from', () => {
  it('copies the source and leaves it untouched by default', () => {
    const src = randomBytes(48)
    const copy = Buffer.from(src)
    const buf = keep(ProtBuf.from(src))
    expect(Buffer.from(buf.bytes).equals(copy)).toBe(true)
    expect(src.equals(copy)).toBe(true)
  })

  it('with wipeSource: true zeroes exactly the source bytes (reading the source back)', () => {
    const backing = Buffer.from(randomBytes(64))
    const outside = Buffer.from(backing)
    const src = backing.subarray(8, 40) // a view in the middle of a larger buffer
    const secret = Buffer.from(src)
    const buf = keep(ProtBuf.from(src, { wipeSource: true }))
    expect(Buffer.from(buf.bytes).equals(secret)).toBe(true)
    expect(src.every((b) => b === 0)).toBe(true)
    // The neighbours of the view are not touched.
    expect(backing.subarray(0, 8).equals(outside.subarray(0, 8))).toBe(true)
    expect(backing.subarray(40).equals(outside.subarray(40))).toBe(true)
  })

  it('with wipeSource: false leaves the source', () => {
    const src = randomBytes(16)
    const copy = Buffer.from(src)
    keep(ProtBuf.from(src, { wipeSource: false }))
    expect(src.equals(copy)).toBe(true)
  })

  it('accepts an ArrayBuffer, a DataView and wider typed arrays (as their bytes)', () => {
    const ab = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer
    expect([...keep(ProtBuf.from(ab)).bytes]).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect([...keep(ProtBuf.from(new DataView(ab, 2, 3))).bytes]).toEqual([3, 4, 5])
    const u16 = new Uint16Array([0x0201, 0x0403])
    expect([...keep(ProtBuf.from(u16)).bytes]).toEqual([1, 2, 3, 4])
    const ab2 = new Uint8Array([9, 9, 9, 9]).buffer
    keep(ProtBuf.from(ab2, { wipeSource: true }))
    expect([...new Uint8Array(ab2)]).toEqual([0, 0, 0, 0])
  })

  it('copies from another container without a heap copy in between', () => {
    const a = keep(ProtBuf.random(32))
    const b = keep(ProtBuf.from(a.bytes))
    expect(b.equals(a)).toBe(true)
    const key = ProtKey.random(32)
    try {
      const c = keep(key.read((bytes) => ProtBuf.from(bytes)))
      expect(key.equals(c.bytes)).toBe(true)
      // A view kept past its window is detached: it holds no bytes, and that is a typed error.
      const stale = key.read((bytes) => bytes)
      expectCode(() => ProtBuf.from(stale), 'ERR_OUT_OF_RANGE', 'RangeError')
    } finally {
      key.dispose()
    }
  })
})

describe('ProtBuf#view', () => {
  it('views the same memory as any element type whose size divides the length', () => {
    const buf = keep(ProtBuf.alloc(64))
    for (const T of TYPES) {
      const v = buf.view(T)
      expect(v).toBeInstanceOf(T)
      expect(v.length).toBe(64 / T.BYTES_PER_ELEMENT)
      expect(v.buffer.byteLength).toBe(64)
    }
    const f64 = buf.view(Float64Array)
    f64[1] = Math.PI
    expect(buf.view(Float64Array)[1]).toBe(Math.PI)
    expect(Buffer.from(buf.bytes.subarray(8, 16)).readDoubleLE(0)).toBe(Math.PI)
    const big = buf.view(BigUint64Array)
    big[7] = 0x0102030405060708n
    expect(buf.bytes[56]).toBe(8)
    expect(buf.bytes[63]).toBe(1)
  })

  it('refuses a length that is not a whole number of elements (ERR_ALIGNMENT) and stays usable', () => {
    const buf = keep(ProtBuf.random(30))
    expectCode(() => buf.view(Uint32Array), 'ERR_ALIGNMENT', 'ContainerError')
    expectCode(() => buf.view(Float64Array), 'ERR_ALIGNMENT')
    expectCode(() => keep(ProtBuf.alloc(33)).view(Uint16Array), 'ERR_ALIGNMENT')
    expect(buf.view(Uint16Array).length).toBe(15)
    expect(buf.bytes.byteLength).toBe(30)
  })

  it('refuses an element size the allocator does not align to (ERR_ALIGNMENT)', () => {
    const by2 = new PageAllocator({ secretmem: 'off', alignment: 2 })
    const by4 = new PageAllocator({ secretmem: 'off', alignment: 4 })
    const by8 = new PageAllocator({ secretmem: 'off', alignment: 8 })
    const a = keep(ProtBuf.alloc(64, { allocator: by2 }))
    expect(a.view(Uint16Array).length).toBe(32)
    expectCode(() => a.view(Uint32Array), 'ERR_ALIGNMENT')
    const b = keep(ProtBuf.alloc(64, { allocator: by4 }))
    expect(b.view(Float32Array).length).toBe(16)
    expectCode(() => b.view(Float64Array), 'ERR_ALIGNMENT')
    expectCode(() => b.view(BigInt64Array), 'ERR_ALIGNMENT')
    const c = keep(ProtBuf.alloc(64, { allocator: by8 }))
    expect(c.view(BigInt64Array).length).toBe(8)
    // The data really is aligned as promised: a Float64Array over an external buffer needs no copy.
    expect(c.view(Float64Array).buffer).toBe(c.bytes.buffer)
  })

  it('refuses anything that is not one of the typed array constructors', () => {
    const buf = keep(ProtBuf.alloc(16))
    for (const t of [DataView, Buffer, Uint8ClampedArray, Array, 'Uint8Array', undefined, null, {}, () => {}]) {
      expectCode(() => buf.view(t), 'ERR_INVALID_ARG_TYPE', 'TypeError')
    }
  })
})

describe('ProtBuf#equals', () => {
  it('compares with another ProtBuf and with plain bytes', () => {
    const secret = randomBytes(32)
    const a = keep(ProtBuf.from(secret))
    const b = keep(ProtBuf.from(secret))
    expect(a.equals(b)).toBe(true)
    expect(a.equals(a)).toBe(true)
    expect(a.equals(secret)).toBe(true)
    expect(a.equals(new Uint8Array(secret))).toBe(true)
    expect(a.equals(new DataView(secret.buffer, secret.byteOffset, 32))).toBe(true)
    const last = Buffer.from(secret)
    last[31] ^= 1
    expect(a.equals(last)).toBe(false)
    const first = Buffer.from(secret)
    first[0] ^= 0x80
    expect(a.equals(keep(ProtBuf.from(first)))).toBe(false)
  })

  it('returns false for a length mismatch (a prefix is not equal)', () => {
    const secret = randomBytes(32)
    const a = keep(ProtBuf.from(secret))
    expect(a.equals(secret.subarray(0, 31))).toBe(false)
    expect(a.equals(Buffer.concat([secret, Buffer.alloc(1)]))).toBe(false)
    expect(a.equals(keep(ProtBuf.from(secret.subarray(0, 16))))).toBe(false)
    expect(a.equals(new Uint8Array(0))).toBe(false)
  })

  it('compares buffers from different allocators by content', () => {
    const secret = randomBytes(100)
    const a = keep(ProtBuf.from(secret))
    const b = keep(ProtBuf.from(secret, { allocator: new PageAllocator({ secretmem: 'off' }) }))
    expect(a.equals(b)).toBe(true)
    expect(b.equals(a)).toBe(true)
  })
})

describe('ProtBuf#clone', () => {
  it('copies into new memory from the same allocator', () => {
    const a = keep(ProtBuf.random(32))
    const before = live(a.allocator)
    const b = keep(a.clone())
    expect(live(a.allocator).allocations).toBe(before.allocations + 1)
    expect(b.allocator).toBe(a.allocator)
    expect(b.equals(a)).toBe(true)
    expect(b.bytes.buffer).not.toBe(a.bytes.buffer)
    b.bytes[0] ^= 0xff
    expect(b.equals(a)).toBe(false)
    a.dispose()
    expect(b.bytes.byteLength).toBe(32) // independent of the original
  })
})

describe('ProtBuf#toKey', () => {
  it('moves the content into a no-access ProtKey and disposes the buffer', () => {
    const secret = randomBytes(32)
    const buf = ProtBuf.from(secret)
    const view = buf.bytes
    const key = buf.toKey()
    try {
      expect(key).toBeInstanceOf(ProtKey)
      expect(buf.disposed).toBe(true)
      expect(view.byteLength).toBe(0) // the buffer's memory is gone (wiped and freed)
      expect(key.protections().access).toBe('none')
      expect(key.equals(secret)).toBe(true)
      expect(key.allocator).toBe(pc.defaultKeyAllocator())
    } finally {
      key.dispose()
    }
  })

  it('passes options to the key; a refused allocator leaves the buffer intact', () => {
    const secret = randomBytes(32)
    const buf = keep(ProtBuf.from(secret))
    const slot = new SlotAllocator()
    expectCode(() => buf.toKey({ allocator: slot }), 'ERR_NOT_ISOLATED')
    expect(buf.disposed).toBe(false)
    expect(buf.equals(secret)).toBe(true)
    expect(live(slot)).toEqual({ allocations: 0, bytes: 0 })
    const page = new PageAllocator({ secretmem: 'off' })
    const key = buf.toKey({ allocator: page })
    expect(key.allocator).toBe(page)
    expect(key.equals(secret)).toBe(true)
    key.dispose()
    expect(live(page)).toEqual({ allocations: 0, bytes: 0 })
  })
})

describe('ProtBuf printing and state', () => {
  it('describes itself by length and state only', () => {
    const buf = ProtBuf.random(32)
    expect(String(buf)).toBe('ProtBuf(32 bytes, read-write)')
    expect(buf.disposed).toBe(false)
    buf.dispose()
    expect(String(buf)).toBe('ProtBuf(32 bytes, disposed)')
    expect(buf.disposed).toBe(true)
    expect(buf.byteLength).toBe(32)
  })
})
