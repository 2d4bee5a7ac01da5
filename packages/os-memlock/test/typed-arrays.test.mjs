// Every typed array kind this runtime has, and DataView, with its true element
// size: wipe, equals, copy, lock and unlock act on exactly the view's bytes,
// over the heap and over a region, and the bytes next to the view stay as
// they were. (Node 24 and 26 have Float16Array: 2 bytes, not 8.)
import { afterAll, describe, expect, it } from 'vitest'
import { PS, m, rangeErr } from './helpers.mjs'

const KINDS = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  ...(typeof globalThis.Float16Array === 'function' ? [globalThis.Float16Array] : [])
]
const OFFSET = 16 // a multiple of every element size
const SPAN = 64

/** A typed array (or DataView) of `kind` over `ab` from OFFSET, 3 elements long (a DataView: 5 bytes). */
function over (kind, ab) {
  return kind === DataView ? new DataView(ab, OFFSET, 5) : new kind(ab, OFFSET, 3)
}

const expectBytes = (ab, from, to, value, outside) => {
  const u = new Uint8Array(ab, 0, SPAN)
  for (let i = 0; i < SPAN; i++) expect(u[i], `byte ${i}`).toBe(i >= from && i < to ? value : outside)
}

const kinds = [...KINDS, DataView].map((k) => [k.name, k])

describe('typed array kinds', () => {
  const r = m.map(PS)
  afterAll(() => m.unmap(r))

  it('the list covers every typed array constructor of this runtime', () => {
    const names = Object.getOwnPropertyNames(globalThis).filter((n) => /^(Big)?(Int|Uint|Float)\d+(Clamped)?Array$/.test(n))
    expect(KINDS.map((k) => k.name).sort()).toEqual(names.sort())
  })

  /** @type {Array<[string, () => ArrayBuffer]>} */
  const sources = [
    ['the heap', () => new ArrayBuffer(SPAN)],
    ['a region', () => m.view(r, 128, SPAN)]
  ]

  for (const [where, make] of sources) {
    describe(`over ${where}`, () => {
      it.each(kinds)('%s: wipe zeroes exactly its bytes', (_name, kind) => {
        const ab = make()
        new Uint8Array(ab).fill(0xaa)
        const v = over(kind, ab)
        m.wipe(v)
        expectBytes(ab, OFFSET, OFFSET + v.byteLength, 0, 0xaa)
        new Uint8Array(ab).fill(0xaa)
        m.wipe(v, 1, v.byteLength - 2) // offsets count bytes
        expectBytes(ab, OFFSET + 1, OFFSET + v.byteLength - 1, 0, 0xaa)
        rangeErr(() => m.wipe(v, 0, v.byteLength + 1))
        rangeErr(() => m.wipe(v, v.byteLength + 1))
        expectBytes(ab, OFFSET + 1, OFFSET + v.byteLength - 1, 0, 0xaa)
      })

      it.each(kinds)('%s: equals compares exactly its bytes', (_name, kind) => {
        const ab = make()
        new Uint8Array(ab).fill(0x11)
        const v = over(kind, ab)
        const n = v.byteLength
        expect(m.equals(v, 0, Buffer.alloc(n, 0x11), 0, n)).toBe(true)
        rangeErr(() => m.equals(v, 0, Buffer.alloc(n + 1, 0x11), 0, n + 1))
        new Uint8Array(ab)[OFFSET + n - 1] = 0x12 // its last byte
        expect(m.equals(v, 0, Buffer.alloc(n, 0x11), 0, n)).toBe(false)
        expect(m.equals(v, 0, v, 0, n)).toBe(true)
      })

      it.each(kinds)('%s: copy writes and reads exactly its bytes', (_name, kind) => {
        const ab = make()
        new Uint8Array(ab).fill(0xaa)
        const v = over(kind, ab)
        const n = v.byteLength
        m.copy(Buffer.alloc(n, 0x5c), 0, v, 0, n)
        expectBytes(ab, OFFSET, OFFSET + n, 0x5c, 0xaa)
        rangeErr(() => m.copy(Buffer.alloc(n + 1, 0x77), 0, v, 0, n + 1))
        const out = Buffer.alloc(n + 1, 0x33)
        rangeErr(() => m.copy(v, 0, out, 0, n + 1))
        m.copy(v, 0, out, 0, n)
        expect([...out]).toEqual([...Array(n).fill(0x5c), 0x33])
        expectBytes(ab, OFFSET, OFFSET + n, 0x5c, 0xaa)
      })
    })
  }

  it.each(kinds)('%s: lock and unlock take exactly its bytes (heap); a view of a region is refused', (_name, kind) => {
    const v = over(kind, new ArrayBuffer(SPAN))
    const n = v.byteLength
    m.lock(v)
    m.unlock(v)
    m.lock(v, n) // offset at the end: nothing
    rangeErr(() => m.lock(v, n + 1))
    rangeErr(() => m.lock(v, 0, n + 1))
    rangeErr(() => m.unlock(v, 0, n + 1))
    const inRegion = over(kind, m.view(r, 256, SPAN))
    expect(() => m.lock(inRegion)).toThrow(expect.objectContaining({ code: 'ERR_REGION_OWNED' }))
  })

  it.skipIf(typeof globalThis.Float16Array !== 'function')('Float16Array of 16 bytes: wipe zeroes 16 bytes, not 64', () => {
    const ab = new ArrayBuffer(128)
    new Uint8Array(ab).fill(0xaa)
    const f16 = new globalThis.Float16Array(ab, 32, 8)
    expect(f16.byteLength).toBe(16)
    m.wipe(f16)
    const u = new Uint8Array(ab)
    expect(u.filter((x) => x === 0).length).toBe(16)
    expect(u.subarray(32, 48).every((x) => x === 0)).toBe(true)
  })
})
