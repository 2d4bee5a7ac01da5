// Property-based: random sequences of alloc / write / protect / free over every
// size class (and the page path above MAX_SLOT), on both allocators.
//
// After every step:
// - every live allocation still holds the pattern last written to it. Each
//   allocation gets its own pattern and every write covers all of its bytes, so
//   two live allocations sharing a byte would break one of them: this is how
//   overlap is detected without seeing addresses;
// - a new allocation reads zero before it is written;
// - free never throws under integrity 'throw' (canaries intact) and detaches the view;
// - stats match a model: counts and bytes exactly; the page allocator's
//   mappings, cache and locked bytes exactly; the slot allocator's page counts
//   within what its size classes allow, and consistent with each other;
// - VmLck (/proc/self/status) moved by exactly stats().lockedBytes.
//
// After freeing everything and trim(), "where they started" means, exactly:
// - page allocator: every stat back to zero (cacheHits is a running total) and
//   VmLck back to its value before the run;
// - slot allocator: one warm page per size class the run used (W classes) stays
//   locked and read-write for the next allocation of that class, on purpose:
//   allocations and bytes 0, lockedBytes = W pages, VmLck = start + W pages,
//   every other page of the remaining mappings cached, and only mappings
//   holding a warm page left (exactly W with one page per mapping; between
//   ceil(W / pagesPerMapping) and W otherwise, as the kernel also counts).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PAGE, kernel, os, pa, pattern, immediate } from './helpers.js'
import type * as PA from '../src/index.js'

const { SLOT_SIZES, MAX_SLOT } = pa
const { SlotAllocator, PageAllocator } = immediate
const SECRETMEM = os.capabilities().memfdSecret
const SEED = Number(process.env.PROPERTY_SEED ?? 20251123)
const RUNS = Number(process.env.PROPERTY_RUNS ?? 100)

type Access = 'none' | 'read' | 'readwrite'
type Cmd =
  | { kind: 'alloc'; size: number; count: number }
  | { kind: 'write'; pick: number }
  | { kind: 'protect'; pick: number; access: Access }
  | { kind: 'free'; pick: number; count: number }

interface Live {
  a: PA.Allocation
  size: number
  bytes: Buffer
  view: ArrayBuffer | null
  access: Access
  big: boolean
}

const roundUp = (n: number, k: number) => Math.ceil(n / k) * k

/** The page allocator, exactly: one mapping per allocation, a LIFO cache per page count, bounded. */
class PageModel {
  private readonly cache = new Map<number, number>()
  private cachedMappings = 0
  allocations = 0
  bytes = 0
  mappings = 0
  mappedPages = 0
  lockedPages = 0
  cachedPages = 0
  cacheHits = 0
  constructor(
    private readonly cacheLimit: number,
    private readonly secret: boolean,
    private readonly alignment = 16,
    private readonly frontCanary = 16
  ) {}

