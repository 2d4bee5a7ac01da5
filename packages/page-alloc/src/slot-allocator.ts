/**
 * The slot allocator (TARS "chunks", OpenBSD malloc) for small secrets.
 *
 * Pages come in guarded mappings of `pagesPerMapping` data pages:
 *
 *   [guard][page][page][page] ... [page][guard]
 *
 * A page serves one size class at a time and is cut into equal slots. Slot
 * choice is random. The bytes between the requested length and the slot end
 * hold a canary checked on free; freed slots are wiped at once. All metadata
 * (bitmaps, counts) lives here in the JS heap, away from the data.
 *
 * A page is made read-write and locked when it gets its first slot, and is
 * unlocked only when its last slot is freed (so munlock of one secret never
 * unlocks a neighbour: the lock is counted by live slots). One empty page per
 * class stays warm; the others go to a bounded cache of PROT_NONE pages, and a
 * mapping whose pages are all cached is unmapped when the cache is over its limit.
 *
 * Requests above half a page go to an internal `PageAllocator`.
 */
import os = require('@tarsjs/os-memlock')
import type { Access, Allocation, Allocator, AllocatorCapabilities, AllocatorStats, Protections } from './allocator.js'
import { reported } from './development-mode.js'
import { Canary } from './canary.js'
import { AllocError, checkByteLength, checkLive, rejectAllocation } from './errors.js'
import { DATA_OFFSET, PAGE_SIZE, lockRange, mapGuarded, unlockRange } from './guarded-mapping.js'
import type { GuardedMapping } from './guarded-mapping.js'
import { integrityFailure } from './integrity.js'
import { PageAllocation, PageAllocator } from './page-allocator.js'
import { Warner, integrityPolicy, intOption, mlockPolicy, secretmemPolicy } from './policy.js'
import type { IntegrityPolicy, MlockPolicy, SecretmemPolicy } from './policy.js'
import { RandomPool } from './random.js'
import { describeHandle, inspectCustom } from './redact.js'
import { MAX_SLOT, SLOT_SIZES, classOf } from './size-classes.js'

/** Options of `SlotAllocator`; every one has a safe default. */
export interface SlotAllocatorOptions {
  /** What a failed mlock means. Default `'best-effort'` (reported, one warning). */
  mlock?: MlockPolicy
  /** memfd_secret backing for slot mappings. Default `'off'` (see docs/page-alloc.md). */
  secretmem?: SecretmemPolicy
  /** Corrupted canary or metadata: `'abort'` (default) or `'throw'`. */
  integrity?: IntegrityPolicy
  /** Data pages per mapping, 1 to 1024. Default 16. */
  pagesPerMapping?: number
  /** Empty pages kept in the cache, 0 to 65536. Default 64. */
  cacheLimit?: number
  /** Allocator for requests above half a page. Default: a `PageAllocator` with the same policies. */
  large?: PageAllocator
}

interface SlotMapping {
  readonly mapping: GuardedMapping
  /** Pages of this mapping, in address order. */
  readonly pages: SlotPage[]
  cached: number
  alive: boolean
}

interface SlotPage {
  readonly owner: SlotMapping
  /** Byte offset of the page in the mapping's region. */
  readonly offset: number
  /** Size class index, or -1 while cached. */
  cls: number
  slotSize: number
  slots: number
  used: Uint32Array
  /** The handle of each live slot: a copy of a handle (spread, Object.create) is not the handle. */
  holders: Array<SlotAllocation | undefined>
  live: number
  locked: boolean
  /** Position in its class's `open` list, or -1. */
  openIndex: number
}

interface SlotClass {
  readonly size: number
  /** Pages of this class with at least one free slot. */
  readonly open: SlotPage[]
  /** Empty pages kept active in this class. */
  warm: number
}

/** An allocation of a `SlotAllocator` small enough for a slot. */
export class SlotAllocation implements Allocation {
  readonly byteLength: number
  readonly allocator: SlotAllocator
  freed = false
  /** @internal */ readonly page: SlotPage
  /** @internal */ readonly index: number
  /** @internal */ ab: ArrayBuffer | null = null

