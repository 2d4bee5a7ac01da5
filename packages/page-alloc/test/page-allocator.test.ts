// PageAllocator: every method, the layout (data ending at the trailing guard
// page), protection, the mapping cache.
import { describe, expect, it } from 'vitest'
import { PAGE, ZERO_STATS, expectCode, holds, os, pa, pattern, put, immediate, pagePlace } from './helpers.js'

const { PageAllocation } = pa
const { PageAllocator } = immediate
const SECRETMEM = os.capabilities().memfdSecret

const roundUp = (n: number, k: number) => Math.ceil(n / k) * k
/** Data pages of an allocation: the data rounded up to the alignment, plus the front canary. */
const pagesFor = (n: number, alignment = 16, front = 16) => Math.max(1, Math.ceil((roundUp(n, alignment) + front) / PAGE))

const inner = (a: unknown) => {
  const { start, dataPages, region } = pagePlace(a)
  return { start, mapped: { mapping: { dataPages, region } } }
}

describe('PageAllocator', () => {
  it('has a name, the protect capability, its alignment, and empty stats when new', () => {
    const p = new PageAllocator()
    expect(p.name).toBe('page')
    expect(p.capabilities).toEqual({ protect: true, alignment: 16 })
    expect(new PageAllocator({ alignment: 64 }).capabilities).toEqual({ protect: true, alignment: 64 })
    expect(p.stats()).toEqual(ZERO_STATS)
  })

  it('alloc returns a PageAllocation of exactly the requested length, zero-filled, in a mapping of its own', () => {
    const p = new PageAllocator({ secretmem: 'off' })
    const sizes = [1, 16, 100, PAGE - 16, PAGE - 15, PAGE, 10000, 65536]
    let pages = 0
    for (const n of sizes) {
      const a = p.alloc(n)
      pages += pagesFor(n)
      expect(a).toBeInstanceOf(PageAllocation)
      expect(a.byteLength).toBe(n)
      expect(a.allocator).toBe(p)
      expect(a.freed).toBe(false)
      const ab = p.view(a)
      expect(ab.byteLength).toBe(n)
      expect(new Uint8Array(ab).every((b) => b === 0)).toBe(true)
      expect(p.view(a)).toBe(ab)
      expect(inner(a).mapped.mapping.dataPages).toBe(pagesFor(n))
    }
    // Single pages share guard pages in a reservation (one guard each); larger ones have two of their own.
    const single = sizes.filter((n) => pagesFor(n) === 1).length
    expect(p.stats()).toEqual({
      ...ZERO_STATS,
      allocations: sizes.length,
      bytes: sizes.reduce((x, y) => x + y, 0),
      mappedBytes: (pages + 2 * sizes.length - single) * PAGE,
      lockedBytes: pages * PAGE,
      reservations: 1,
      mappings: sizes.length
    })
  })

  it('places the data at the end of its pages (start aligned, the slack under the alignment)', () => {
    for (const alignment of [1, 16, 64, PAGE]) {
      const p = new PageAllocator({ alignment, secretmem: 'off' })
      for (const n of [1, 15, 16, 17, 100, PAGE - 1, PAGE + 1]) {
        const a = p.alloc(n)
        const { start, mapped } = inner(a)
        const end = PAGE + mapped.mapping.dataPages * PAGE // the trailing guard page
        expect(start % alignment).toBe(0)
        expect(end - start).toBe(roundUp(n, alignment))
        expect(end - (start + n)).toBeLessThan(alignment)
        p.free(a)
      }
    }
  })

  it('alloc(0) is allowed: an empty view, still counted and guarded', () => {
    const p = new PageAllocator()
    const a = p.alloc(0)
    expect(a.byteLength).toBe(0)
    expect(p.view(a).byteLength).toBe(0)
    expect(p.protections(a)).toMatchObject({ canary: true, guardPages: true, isolated: true })
    expect(p.stats()).toMatchObject({ allocations: 1, bytes: 0, mappings: 1 })
    p.free(a)
    expect(a.freed).toBe(true)
    expect(p.stats()).toMatchObject({ allocations: 0, bytes: 0 })
  })

  it('fillByte fills fresh and reused allocations', () => {
    const p = new PageAllocator({ fillByte: 0xdb })
    for (let round = 0; round < 3; round++) {
      const a = p.alloc(100)
      expect(new Uint8Array(p.view(a)).every((b) => b === 0xdb)).toBe(true)
      new Uint8Array(p.view(a)).fill(1)
      p.free(a)
    }
    expect(p.stats().cacheHits).toBe(2)
  })

  it('protections: anonymous memory is locked, no-dump and wipe-on-fork', () => {
    const p = new PageAllocator({ secretmem: 'off' })
    const a = p.alloc(100)
    expect(p.protections(a)).toEqual({
      locked: true,
      noDump: true,
      wipeOnFork: true,
      dontFork: false,
      guardPages: true,
      canary: true,
      secretmem: false,
      isolated: true,
      access: 'readwrite',
      protectionKey: false
    })
    p.free(a)
  })

  it.runIf(SECRETMEM)('protections: secretmem (the default where available) is locked, no-dump and not inherited by children', () => {
    const p = new PageAllocator()
    const a = p.alloc(100)
    expect(p.protections(a)).toEqual({
      locked: true,
      noDump: true,
      wipeOnFork: false,
      dontFork: true,
      guardPages: true,
      canary: true,
      secretmem: true,
      isolated: true,
      access: 'readwrite',
      protectionKey: false
    })
    // Only the data page is charged: the guard pages are plain PROT_NONE memory outside the memfd.
    expect(p.stats().lockedBytes).toBe(PAGE)
    expect(p.stats().secretmemBytes).toBe(PAGE)
    p.free(a)
  })

  it('canary is reported only when there are canary bytes', () => {
    const none = new PageAllocator({ alignment: 1, frontCanary: 0 })
    const a = none.alloc(100)
    expect(none.protections(a).canary).toBe(false)
    const tail = new PageAllocator({ alignment: 16, frontCanary: 0 })
    expect(tail.protections(tail.alloc(100)).canary).toBe(true) // 12 bytes of slack
    expect(tail.protections(tail.alloc(96)).canary).toBe(false)
    none.free(a)
  })

  it("protect: 'none' detaches the view and refuses views; 'read' and 'readwrite' keep the content", () => {
    const p = new PageAllocator()
    const a = p.alloc(300)
    put(p, a, pattern(1, 300))
    const first = p.view(a)
    p.protect(a, 'none')
    expect(first.byteLength).toBe(0)
    expect(p.protections(a).access).toBe('none')
    expectCode(() => p.view(a), 'ERR_NO_ACCESS')
    p.protect(a, 'read')
    expect(p.protections(a).access).toBe('read')
    expect(holds(p, a, pattern(1, 300))).toBe(true)
    p.protect(a, 'readwrite')
    expect(p.protections(a).access).toBe('readwrite')
    put(p, a, pattern(2, 300))
    expect(holds(p, a, pattern(2, 300))).toBe(true)
    // 'read' keeps an existing view attached (reading is still allowed).
    const view = p.view(a)
    p.protect(a, 'read')
    expect(view.byteLength).toBe(300)
    p.free(a)
    expect(view.byteLength).toBe(0)
  })

  it("protect with keepViews leaves the view attached across 'none' (libsodium behaviour); view() still refuses", () => {
    const p = new PageAllocator()
    const a = p.alloc(64)
    const view = p.view(a)
    p.protect(a, 'none', { keepViews: true })
    expect(view.byteLength).toBe(64) // touching it would fault: see crash.test.ts
    expectCode(() => p.view(a), 'ERR_NO_ACCESS')
    p.protect(a, 'readwrite')
    expect(p.view(a)).toBe(view)
    p.free(a)
    expect(view.byteLength).toBe(0)
  })

  it('free works from every access state, wipes, and detaches', () => {
    const p = new PageAllocator()
    for (const access of ['none', 'read', 'readwrite'] as const) {
      const a = p.alloc(50)
      put(p, a, pattern(3, 50))
      const view = p.view(a)
      p.protect(a, access)
      p.free(a)
      expect(a.freed).toBe(true)
      expect(view.byteLength).toBe(0)
      // The next allocation reuses this mapping: it must read zero.
      const b = p.alloc(50)
      expect(p.stats().cacheHits).toBeGreaterThan(0)
      expect(new Uint8Array(p.view(b)).every((x) => x === 0)).toBe(true)
      p.free(b)
    }
  })

  it('a cached mapping reused at another size reads zero where the old canaries stood, and its own canaries hold', () => {
    const p = new PageAllocator({ secretmem: 'off', integrity: 'throw' })
    // 50 then 10 bytes: the old trailing canary lies inside the new data; 10 then 50: the old front canary does.
    for (const [first, second] of [[50, 10], [10, 50], [4000, 1], [1, 4000], [64, 64]] as Array<[number, number]>) {
      const a = p.alloc(first)
      put(p, a, pattern(first, first))
      p.free(a)
      const hits = p.stats().cacheHits
      const b = p.alloc(second)
      expect(p.stats().cacheHits).toBe(hits + 1) // the same mapping
      expect(new Uint8Array(p.view(b)).every((x) => x === 0)).toBe(true)
      put(p, b, pattern(second + 1, second))
      p.free(b) // canaries intact: no integrity failure
    }
  })

  it('caches freed mappings by page count and reuses them; trim unmaps the cache', () => {
    const p = new PageAllocator({ secretmem: 'off' })
    const a = p.alloc(100) // 1 page
    const b = p.alloc(5000) // 2 pages
    p.free(a)
    p.free(b)
    const cached = { cachedPages: 3, cachedBytes: 3 * PAGE, cachedChargedBytes: 3 * PAGE, reservations: 1 }
    expect(p.stats()).toEqual({ ...ZERO_STATS, ...cached, mappedBytes: (2 + 4) * PAGE, lockedBytes: 3 * PAGE, mappings: 2 })
    const c = p.alloc(7000) // 2 pages: the cached mapping of b
    expect(p.stats()).toEqual({
      ...ZERO_STATS,
      allocations: 1,
      bytes: 7000,
      mappedBytes: 6 * PAGE,
      lockedBytes: 3 * PAGE,
      cachedPages: 1,
      cachedBytes: PAGE,
      cachedChargedBytes: PAGE,
      reservations: 1,
      mappings: 2,
      cacheHits: 1
    })
    const d = p.alloc(9000) // 3 pages: nothing cached of that size, a new mapping
    expect(p.stats().mappings).toBe(3)
    expect(p.stats().cacheHits).toBe(1)
    p.free(c)
    p.free(d)
    p.trim()
    expect(p.stats()).toEqual({ ...ZERO_STATS, cacheHits: 1 })
  })

  it('cacheLimit bounds the cache (0: every free unmaps)', () => {
    const none = new PageAllocator({ cacheLimit: 0 })
    none.free(none.alloc(10))
    expect(none.stats()).toEqual({ ...ZERO_STATS, reservations: 1 }) // an empty reservation stays for the next page
    none.trim()
    expect(none.stats()).toEqual(ZERO_STATS)
    const one = new PageAllocator({ cacheLimit: 1, secretmem: 'off' })
    const x = one.alloc(10)
    const y = one.alloc(10)
    one.free(x)
    one.free(y)
    expect(one.stats()).toEqual({
      ...ZERO_STATS,
      mappedBytes: 2 * PAGE,
      lockedBytes: PAGE,
      cachedPages: 1,
      cachedBytes: PAGE,
      cachedChargedBytes: PAGE,
      reservations: 1,
      mappings: 1
    })
  })

  it('allocations are independent: writing one never shows in another', () => {
    const p = new PageAllocator()
    const all = [1, 31, 4000, 5000, 12345].map((n) => p.alloc(n))
    for (const [i, a] of all.entries()) put(p, a, pattern(i, a.byteLength))
    for (const [i, a] of all.entries()) expect(holds(p, a, pattern(i, a.byteLength))).toBe(true)
    for (const a of all) p.free(a)
  })
})