  pagesFor(n: number): number {
    return Math.max(1, Math.ceil((roundUp(n, this.alignment) + this.frontCanary) / PAGE))
  }
  private locked(p: number): number {
    return p // data pages only: guard pages are never charged
  }
  private mapped(p: number): number {
    return p === 1 ? 2 : p + 2 // a single page shares guards in a reservation (one of its own)
  }
  alloc(n: number): void {
    const p = this.pagesFor(n)
    const hit = this.cache.get(p) ?? 0
    if (hit > 0) {
      this.cache.set(p, hit - 1)
      this.cachedMappings--
      this.cachedPages -= p
      this.cacheHits++
    } else {
      this.mappings++
      this.mappedPages += this.mapped(p)
      this.lockedPages += this.locked(p)
    }
    this.allocations++
    this.bytes += n
  }
  free(n: number): void {
    const p = this.pagesFor(n)
    this.allocations--
    this.bytes -= n
    if (this.cachedMappings >= this.cacheLimit || !this.makeRoom(p)) {
      this.mappings--
      this.mappedPages -= this.mapped(p)
      this.lockedPages -= this.locked(p)
    } else {
      this.cache.set(p, (this.cache.get(p) ?? 0) + 1)
      this.cachedMappings++
      this.cachedPages += p
    }
  }
  /** Every cached page is charged here (locked or secretmem): the cache holds at most 256 KiB; the largest go first. */
  private makeRoom(p: number): boolean {
    const most = (256 * 1024) / PAGE
    if (p > most) return false
    while (this.cachedPages + p > most) {
      const largest = Math.max(...[...this.cache].filter(([, count]) => count > 0).map(([pages]) => pages))
      if (!Number.isFinite(largest)) return false
      this.cache.set(largest, (this.cache.get(largest) as number) - 1)
      this.cachedMappings--
      this.cachedPages -= largest
      this.mappings--
      this.mappedPages -= this.mapped(largest)
      this.lockedPages -= this.locked(largest)
    }
    return true
  }
  trim(): void {
    for (const [p, count] of this.cache) {
      this.mappings -= count
      this.mappedPages -= this.mapped(p) * count
      this.lockedPages -= this.locked(p) * count
    }
    this.cache.clear()
    this.cachedMappings = 0
    this.cachedPages = 0
  }
  stats(): PA.AllocatorStats {
    return {
      allocations: this.allocations,
      bytes: this.bytes,
      mappedBytes: this.mappedPages * PAGE,
      lockedBytes: this.lockedPages * PAGE,
      secretmemBytes: this.secret ? this.lockedPages * PAGE : 0,
      cachedPages: this.cachedPages,
      cachedBytes: this.cachedPages * PAGE,
      cachedChargedBytes: this.cachedPages * PAGE,
      chargeReleases: 0,
      reservations: expect.any(Number),
      mappings: this.mappings,
      cacheHits: this.cacheHits,
      unlockedAllocations: 0,
      quarantinedBytes: 0,
      escapedBytes: 0,
      retiredBytes: 0,
      mapBudget: expect.any(Object)
    } as PA.AllocatorStats
  }
}

const classOf = (n: number) => SLOT_SIZES.findIndex((c) => c >= n)

// Sizes: every class exactly, one byte either side of it, anything up to MAX_SLOT, and the page path.
const slotSize = fc.oneof(
  fc.constantFrom(...SLOT_SIZES),
  fc.constantFrom(...SLOT_SIZES).map((c) => c - 1),
  fc.constantFrom(...SLOT_SIZES.slice(0, -1)).map((c) => c + 1),
  fc.integer({ min: 1, max: MAX_SLOT }),
  fc.integer({ min: MAX_SLOT + 1, max: 3 * PAGE + 100 })
)
const pageSize = fc.oneof(
  fc.constantFrom(0, 1, 15, 16, 17, PAGE - 17, PAGE - 16, PAGE - 15, PAGE, PAGE + 1, 2 * PAGE - 16),
  fc.integer({ min: 0, max: 3 * PAGE + 100 })
)
const access = fc.constantFrom<Access>('none', 'read', 'readwrite')

function commands(size: fc.Arbitrary<number>): fc.Arbitrary<Cmd[]> {
  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('alloc' as const), size, count: fc.constant(1) }), weight: 4 },
    { arbitrary: fc.record({ kind: fc.constant('alloc' as const), size, count: fc.integer({ min: 2, max: 300 }) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('write' as const), pick: fc.nat() }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('protect' as const), pick: fc.nat(), access }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat(), count: fc.constant(1) }), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat(), count: fc.integer({ min: 2, max: 300 }) }), weight: 1 }
  )
  return fc.array(cmd, { minLength: 1, maxLength: 60 })
}