  /** @internal */
  constructor(allocator: SlotAllocator, page: SlotPage, index: number, byteLength: number) {
    this.allocator = allocator
    this.page = page
    this.index = index
    this.byteLength = byteLength
  }

  /** Prints as `SlotAllocation(32 bytes)`, never the memory. */
  [inspectCustom](): string {
    return describeHandle('SlotAllocation', this)
  }

  toJSON(): string {
    return describeHandle('SlotAllocation', this)
  }
}

const WARM_PER_CLASS = 1

export class SlotAllocator implements Allocator {
  readonly name: string = 'slot'
  /** Slots start at multiples of their size class (all multiples of 16); large ones at the large allocator's alignment. */
  readonly capabilities: AllocatorCapabilities
  private readonly mlock: MlockPolicy
  private readonly secretmem: SecretmemPolicy
  private readonly integrity: IntegrityPolicy
  private readonly pagesPerMapping: number
  private readonly cacheLimit: number
  private readonly large: PageAllocator
  private readonly canary = new Canary(MAX_SLOT)
  private readonly random = new RandomPool()
  private readonly warner = new Warner()
  private readonly classes: SlotClass[] = SLOT_SIZES.map((size) => ({ size, open: [], warm: 0 }))
  private readonly mappings: SlotMapping[] = []
  private counters = { allocations: 0, bytes: 0, lockedPages: 0, cachedPages: 0, cacheHits: 0, unlocked: 0 }

