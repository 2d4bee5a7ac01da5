// SlotAllocator: every method, what it returns and what it costs.
import { describe, expect, it } from 'vitest'
import { PAGE, kernel, pa, pattern, put, holds, immediate, slotPlace } from './helpers.js'

const { SlotAllocation, PageAllocation, MAX_SLOT, SLOT_SIZES } = pa
const { SlotAllocator } = immediate
const PPM = 16 // default pages per mapping
const ZERO_STATS = { allocations: 0, bytes: 0, mappedBytes: 0, lockedBytes: 0, cachedPages: 0, mappings: 0, cacheHits: 0, unlockedAllocations: 0, quarantinedBytes: 0, escapedBytes: 0, retiredBytes: 0 }

describe('SlotAllocator', () => {
  it('has a name, no protect capability, and empty stats when new (nothing mapped yet)', () => {
    const s = new SlotAllocator()
    expect(s.name).toBe('slot')
    expect(s.capabilities).toEqual({ protect: false, alignment: 16 })
    expect(s.stats()).toEqual(ZERO_STATS)
  })

  it('alloc returns a SlotAllocation of exactly the requested length, zero-filled, with its own ArrayBuffer', () => {
    const s = new SlotAllocator()
    const sizes = [1, 15, 16, 17, 31, 32, 33, 100, 1000, MAX_SLOT - 1, MAX_SLOT]
    const all = sizes.map((n) => s.alloc(n))
    const views = new Set<ArrayBuffer>()
    for (const [i, a] of all.entries()) {
      expect(a).toBeInstanceOf(SlotAllocation)
      expect(a.byteLength).toBe(sizes[i])
      expect(a.allocator).toBe(s)
      expect(a.freed).toBe(false)
      const ab = s.view(a)
      expect(ab).toBeInstanceOf(ArrayBuffer)
      expect(ab.byteLength).toBe(sizes[i])
      expect(new Uint8Array(ab).every((b) => b === 0)).toBe(true)
      expect(s.view(a)).toBe(ab) // the same view while nothing changed
      views.add(ab)
    }
    expect(views.size).toBe(sizes.length)
    // Writing one allocation never shows in another.
    for (const [i, a] of all.entries()) put(s, a, pattern(i, a.byteLength))
    for (const [i, a] of all.entries()) expect(holds(s, a, pattern(i, a.byteLength))).toBe(true)
    expect(s.stats().allocations).toBe(sizes.length)
    expect(s.stats().bytes).toBe(sizes.reduce((x, y) => x + y, 0))
    for (const a of all) s.free(a)
    expect(s.stats().allocations).toBe(0)
  })

  it('stats count pages: one guarded mapping of 16 pages, one locked page per class in use', () => {
    const s = new SlotAllocator()
    const a = s.alloc(32)
    const b = s.alloc(32)
    expect(s.stats()).toEqual({
      allocations: 2,
      bytes: 64,
      mappedBytes: (PPM + 2) * PAGE,
      lockedBytes: PAGE,
      cachedPages: PPM - 1,
      mappings: 1,
      cacheHits: 0,
      unlockedAllocations: 0,
      quarantinedBytes: 0,
      escapedBytes: 0,
      retiredBytes: 0
    })
    const c = s.alloc(100) // another class: another page, taken from the mapping's cache
    expect(s.stats()).toEqual({
      allocations: 3,
      bytes: 164,
      mappedBytes: (PPM + 2) * PAGE,
      lockedBytes: 2 * PAGE,
      cachedPages: PPM - 2,
      mappings: 1,
      cacheHits: 1,
      unlockedAllocations: 0,
      quarantinedBytes: 0,
      escapedBytes: 0,
      retiredBytes: 0
    })
    for (const x of [a, b, c]) s.free(x)
    // Each class keeps one empty page warm (locked, read-write) for its next allocation.
    expect(s.stats()).toEqual({ ...ZERO_STATS, mappedBytes: (PPM + 2) * PAGE, lockedBytes: 2 * PAGE, cachedPages: PPM - 2, mappings: 1, cacheHits: 1 })
  })

  it('free wipes, detaches the view and marks the allocation freed; the memory comes back zeroed', () => {
    const s = new SlotAllocator()
    const per = PAGE / 32
    const first = Array.from({ length: per }, () => s.alloc(32))
    const views = first.map((a) => {
      const v = s.view(a)
      new Uint8Array(v).fill(0xff)
      return v
    })
    expect(s.stats().lockedBytes).toBe(PAGE) // exactly one page holds all of them
    for (const a of first) s.free(a)
    for (const [i, a] of first.entries()) {
      expect(a.freed).toBe(true)
      expect(views[i]?.byteLength).toBe(0)
    }
    // The same page (warm) serves the next ones: every byte must read zero.
    const again = Array.from({ length: per }, () => s.alloc(32))
    expect(s.stats().lockedBytes).toBe(PAGE)
    for (const a of again) expect(new Uint8Array(s.view(a)).every((b) => b === 0)).toBe(true)
    for (const a of again) s.free(a)
  })

  it('slot choice is random (CSPRNG), not sequential', () => {
    const s = new SlotAllocator()
    const taken = Array.from({ length: 64 }, () => s.alloc(32))
    const indices = taken.map((a) => slotPlace(a).index)
    expect(new Set(indices).size).toBe(64)
    // Sequential placement (0, 1, 2...) has probability (1/128)^63 with random choice.
    expect(indices).not.toEqual(indices.slice().sort((x, y) => x - y))
    const other = new SlotAllocator()
    const otherIndices = Array.from({ length: 64 }, () => slotPlace(other.alloc(32)).index)
    expect(otherIndices).not.toEqual(indices)
    for (const a of taken) s.free(a)
  })

  it('protections: locked, no-dump, wipe-on-fork, guard pages; canary only when the slot has slack', () => {
    const s = new SlotAllocator()
    const exact = s.alloc(32)
    const slack = s.alloc(20)
    const base = { locked: true, noDump: true, wipeOnFork: true, dontFork: false, guardPages: true, secretmem: false, isolated: false, access: 'readwrite' }
    expect(s.protections(exact)).toEqual({ ...base, canary: false })
    expect(s.protections(slack)).toEqual({ ...base, canary: true })
    s.free(exact)
    s.free(slack)
  })

  it('protect is refused for slots (ERR_NOT_ISOLATED): they share their page', () => {
    const s = new SlotAllocator()
    const a = s.alloc(32)
    for (const access of ['none', 'read', 'readwrite'] as const) {
      expect(() => s.protect(a, access)).toThrow(expect.objectContaining({ code: 'ERR_NOT_ISOLATED' }))
    }
    s.free(a)
  })

  it('mlock is counted per page: freeing one secret keeps its neighbours locked', () => {
    const s = new SlotAllocator()
    const a = s.alloc(32)
    const b = s.alloc(32)
    const before = kernel.status('VmLck')
    s.free(a)
    expect(s.protections(b).locked).toBe(true)
    expect(s.stats().lockedBytes).toBe(PAGE)
    expect(kernel.status('VmLck')).toBe(before)
    s.free(b)
  })

  it('requests above half a page go to the page allocator, owned by the slot allocator', () => {
    const s = new SlotAllocator()
    const small = s.alloc(MAX_SLOT)
    const big = s.alloc(MAX_SLOT + 1)
    expect(small).toBeInstanceOf(SlotAllocation)
    expect(big).toBeInstanceOf(PageAllocation)
    expect(big.allocator).toBe(s)
    expect(s.view(big).byteLength).toBe(MAX_SLOT + 1)
    expect(s.protections(big)).toMatchObject({ isolated: true, guardPages: true, access: 'readwrite' })
    put(s, big, pattern(9, MAX_SLOT + 1))
    s.protect(big, 'read')
    expect(s.protections(big).access).toBe('read')
    expect(holds(s, big, pattern(9, MAX_SLOT + 1))).toBe(true)
    s.protect(big, 'none')
    expect(s.protections(big).access).toBe('none')
    s.protect(big, 'readwrite')
    expect(holds(s, big, pattern(9, MAX_SLOT + 1))).toBe(true)
    const stats = s.stats()
    expect(stats.allocations).toBe(2)
    expect(stats.bytes).toBe(2 * MAX_SLOT + 1)
    expect(stats.mappings).toBe(2) // the slot mapping and the big allocation's own
    s.free(big)
    s.free(small)
    expect(s.stats().allocations).toBe(0)
  })

  it('a PageAllocator given as `large` serves the big requests', () => {
    const large = new pa.PageAllocator({ fillByte: 0xdb, secretmem: 'off' })
    const s = new SlotAllocator({ large })
    const big = s.alloc(5000)
    expect(large.stats().allocations).toBe(1)
    expect(new Uint8Array(s.view(big)).every((b) => b === 0xdb)).toBe(true)
    expect(s.protections(big).secretmem).toBe(false)
    s.free(big)
    expect(large.stats().allocations).toBe(0)
  })

  it('trim releases every mapping whose pages are all cached, keeping one warm page per class', () => {
    const s = new SlotAllocator({ cacheLimit: 65536 })
    const live = []
    for (let i = 0; i < 40 * 128; i++) live.push(s.alloc(32)) // 40 pages: 3 mappings
    const big = s.alloc(10000) // 3 data pages in a mapping of its own
    // Secretmem (the default for big allocations where the kernel has it) or locked: its data pages, not its guards.
    const bigLocked = 3 * PAGE
    s.free(big) // cached by the page allocator
    expect(s.stats().mappings).toBe(3 + 1)
    for (const a of live) s.free(a)
    const before = s.stats()
    expect(before.lockedBytes).toBe(PAGE + bigLocked) // the warm page + the cached big mapping
    s.trim()
    const after = s.stats()
    expect(after.mappings).toBe(1) // the mapping holding the warm page
    expect(after).toEqual({ ...ZERO_STATS, mappedBytes: (PPM + 2) * PAGE, lockedBytes: PAGE, cachedPages: PPM - 1, mappings: 1, cacheHits: after.cacheHits })
    s.trim() // idempotent
    expect(s.stats()).toEqual(after)
  })

  it('empty pages beyond the cache limit are released with their mapping', () => {
    const s = new SlotAllocator({ pagesPerMapping: 1, cacheLimit: 0 })
    const live = []
    for (let i = 0; i < 3 * 128; i++) live.push(s.alloc(32)) // 3 pages, 3 one-page mappings
    expect(s.stats().mappings).toBe(3)
    expect(s.stats().mappedBytes).toBe(3 * 3 * PAGE)
    for (const a of live) s.free(a)
    // One page stays warm; the other two were unmapped as soon as they emptied.
    expect(s.stats()).toEqual({ ...ZERO_STATS, mappedBytes: 3 * PAGE, lockedBytes: PAGE, mappings: 1, cacheHits: 0 })
  })

  it('pagesPerMapping sets the mapping size', () => {
    const s = new SlotAllocator({ pagesPerMapping: 4 })
    const a = s.alloc(16)
    expect(s.stats().mappedBytes).toBe(6 * PAGE)
    expect(s.stats().cachedPages).toBe(3)
    s.free(a)
  })

  it('serves every size class from its own pages', () => {
    const s = new SlotAllocator()
    const all = SLOT_SIZES.map((n) => s.alloc(n))
    expect(s.stats().lockedBytes).toBe(SLOT_SIZES.length * PAGE)
    expect(s.stats().mappings).toBe(Math.ceil(SLOT_SIZES.length / PPM))
    for (const [i, a] of all.entries()) put(s, a, pattern(i, a.byteLength))
    for (const [i, a] of all.entries()) expect(holds(s, a, pattern(i, a.byteLength))).toBe(true)
    for (const a of all) s.free(a)
  })
})
