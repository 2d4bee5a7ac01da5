// wipe, fill, copy and equals: results read back through fresh views, equals
// checked against Buffer.compare on random input, and protected ranges refused.
import { randomBytes, randomInt } from 'node:crypto'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { PS, assertWorks, m, protectedErr, readAll } from './helpers.mjs'

const SIZE = 4 * PS
const a = m.map(SIZE)
const b = m.map(SIZE)
afterAll(() => {
  m.unmap(a)
  m.unmap(b)
})

/** Writes bytes into a region through a temporary view. */
function put (region, offset, bytes) {
  if (bytes.length === 0) return // a view is at least one byte long
  const ab = m.view(region, offset, bytes.length)
  new Uint8Array(ab).set(bytes)
  m.detach(ab)
}

beforeEach(() => {
  put(a, 0, randomBytes(SIZE))
  put(b, 0, randomBytes(SIZE))
})

describe('wipe', () => {
  it('zeroes exactly the range of a region, across page boundaries', () => {
    const before = readAll(a)
    m.wipe(a, PS - 10, PS + 20)
    const after = readAll(a)
    expect(after.subarray(PS - 10, 2 * PS + 10).every((x) => x === 0)).toBe(true)
    expect(after.subarray(0, PS - 10).equals(before.subarray(0, PS - 10))).toBe(true)
    expect(after.subarray(2 * PS + 10).equals(before.subarray(2 * PS + 10))).toBe(true)
  })

  it('defaults to the rest of the region, then to all of it', () => {
    m.wipe(a, SIZE - 100)
    const after = readAll(a)
    expect(after.subarray(SIZE - 100).every((x) => x === 0)).toBe(true)
    expect(after.subarray(0, SIZE - 100).some((x) => x !== 0)).toBe(true)
    m.wipe(a)
    expect(readAll(a).every((x) => x === 0)).toBe(true)
  })

  it('zeroes a plain Buffer, whole or a range', () => {
    const buf = randomBytes(64)
    const copy = Buffer.from(buf)
    m.wipe(buf, 8, 16)
    expect(buf.subarray(8, 24).every((x) => x === 0)).toBe(true)
    expect(buf.subarray(0, 8).equals(copy.subarray(0, 8))).toBe(true)
    expect(buf.subarray(24).equals(copy.subarray(24))).toBe(true)
    m.wipe(buf)
    expect(buf.every((x) => x === 0)).toBe(true)
  })

  it('acts on exactly the bytes of a view into a larger buffer, never its neighbours', () => {
    const backing = new Uint8Array(randomBytes(64))
    const snapshot = backing.slice()
    const inner = new Uint32Array(backing.buffer, 16, 4) // bytes 16..31
    m.wipe(inner)
    expect(backing.subarray(16, 32).every((x) => x === 0)).toBe(true)
    expect(backing.subarray(0, 16)).toEqual(snapshot.subarray(0, 16))
    expect(backing.subarray(32)).toEqual(snapshot.subarray(32))
    const dv = new DataView(backing.buffer, 40, 8)
    m.wipe(dv, 2, 3) // offsets count bytes within the view
    expect([...backing.subarray(40, 48)]).toEqual([snapshot[40], snapshot[41], 0, 0, 0, snapshot[45], snapshot[46], snapshot[47]])
  })

  it('wipes a view obtained from the region, seen through another view', () => {
    const v1 = new Uint8Array(m.view(a, 100, 50))
    const v2 = new Uint8Array(m.view(a, 100, 50))
    m.wipe(v1)
    expect(v2.every((x) => x === 0)).toBe(true)
    m.detach(v1.buffer)
    m.detach(v2.buffer)
  })
})

describe('fill', () => {
  it('sets exactly the range to the byte, read back through a fresh view', () => {
    m.wipe(a)
    m.fill(a, 10, 2 * PS, 0xdb)
    const after = readAll(a)
    expect(after.subarray(10, 10 + 2 * PS).every((x) => x === 0xdb)).toBe(true)
    expect(after.subarray(0, 10).every((x) => x === 0)).toBe(true)
    expect(after.subarray(10 + 2 * PS).every((x) => x === 0)).toBe(true)
  })

  it('takes every byte value 0..255', () => {
    for (let v = 0; v < 256; v++) m.fill(a, v, 1, v)
    const got = readAll(a, 0, 256)
    expect([...got]).toEqual(Array.from({ length: 256 }, (_, i) => i))
  })
})

describe('copy', () => {
  it('region to region', () => {
    const src = readAll(a, 123, 3000)
    m.copy(a, 123, b, 1000, 3000)
    expect(readAll(b, 1000, 3000).equals(src)).toBe(true)
  })

  it('Buffer to region, and region to Buffer', () => {
    const data = randomBytes(777)
    m.copy(data, 0, a, PS - 300, 777)
    expect(readAll(a, PS - 300, 777).equals(data)).toBe(true)
    const out = Buffer.alloc(800)
    m.copy(a, PS - 300, out, 23, 777)
    expect(out.subarray(23).equals(data)).toBe(true)
    expect(out.subarray(0, 23).every((x) => x === 0)).toBe(true)
  })

  it('overlapping ranges of one region behave like memmove', () => {
    const before = readAll(a, 0, 200)
    m.copy(a, 0, a, 50, 150)
    expect(readAll(a, 50, 150).equals(before.subarray(0, 150))).toBe(true)
    expect(readAll(a, 0, 50).equals(before.subarray(0, 50))).toBe(true)
  })

  it('Buffer to Buffer, with offsets', () => {
    const src = randomBytes(32)
    const dst = Buffer.alloc(32)
    m.copy(src, 4, dst, 8, 16)
    expect(dst.subarray(8, 24).equals(src.subarray(4, 20))).toBe(true)
  })
})

