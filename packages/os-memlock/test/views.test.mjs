// Views: exact size, shared memory, tracking of very many, and garbage
// collection (in a child started with --expose-gc).
import { afterAll, describe, expect, it } from 'vitest'
import { PS, m, records, runFixture } from './helpers.mjs'

describe('a view', () => {
  const r = m.map(2 * PS)
  afterAll(() => m.unmap(r))

  it('is an ArrayBuffer of exactly the requested length, nothing around it reachable', () => {
    m.fill(r, 0, 2 * PS, 0xaa)
    const ab = m.view(r, 100, 10)
    expect(ab).toBeInstanceOf(ArrayBuffer)
    expect(ab.byteLength).toBe(10)
    expect(() => new Uint8Array(ab, 0, 11)).toThrow(RangeError)
    expect(() => new Uint8Array(ab, 10, 1)).toThrow(RangeError)
    expect(new Uint8Array(ab).buffer).toBe(ab)
    expect(ab.slice(0).byteLength).toBe(10)
    m.detach(ab)
  })

  it('shares memory with the region and with other views of the same bytes', () => {
    const x = new Uint8Array(m.view(r, PS - 4, 8)) // straddles the page boundary
    const y = new Uint8Array(m.view(r, PS, 4))
    x.set([1, 2, 3, 4, 5, 6, 7, 8])
    expect([...y]).toEqual([5, 6, 7, 8])
    m.fill(r, PS, 1, 99)
    expect(x[4]).toBe(99)
    expect(m.equals(r, PS - 4, Buffer.from([1, 2, 3, 4, 99, 6, 7, 8]), 0, 8)).toBe(true)
    m.detach(x.buffer)
    m.detach(y.buffer)
  })

  it('detach() empties it; the region and its other views carry on', () => {
    const a = m.view(r, 0, 16)
    const b = new Uint8Array(m.view(r, 0, 16))
    m.detach(a)
    expect(a.byteLength).toBe(0)
    expect(() => new Uint8Array(a)).toThrow(TypeError)
    m.detach(a) // twice is fine
    b[0] = 5
    expect(b[0]).toBe(5)
    m.protect(r, 0, PS, 'none') // the region forgets the detached one without trouble
    expect(b.length).toBe(0)
    m.protect(r, 0, PS, 'readwrite')
  })

  it("of a 'read' range is allowed and readable", () => {
    m.fill(r, PS, PS, 0x44)
    m.protect(r, PS, PS, 'read')
    const v = new Uint8Array(m.view(r, PS, PS))
    expect(v.every((x) => x === 0x44)).toBe(true)
    m.protect(r, PS, PS, 'readwrite')
    expect(v.length).toBe(PS) // read → readwrite never detaches
    m.detach(v.buffer)
  })

  it.skipIf(!m.capabilities().memfdSecret)('works over a secret region, and unmap detaches it', () => {
    const s = m.map(PS, { secret: true })
    const v = new Uint8Array(m.view(s, 0, PS))
    v.fill(0x5c)
    expect(m.equals(s, 0, Buffer.alloc(PS, 0x5c), 0, PS)).toBe(true)
    m.unmap(s)
    expect(v.length).toBe(0)
  })
})

describe('very many views', () => {
  const N = 100000

  it(`${N} live views: protect('none') detaches every one`, () => {
    const r = m.map(4 * PS)
    const views = new Array(N)
    for (let i = 0; i < N; i++) views[i] = m.view(r, (i * 7) % (4 * PS - 16), 16)
    const typed = views.filter((_, i) => i % 1000 === 0).map((ab) => new Uint8Array(ab))
    expect(views.every((ab) => ab.byteLength === 16)).toBe(true)
    m.protect(r, 0, 4 * PS, 'none')
    expect(views.filter((ab) => ab.byteLength !== 0).length).toBe(0)
    expect(typed.every((t) => t.length === 0 && t[0] === undefined)).toBe(true)
    m.protect(r, 0, 4 * PS, 'readwrite')
    expect(m.view(r, 0, 16).byteLength).toBe(16)
    m.unmap(r)
  })

  it(`${N} live views over two pages: protect('none') of one page detaches exactly its views`, () => {
    const r = m.map(3 * PS)
    const low = []
    const high = []
    for (let i = 0; i < N / 2; i++) {
      low.push(m.view(r, i % (PS - 8), 8))
      high.push(m.view(r, 2 * PS + (i % (PS - 8)), 8))
    }
    m.protect(r, 2 * PS, PS, 'none')
    expect(low.filter((ab) => ab.byteLength !== 8).length).toBe(0)
    expect(high.filter((ab) => ab.byteLength !== 0).length).toBe(0)
    m.unmap(r)
    expect(low.filter((ab) => ab.byteLength !== 0).length).toBe(0)
  })

  it('collected views do not disturb the region; a mapping lives as long as its handle or any view (child, --expose-gc)', () => {
    const res = runFixture('gc-views.cjs', [], { nodeArgs: ['--expose-gc'] })
    expect(res.stderr).toBe('')
    expect(res.status).toBe(0)
    expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
    const rec = records(res.stdout)
    expect(rec.KEPT_DETACHED).toBe(2000)
    expect(rec.AFTER_GC).toEqual({ value: 0x33 })
    expect(rec.HANDLE_DROPPED).toEqual({ collected: true, mapped: true, length: 11 * PS, first: 0x7e, last: 0x7e })
    expect(rec.ALL_DROPPED).toEqual({ mapped: false })
    expect(rec.HANDLE_ONLY_DROPPED).toEqual({ mapped: false })
  })
})