/** Runs commands against `allocator`; `check` verifies stats after each step. */
function run(allocator: PA.SlotAllocator | PA.PageAllocator, cmds: Cmd[], onAlloc: (e: Live) => void, onFree: (e: Live) => void, check: () => void): Live[] {
  const live: Live[] = []
  let serial = 0
  const write = (e: Live) => {
    if (e.access !== 'readwrite') {
      allocator.protect(e.a, 'readwrite')
      e.access = 'readwrite'
    }
    e.bytes = pattern(++serial, e.size)
    e.view = allocator.view(e.a)
    new Uint8Array(e.view).set(e.bytes)
  }
  const verifyAll = () => {
    for (const e of live) {
      if (e.access === 'none') {
        if (e.view !== null) expect(e.view.byteLength).toBe(0)
        continue
      }
      const ab = allocator.view(e.a)
      expect(ab.byteLength).toBe(e.size)
      if (Buffer.compare(Buffer.from(ab), e.bytes) !== 0) throw new Error(`allocation of ${e.size} bytes lost its content`)
    }
  }
  for (const c of cmds) {
    if (c.kind === 'alloc') {
      const count = live.length > 3000 ? 1 : c.count
      for (let i = 0; i < count; i++) {
        const a = allocator.alloc(c.size)
        expect(a.byteLength).toBe(c.size)
        const e: Live = { a, size: c.size, bytes: Buffer.alloc(0), view: null, access: 'readwrite', big: c.size > MAX_SLOT }
        const fresh = allocator.view(a)
        expect(fresh.byteLength).toBe(c.size)
        if (!new Uint8Array(fresh).every((b) => b === 0)) throw new Error(`a new allocation of ${c.size} bytes was not zeroed`)
        write(e)
        live.push(e)
        onAlloc(e)
      }
    } else if (live.length === 0) {
      continue
    } else if (c.kind === 'write') {
      write(live[c.pick % live.length] as Live)
    } else if (c.kind === 'protect') {
      const e = live[c.pick % live.length] as Live
      if (!(allocator instanceof PageAllocator) && !e.big) continue
      allocator.protect(e.a, c.access)
      e.access = c.access
      if (c.access === 'none') {
        expect(e.view?.byteLength ?? 0).toBe(0) // detached
        e.view = null
      }
    } else {
      for (let i = 0; i < c.count && live.length > 0; i++) {
        const e = live.splice((c.pick + i * 7919) % live.length, 1)[0] as Live
        allocator.free(e.a) // integrity 'throw': a damaged canary would throw here
        expect(e.a.freed).toBe(true)
        if (e.view !== null) expect(e.view.byteLength).toBe(0)
        onFree(e)
      }
    }
    verifyAll()
    check()
  }
  return live
}