describe('equals', () => {
  it('agrees with Buffer.compare on 3000 random pairs (region/region, region/Buffer, Buffer/Buffer)', () => {
    let equalCount = 0
    for (let i = 0; i < 3000; i++) {
      const len = randomInt(0, 200)
      const x = randomBytes(len)
      let y
      switch (randomInt(0, 3)) {
        case 0: y = Buffer.from(x); break
        case 1: y = randomBytes(len); break
        default:
          y = Buffer.from(x)
          if (len > 0) y[randomInt(0, len)] ^= 1 << randomInt(0, 8) // one bit differs
      }
      const ao = randomInt(0, SIZE - len + 1)
      const bo = randomInt(0, SIZE - len + 1)
      put(a, ao, x)
      put(b, bo, y)
      const expected = Buffer.compare(x, y) === 0
      if (expected) equalCount++
      expect(m.equals(a, ao, b, bo, len)).toBe(expected)
      expect(m.equals(b, bo, a, ao, len)).toBe(expected)
      expect(m.equals(a, ao, y, 0, len)).toBe(expected)
      expect(m.equals(x, 0, b, bo, len)).toBe(expected)
      expect(m.equals(x, 0, y, 0, len)).toBe(expected)
    }
    // both outcomes were exercised many times
    expect(equalCount).toBeGreaterThan(500)
    expect(equalCount).toBeLessThan(2500)
  })

  it('length 0 is always equal; length 1 sees every single-bit difference', () => {
    expect(m.equals(a, 0, b, 0, 0)).toBe(true)
    expect(m.equals(Buffer.from([1]), 0, Buffer.from([2]), 0, 0)).toBe(true)
    for (let v = 0; v < 256; v++) {
      m.fill(a, 5, 1, v)
      for (let bit = 0; bit < 8; bit++) {
        m.fill(b, 9, 1, v ^ (1 << bit))
        expect(m.equals(a, 5, b, 9, 1)).toBe(false)
      }
      m.fill(b, 9, 1, v)
      expect(m.equals(a, 5, b, 9, 1)).toBe(true)
      expect(m.equals(a, 5, Buffer.from([v]), 0, 1)).toBe(true)
    }
  })

  it('sees a difference in the very last byte of a whole region', () => {
    m.copy(a, 0, b, 0, SIZE)
    expect(m.equals(a, 0, b, 0, SIZE)).toBe(true)
    m.fill(b, SIZE - 1, 1, ~readAll(a, SIZE - 1, 1)[0] & 0xff)
    expect(m.equals(a, 0, b, 0, SIZE)).toBe(false)
    expect(m.equals(a, 0, b, 0, SIZE - 1)).toBe(true)
  })
})

describe('protected ranges are refused, not faulted on', () => {
  it("'none': wipe, fill, copy (either side), equals (either side) and view throw ERR_REGION_PROTECTED", () => {
    const r = m.map(3 * PS)
    const buf = Buffer.alloc(16)
    m.protect(r, PS, PS, 'none')
    const off = PS + 5 // inside the protected page
    protectedErr(() => m.wipe(r, off, 1))
    protectedErr(() => m.wipe(r)) // a range that includes it
    protectedErr(() => m.fill(r, off, 1, 0))
    protectedErr(() => m.fill(r, PS - 1, 2, 0)) // straddles into it
    protectedErr(() => m.copy(r, off, buf, 0, 1))
    protectedErr(() => m.copy(buf, 0, r, off, 1))
    protectedErr(() => m.copy(r, 0, r, off, 1))
    protectedErr(() => m.equals(r, off, buf, 0, 1))
    protectedErr(() => m.equals(buf, 0, r, off, 1))
    protectedErr(() => m.view(r, off, 1))
    protectedErr(() => m.view(r, 2 * PS - 1, 2)) // straddles out of it
    // the pages around it are untouched and still usable
    assertWorks(r, 0)
    assertWorks(r, 2 * PS)
    m.protect(r, PS, PS, 'readwrite')
    assertWorks(r, PS)
    m.unmap(r)
  })

  it("'read': reads (equals, view, copy from) work; writes (wipe, fill, copy into) throw ERR_REGION_PROTECTED", () => {
    const r = m.map(2 * PS)
    m.fill(r, 0, 2 * PS, 0x11)
    m.protect(r, 0, PS, 'read')
    protectedErr(() => m.wipe(r, 0, 1))
    protectedErr(() => m.fill(r, 10, 1, 0))
    protectedErr(() => m.copy(Buffer.alloc(4), 0, r, 0, 4))
    protectedErr(() => m.copy(r, PS, r, PS - 2, 4))
    expect(m.equals(r, 0, Buffer.alloc(4, 0x11), 0, 4)).toBe(true)
    const v = new Uint8Array(m.view(r, 0, 4))
    expect([...v]).toEqual([0x11, 0x11, 0x11, 0x11])
    const out = Buffer.alloc(4)
    m.copy(r, 0, out, 0, 4)
    expect([...out]).toEqual([0x11, 0x11, 0x11, 0x11])
    // the protection change kept the bytes, and the view stays attached
    m.protect(r, 0, PS, 'readwrite')
    m.fill(r, 0, 1, 0x22)
    expect(v[0]).toBe(0x22)
    m.unmap(r)
    expect(v.length).toBe(0)
  })
})