  constructor(options: SlotAllocatorOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new AllocError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object')
    }
    this.mlock = mlockPolicy(options.mlock)
    this.secretmem = secretmemPolicy(options.secretmem, 'off')
    this.integrity = integrityPolicy(options.integrity)
    this.pagesPerMapping = intOption('pagesPerMapping', options.pagesPerMapping, 1, 1024, 16)
    this.cacheLimit = intOption('cacheLimit', options.cacheLimit, 0, 65536, 64)
    if (options.large !== undefined && !(options.large instanceof PageAllocator)) {
      throw new AllocError('ERR_INVALID_ARG_TYPE', 'The "large" option must be a PageAllocator')
    }
    this.large =
      options.large ?? new PageAllocator({ mlock: this.mlock, integrity: this.integrity, secretmem: options.secretmem === undefined ? 'auto' : this.secretmem })
    this.capabilities = { protect: false, alignment: Math.min(16, this.large.capabilities.alignment ?? 1) }
  }

  alloc(byteLength: number): Allocation {
    const n = checkByteLength(byteLength)
    if (n > MAX_SLOT) return this.large.allocFor(this, n)
    const cls = this.classes[classOf(n)] as SlotClass
    const page = this.openPage(cls)
    const index = this.takeSlot(page)
    const offset = page.offset + index * page.slotSize
    this.canary.write(page.owner.mapping.region, offset + n, page.slotSize - n)
    if (page.live++ === 0) cls.warm--
    if (page.live === page.slots) this.closePage(cls, page)
    this.counters.allocations++
    this.counters.bytes += n
    if (!page.locked) this.counters.unlocked++
    const a = new SlotAllocation(this, page, index, n)
    page.holders[index] = a
    return a
  }

  free(allocation: Allocation): void {
    if (allocation instanceof PageAllocation && allocation.allocator === this) {
      this.large.freeAs(this, allocation)
      return
    }
    const a = this.own(allocation, true)
    const page = a.page
    const region = page.owner.mapping.region
    const offset = page.offset + a.index * page.slotSize
    const word = a.index >>> 5
    const bit = 1 << (a.index & 31)
    if (page.cls < 0 || ((page.used[word] as number) & bit) === 0 || page.live <= 0) {
      integrityFailure(this.integrity, 'slot allocator metadata does not match a live allocation')
    }
    if (!this.canary.intact(region, offset + a.byteLength, page.slotSize - a.byteLength)) {
      integrityFailure(this.integrity, `canary after a ${a.byteLength}-byte slot was overwritten (buffer overflow)`)
    }
    if (a.ab !== null) os.detach(a.ab)
    a.ab = null
    os.wipe(region, offset, page.slotSize)
    a.freed = true
    page.holders[a.index] = undefined
    page.used[word] = (page.used[word] as number) & ~bit
    const cls = this.classes[page.cls] as SlotClass
    if (page.live-- === page.slots) this.reopenPage(cls, page)
    this.counters.allocations--
    this.counters.bytes -= a.byteLength
    if (!page.locked) this.counters.unlocked--
    if (page.live === 0) {
      if (cls.warm < WARM_PER_CLASS) cls.warm++
      else this.retirePage(cls, page)
    }
  }

  view(allocation: Allocation): ArrayBuffer {
    if (allocation instanceof PageAllocation && allocation.allocator === this) return this.large.viewAs(this, allocation)
    const a = this.own(allocation, false)
    if (a.ab === null) {
      const page = a.page
      a.ab = os.view(page.owner.mapping.region, page.offset + a.index * page.slotSize, a.byteLength)
    }
    return a.ab
  }

  protect(allocation: Allocation, access: Access): void {
    if (allocation instanceof PageAllocation && allocation.allocator === this) {
      this.large.protectAs(this, allocation, access)
      return
    }
    this.own(allocation, false)
    throw new AllocError('ERR_NOT_ISOLATED', 'A slot allocation shares its page with other secrets and cannot be protected')
  }

  protections(allocation: Allocation): Protections {
    if (allocation instanceof PageAllocation && allocation.allocator === this) return this.large.protectionsAs(this, allocation)
    const a = this.own(allocation, false)
    const m = a.page.owner.mapping
    return reported({
      locked: a.page.locked,
      noDump: m.noDump,
      wipeOnFork: m.wipeOnFork,
      dontFork: m.dontFork,
      guardPages: true,
      canary: a.page.slotSize > a.byteLength,
      secretmem: m.secretmem,
      isolated: false,
      access: 'readwrite'
    })
  }

  stats(): AllocatorStats {
    const c = this.counters
    const large = this.large.stats()
    const mappedPages = this.mappings.length * (this.pagesPerMapping + 2)
    return {
      allocations: c.allocations + large.allocations,
      bytes: c.bytes + large.bytes,
      mappedBytes: mappedPages * PAGE_SIZE + large.mappedBytes,
      lockedBytes: c.lockedPages * PAGE_SIZE + large.lockedBytes,
      cachedPages: c.cachedPages + large.cachedPages,
      mappings: this.mappings.length + large.mappings,
      cacheHits: c.cacheHits + large.cacheHits,
      unlockedAllocations: c.unlocked + large.unlockedAllocations
    }
  }

  /** Releases every mapping whose pages are all cached, and the large allocator's cache. */
  trim(): void {
    for (const m of this.mappings.slice()) {
      if (m.cached === m.pages.length) this.unmapMapping(m)
    }
    this.large.trim()
  }

  private own(allocation: unknown, freeing: boolean): SlotAllocation {
    if (!(allocation instanceof SlotAllocation) || allocation.allocator !== this) rejectAllocation(allocation)
    checkLive(allocation, freeing)
    // A copy carries the internals but is not the live handle: freeing it would free
    // the original's slot (or, once reused, another secret's) behind its back.
    if (allocation.page?.holders[allocation.index] !== allocation) rejectAllocation(allocation)
    return allocation
  }

  /** A random page of the class with a free slot, activating a cached or new page if none. */
  private openPage(cls: SlotClass): SlotPage {
    const n = cls.open.length
    if (n > 0) return cls.open[this.random.below(n)] as SlotPage
    const page = this.activate(cls)
    page.openIndex = cls.open.length
    cls.open.push(page)
    cls.warm++
    return page
  }

  /** A random free slot of the page, marked used. */
  private takeSlot(page: SlotPage): number {
    const slots = page.slots
    let i = this.random.below(slots)
    for (let tries = 0; tries < slots; tries++) {
      const word = i >>> 5
      const bit = 1 << (i & 31)
      const w = page.used[word] as number
      if ((w & bit) === 0) {
        page.used[word] = w | bit
        return i
      }
      i = i + 1 === slots ? 0 : i + 1
    }
    return integrityFailure(this.integrity, 'slot allocator metadata: an open page has no free slot')
  }

  private closePage(cls: SlotClass, page: SlotPage): void {
    const last = cls.open.pop() as SlotPage
    if (last !== page) {
      cls.open[page.openIndex] = last
      last.openIndex = page.openIndex
    }
    page.openIndex = -1
  }

  private reopenPage(cls: SlotClass, page: SlotPage): void {
    page.openIndex = cls.open.length
    cls.open.push(page)
  }

  /** Takes the lowest cached page (packing mappings), or maps a new group; makes it read-write and locks it. */
  private activate(cls: SlotClass): SlotPage {
    let page: SlotPage | undefined
    for (const m of this.mappings) {
      if (m.cached === 0) continue
      page = m.pages.find((p) => p.cls < 0)
      break
    }
    const fresh = page === undefined
    if (page === undefined) page = this.mapGroup().pages[0] as SlotPage
    const mapping = page.owner.mapping
    os.protect(mapping.region, page.offset, PAGE_SIZE, 'readwrite')
    try {
      page.locked = lockRange(mapping, page.offset, PAGE_SIZE, this.mlock, this.warner)
    } catch (err) {
      os.protect(mapping.region, page.offset, PAGE_SIZE, 'none')
      // A failed alloc leaves nothing behind: a group mapped for it goes with it.
      if (fresh) this.unmapMapping(page.owner)
      throw err
    }
    if (!fresh) this.counters.cacheHits++
    // secretmem pages are counted locked by the mapping (the kernel locks all of it).
    if (page.locked && !mapping.secretmem) this.counters.lockedPages++
    page.owner.cached--
    this.counters.cachedPages--
    page.cls = this.classes.indexOf(cls)
    page.slotSize = cls.size
    page.slots = Math.floor(PAGE_SIZE / cls.size)
    page.used = new Uint32Array(Math.ceil(page.slots / 32))
    page.holders = new Array<SlotAllocation | undefined>(page.slots).fill(undefined)
    page.live = 0
    return page
  }

  /** An empty page leaves its class: PROT_NONE, unlocked, cached; whole mappings go when over the limit. */
  private retirePage(cls: SlotClass, page: SlotPage): void {
    this.closePage(cls, page)
    const mapping = page.owner.mapping
    os.protect(mapping.region, page.offset, PAGE_SIZE, 'none')
    if (page.locked) {
      unlockRange(mapping, page.offset, PAGE_SIZE)
      if (!mapping.secretmem) this.counters.lockedPages--
      page.locked = false
    }
    page.cls = -1
    page.owner.cached++
    this.counters.cachedPages++
    if (this.counters.cachedPages > this.cacheLimit && page.owner.cached === page.owner.pages.length) {
      this.unmapMapping(page.owner)
    }
  }

  private mapGroup(): SlotMapping {
    const mapping = mapGuarded(this.pagesPerMapping, this.secretmem, this.warner, true)
    const group: SlotMapping = { mapping, pages: [], cached: this.pagesPerMapping, alive: true }
    for (let i = 0; i < this.pagesPerMapping; i++) {
      group.pages.push({
        owner: group,
        offset: DATA_OFFSET + i * PAGE_SIZE,
        cls: -1,
        slotSize: 0,
        slots: 0,
        used: new Uint32Array(0),
        holders: [],
        live: 0,
        locked: false,
        openIndex: -1
      })
    }
    this.mappings.push(group)
    this.counters.cachedPages += this.pagesPerMapping
    // memfd_secret memory is locked by the kernel from mmap on, guard pages included
    // (VmLck and RLIMIT_MEMLOCK count the whole mapping).
    if (mapping.secretmem) this.counters.lockedPages += this.pagesPerMapping + 2
    return group
  }

  private unmapMapping(m: SlotMapping): void {
    os.unmap(m.mapping.region)
    m.alive = false
    this.mappings.splice(this.mappings.indexOf(m), 1)
    this.counters.cachedPages -= m.pages.length
    if (m.mapping.secretmem) this.counters.lockedPages -= m.pages.length + 2
  }
}