describe('property: random alloc/write/free sequences', () => {
  it('SlotAllocator (all size classes and the page path): no overlap, content kept, canaries intact, stats exact, back to the start', () => {
    fc.assert(
      fc.property(
        commands(slotSize),
        fc.constantFrom(1, 2, 16),
        fc.constantFrom(0, 4, 64),
        fc.constantFrom(0, 2, 32),
        fc.constantFrom<'auto' | 'off'>('auto', 'off'),
        (cmds, pagesPerMapping, cacheLimit, largeCacheLimit, secretmem) => {
          const large = new PageAllocator({ integrity: 'throw', cacheLimit: largeCacheLimit, secretmem })
          const s = new SlotAllocator({ integrity: 'throw', pagesPerMapping, cacheLimit, large })
          const model = new PageModel(largeCacheLimit, secretmem === 'auto' && SECRETMEM)
          const liveIn = new Array<number>(SLOT_SIZES.length).fill(0)
          const used = new Set<number>()
          let small = { allocations: 0, bytes: 0 }
          const v0 = kernel.status('VmLck')
          const runs0 = kernel.allocatorVmas().runs

          const slotOnly = () => {
            const all = s.stats()
            const big = large.stats()
            expect(big).toEqual(model.stats())
            const out: Record<string, number> = {}
            const bigs: Record<string, unknown> = { ...big }
            for (const [k, v] of Object.entries(all)) {
              const w = bigs[k]
              if (typeof v === 'number' && typeof w === 'number') out[k] = v - w
            }
            return out as unknown as PA.AllocatorStats
          }
          const check = () => {
            const so = slotOnly()
            expect(so.allocations).toBe(small.allocations)
            expect(so.bytes).toBe(small.bytes)
            expect(so.unlockedAllocations).toBe(0)
            expect(so.cacheHits).toBeGreaterThanOrEqual(0)
            const lockedPages = so.lockedBytes / PAGE
            // Every page of a live mapping is either in use (locked) or cached.
            expect(so.mappedBytes).toBe(so.mappings * (pagesPerMapping + 2) * PAGE)
            expect(so.cachedPages).toBe(so.mappings * pagesPerMapping - lockedPages)
            // Pages in use: at least what the live slots need, at most one per live slot plus one warm page per class.
            let min = 0
            let max = 0
            for (const c of used) {
              min += Math.ceil((liveIn[c] as number) / Math.floor(PAGE / (SLOT_SIZES[c] as number)))
              max += (liveIn[c] as number) + 1
            }
            expect(lockedPages).toBeGreaterThanOrEqual(min)
            expect(lockedPages).toBeLessThanOrEqual(max)
            expect(kernel.status('VmLck') - v0).toBe(s.stats().lockedBytes / 1024)
          }

          const live = run(
            s,
            cmds,
            (e) => {
              if (e.big) return model.alloc(e.size)
              const c = classOf(e.size)
              liveIn[c] = (liveIn[c] as number) + 1
              used.add(c)
              small = { allocations: small.allocations + 1, bytes: small.bytes + e.size }
            },
            (e) => {
              if (e.big) return model.free(e.size)
              const c = classOf(e.size)
              liveIn[c] = (liveIn[c] as number) - 1
              small = { allocations: small.allocations - 1, bytes: small.bytes - e.size }
            },
            check
          )
          // Free everything left, then trim.
          for (const e of live.splice(0)) {
            s.free(e.a)
            if (e.view !== null) expect(e.view.byteLength).toBe(0)
            if (e.big) model.free(e.size)
            else {
              const c = classOf(e.size)
              liveIn[c] = (liveIn[c] as number) - 1
              small = { allocations: small.allocations - 1, bytes: small.bytes - e.size }
            }
            check()
          }
          s.trim()
          model.trim()
          const W = used.size
          const so = slotOnly()
          expect(large.stats()).toEqual({ ...model.stats(), allocations: 0, bytes: 0, mappedBytes: 0, lockedBytes: 0, cachedPages: 0, mappings: 0 })
          expect(so.allocations).toBe(0)
          expect(so.bytes).toBe(0)
          expect(so.unlockedAllocations).toBe(0)
          expect(so.lockedBytes).toBe(W * PAGE)
          expect(kernel.status('VmLck') - v0).toBe((W * PAGE) / 1024)
          if (pagesPerMapping === 1) expect(so.mappings).toBe(W)
          expect(so.mappings).toBeGreaterThanOrEqual(Math.ceil(W / pagesPerMapping))
          expect(so.mappings).toBeLessThanOrEqual(W)
          expect(so.cachedPages).toBe(so.mappings * pagesPerMapping - W)
          expect(so.mappedBytes).toBe(so.mappings * (pagesPerMapping + 2) * PAGE)
          expect(kernel.allocatorVmas().runs - runs0).toBe(so.mappings)
        }
      ),
      { seed: SEED, numRuns: RUNS, endOnFailure: true }
    )
  })

  it('PageAllocator (layout and cache options): content kept across protect, canaries intact, stats exact, back to zero', () => {
    fc.assert(
      fc.property(
        commands(pageSize),
        fc.constantFrom(0, 1, 4, 32),
        fc.constantFrom<'auto' | 'off'>('auto', 'off'),
        fc.constantFrom(1, 16, 64, PAGE),
        fc.constantFrom(0, 16, 64),
        (cmds, cacheLimit, secretmem, alignment, frontCanary) => {
          const p = new PageAllocator({ integrity: 'throw', cacheLimit, secretmem, alignment, frontCanary })
          const model = new PageModel(cacheLimit, secretmem === 'auto' && SECRETMEM, alignment, frontCanary)
          const v0 = kernel.status('VmLck')
          const check = () => {
            expect(p.stats()).toEqual(model.stats())
            expect(kernel.status('VmLck') - v0).toBe(p.stats().lockedBytes / 1024)
          }
          const live = run(p, cmds, (e) => model.alloc(e.size), (e) => model.free(e.size), check)
          for (const e of live.splice(0)) {
            p.free(e.a)
            model.free(e.size)
            check()
          }
          p.trim()
          model.trim()
          expect(p.stats()).toEqual({ ...model.stats(), allocations: 0, bytes: 0, mappedBytes: 0, lockedBytes: 0, cachedPages: 0, mappings: 0 })
          expect(p.stats().reservations).toBe(0) // trim unmaps empty reservations too
          expect(kernel.status('VmLck')).toBe(v0)
        }
      ),
      { seed: SEED, numRuns: RUNS, endOnFailure: true }
    )
  })
})
