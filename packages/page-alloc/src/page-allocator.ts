/**
 * The page allocator: one guarded mapping per allocation, libsodium's layout.
 *
 *   [guard][ ...front slack | front canary | data | tail canary ][guard]
 *                                                              ^ trailing guard page
 *
 * The data ends at the trailing guard page, its start rounded down to
 * `alignment`; the bytes between the data end and the guard (fewer than
 * `alignment`) and `frontCanary` bytes right before the data hold a canary
 * checked on free. A native overflow past the data faults at once (or is
 * caught by the tail canary); an underflow hits the front canary.
 * The allocation owns its pages, so `protect()` is allowed.
 * Freed mappings have their data wiped (the canaries stay for a same-size
 * reuse), are made PROT_NONE and cached (bounded) for reuse.
 */
import os = require('@tarsjs/os-memlock')
import type { Access, Allocation, Allocator, AllocatorCapabilities, AllocatorStats, Protections } from './allocator.js'
import { reported } from './development-mode.js'
import { Canary } from './canary.js'
import { AllocError, checkByteLength, checkLive, rejectAllocation } from './errors.js'
import { DATA_OFFSET, PAGE_SIZE, lockRange, mapGuarded } from './guarded-mapping.js'
import type { GuardedMapping } from './guarded-mapping.js'
import { integrityFailure } from './integrity.js'
import { describeHandle, inspectCustom } from './redact.js'
import { Warner, integrityPolicy, intOption, mlockPolicy, secretmemPolicy } from './policy.js'
import type { IntegrityPolicy, MlockPolicy, SecretmemPolicy } from './policy.js'

/** Options of `PageAllocator`; every one has a safe default. */
export interface PageAllocatorOptions {
  /** What a failed mlock means. Default `'best-effort'` (reported, one warning). */
  mlock?: MlockPolicy
  /** memfd_secret backing. Default `'auto'`. */
  secretmem?: SecretmemPolicy
  /** Corrupted canary: `'abort'` (default) or `'throw'`. */
  integrity?: IntegrityPolicy
  /** Alignment of the data start, a power of two from 1 to 4096. Default 16. */
  alignment?: number
  /** Canary bytes right before the data, 0 to 64. Default 16. */
  frontCanary?: number
  /** Byte that fresh allocations are filled with. Default 0. */
  fillByte?: number
  /** Freed mappings kept for reuse, 0 to 4096. Default 32. */
  cacheLimit?: number
}

interface Mapped {
  readonly mapping: GuardedMapping
  readonly locked: boolean
  /** The live allocation in this mapping: a copy of a handle (spread, Object.create) is not the handle. */
  holder: PageAllocation | null
  /**
   * The layout (data start, byte length) whose canaries still stand in this
   * cached mapping, or -1: free wipes the data and leaves the canaries, so the
   * next allocation of the same size finds them in place.
   */
  canaryStart: number
  canaryLength: number
}

/** An allocation of a `PageAllocator`. Opaque to everyone but its allocator. */
export class PageAllocation implements Allocation {
  readonly byteLength: number
  readonly allocator: Allocator
  freed = false
  /** @internal */ readonly home: PageAllocator
  /** @internal */ readonly mapped: Mapped
  /** @internal */ readonly start: number
  /** @internal */ access: Access = 'readwrite'
  /** @internal */ ab: ArrayBuffer | null = null

  /** @internal */
  constructor(home: PageAllocator, owner: Allocator, mapped: Mapped, start: number, byteLength: number) {
    this.home = home
    this.allocator = owner
    this.mapped = mapped
    this.start = start
    this.byteLength = byteLength
  }

  /** Prints as `PageAllocation(32 bytes)`, never the memory. */
  [inspectCustom](): string {
    return describeHandle('PageAllocation', this)
  }

  toJSON(): string {
    return describeHandle('PageAllocation', this)
  }
}

const ACCESS: readonly Access[] = ['none', 'read', 'readwrite']
const KEEP_VIEWS = Object.freeze({ keepViews: true })

export function checkAccess(access: unknown): Access {
  if (typeof access !== 'string' || !(ACCESS as readonly string[]).includes(access)) {
    throw new AllocError('ERR_INVALID_ARG_VALUE', "The \"access\" argument must be 'none', 'read' or 'readwrite'")
  }
  return access as Access
}

export class PageAllocator implements Allocator {
  readonly name: string = 'page'
  readonly capabilities: AllocatorCapabilities
  private readonly mlock: MlockPolicy
  private readonly secretmem: SecretmemPolicy
  private readonly integrity: IntegrityPolicy
  private readonly alignment: number
  private readonly frontCanary: number
  private readonly fillByte: number
  private readonly cacheLimit: number
  private readonly canary: Canary
  private readonly warner = new Warner()
  /** Cached mappings by number of data pages. */
  private readonly cache = new Map<number, Mapped[]>()
  private cachedMappings = 0
  private counters = { allocations: 0, bytes: 0, mappings: 0, mappedPages: 0, lockedPages: 0, cachedPages: 0, cacheHits: 0, unlocked: 0 }

  constructor(options: PageAllocatorOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new AllocError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object')
    }
    this.mlock = mlockPolicy(options.mlock)
    this.secretmem = secretmemPolicy(options.secretmem, 'auto')
    this.integrity = integrityPolicy(options.integrity)
    this.alignment = intOption('alignment', options.alignment, 1, PAGE_SIZE, 16)
    if ((this.alignment & (this.alignment - 1)) !== 0) {
      throw new AllocError('ERR_OUT_OF_RANGE', 'The "alignment" option must be a power of two')
    }
    this.frontCanary = intOption('frontCanary', options.frontCanary, 0, 64, 16)
    this.fillByte = intOption('fillByte', options.fillByte, 0, 255, 0)
    this.cacheLimit = intOption('cacheLimit', options.cacheLimit, 0, 4096, 32)
    this.canary = new Canary(this.alignment + this.frontCanary)
    this.capabilities = { protect: true, alignment: this.alignment }
  }

  /** Allocates `byteLength` bytes (0 allowed) in a mapping of its own. */
  alloc(byteLength: number): PageAllocation {
    return this.allocFor(this, byteLength)
  }

  /** @internal Allocates on behalf of another allocator (which then owns the allocation). */
  allocFor(owner: Allocator, byteLength: number): PageAllocation {
    const n = checkByteLength(byteLength, true)
    const pages = this.pagesFor(n)
    const mapped = this.takeCached(pages) ?? this.mapNew(pages)
    const region = mapped.mapping.region
    const end = DATA_OFFSET + pages * PAGE_SIZE
    const start = end - roundUp(n, this.alignment)
    const front = start - this.frontCanary
    if (mapped.canaryStart !== start || mapped.canaryLength !== n) {
      // Another layout's canaries may stand where this one's data goes: wipe them first.
      if (mapped.canaryStart !== -1) {
        const from = Math.min(front, mapped.canaryStart - this.frontCanary)
        os.wipe(region, from, end - from)
      }
      this.canary.write(region, front, this.frontCanary)
      this.canary.write(region, start + n, end - start - n)
    }
    mapped.canaryStart = -1
    if (this.fillByte !== 0 && n > 0) os.fill(region, start, n, this.fillByte)
    this.counters.allocations++
    this.counters.bytes += n
    if (!mapped.locked) this.counters.unlocked++
    const a = new PageAllocation(this, owner, mapped, start, n)
    mapped.holder = a
    return a
  }

  free(allocation: Allocation): void {
    this.freeAs(this, allocation)
  }

  /** @internal Frees an allocation made by `allocFor(owner, ...)`; only its owner may. */
  freeAs(owner: Allocator, allocation: Allocation): void {
    const a = this.own(allocation, true, owner)
    const { mapping } = a.mapped
    const region = mapping.region
    const pages = mapping.dataPages
    if (a.access !== 'readwrite') {
      os.protect(region, DATA_OFFSET, pages * PAGE_SIZE, 'readwrite')
      // Recorded at once: under integrity 'throw' a failed canary check leaves the allocation live.
      a.access = 'readwrite'
    }
    const end = DATA_OFFSET + pages * PAGE_SIZE
    const front = a.start - this.frontCanary
    if (!this.canary.intact(region, front, this.frontCanary)) {
      integrityFailure(this.integrity, `canary before a ${a.byteLength}-byte page allocation was overwritten (buffer underflow)`)
    }
    if (!this.canary.intact(region, a.start + a.byteLength, end - a.start - a.byteLength)) {
      integrityFailure(this.integrity, `canary after a ${a.byteLength}-byte page allocation was overwritten (buffer overflow)`)
    }
    // The view is detached by release(): protect('none') and unmap detach every view.
    a.ab = null
    // The data is wiped; the canaries stay for the next allocation of this size.
    if (a.byteLength > 0) os.wipe(region, a.start, a.byteLength)
    a.mapped.canaryStart = a.start
    a.mapped.canaryLength = a.byteLength
    a.freed = true
    a.mapped.holder = null
    a.access = 'none'
    this.counters.allocations--
    this.counters.bytes -= a.byteLength
    if (!a.mapped.locked) this.counters.unlocked--
    this.release(a.mapped)
  }

  view(allocation: Allocation): ArrayBuffer {
    return this.viewAs(this, allocation)
  }

  /** @internal */
  viewAs(owner: Allocator, allocation: Allocation): ArrayBuffer {
    const a = this.own(allocation, false, owner)
    if (a.access === 'none') throw new AllocError('ERR_NO_ACCESS', "The allocation is protected 'none'; it has no view")
    if (a.byteLength === 0) return new ArrayBuffer(0)
    if (a.ab === null || a.ab.byteLength === 0) a.ab = os.view(a.mapped.mapping.region, a.start, a.byteLength)
    return a.ab
  }

  /**
   * Changes the protection of the allocation's pages. `'none'` detaches its
   * view first; `'read'` keeps it attached, and a JavaScript write through it
   * then faults (SIGSEGV), as in a ProtKey read window. `{ keepViews: true }` is for libsodium-compatible buffers only:
   * the view stays attached across `'none'` and touching it then faults (SIGSEGV),
   * as with `sodium_mprotect_noaccess`.
   */
  protect(allocation: Allocation, access: Access, options?: { keepViews?: boolean }): void {
    this.protectAs(this, allocation, access, options)
  }

  /** @internal */
  protectAs(owner: Allocator, allocation: Allocation, access: Access, options?: { keepViews?: boolean }): void {
    const a = this.own(allocation, false, owner)
    const mode = checkAccess(access)
    const keepViews = options?.keepViews === true
    const region = a.mapped.mapping.region
    const length = a.mapped.mapping.dataPages * PAGE_SIZE
    if (keepViews) os.protect(region, DATA_OFFSET, length, mode, KEEP_VIEWS)
    else os.protect(region, DATA_OFFSET, length, mode)
    if (mode === 'none' && !keepViews) a.ab = null
    a.access = mode
  }

  protections(allocation: Allocation): Protections {
    return this.protectionsAs(this, allocation)
  }

  /** @internal */
  protectionsAs(owner: Allocator, allocation: Allocation): Protections {
    const a = this.own(allocation, false, owner)
    const m = a.mapped.mapping
    return reported({
      locked: a.mapped.locked,
      noDump: m.noDump,
      wipeOnFork: m.wipeOnFork,
      dontFork: m.dontFork,
      guardPages: true,
      canary: this.frontCanary > 0 || roundUp(a.byteLength, this.alignment) > a.byteLength,
      secretmem: m.secretmem,
      isolated: true,
      access: a.access
    })
  }

  stats(): AllocatorStats {
    const c = this.counters
    return {
      allocations: c.allocations,
      bytes: c.bytes,
      mappedBytes: c.mappedPages * PAGE_SIZE,
      lockedBytes: c.lockedPages * PAGE_SIZE,
      cachedPages: c.cachedPages,
      mappings: c.mappings,
      cacheHits: c.cacheHits,
      unlockedAllocations: c.unlocked
    }
  }

  /** Unmaps every cached mapping. */
  trim(): void {
    for (const list of this.cache.values()) {
      for (const mapped of list) this.unmapMapped(mapped)
    }
    this.cache.clear()
    this.cachedMappings = 0
    this.counters.cachedPages = 0
  }

  /**
   * @internal Validates an allocation: made here for `owner` (allocations made
   * for a SlotAllocator are accepted only through it), and live unless freeing
   * (then a double free).
   */
  own(allocation: unknown, freeing: boolean, owner: Allocator): PageAllocation {
    if (!(allocation instanceof PageAllocation) || allocation.home !== this || allocation.allocator !== owner) {
      rejectAllocation(allocation)
    }
    checkLive(allocation, freeing)
    // A copy carries the internals but is not the live handle (see SlotAllocator).
    if (allocation.mapped?.holder !== allocation) rejectAllocation(allocation)
    return allocation
  }

  private pagesFor(n: number): number {
    return Math.max(1, Math.ceil((roundUp(n, this.alignment) + this.frontCanary) / PAGE_SIZE))
  }

  private takeCached(pages: number): Mapped | undefined {
    const mapped = this.cache.get(pages)?.pop()
    if (mapped === undefined) return undefined
    os.protect(mapped.mapping.region, DATA_OFFSET, pages * PAGE_SIZE, 'readwrite')
    this.cachedMappings--
    this.counters.cachedPages -= pages
    this.counters.cacheHits++
    return mapped
  }

  private mapNew(pages: number): Mapped {
    const mapping = mapGuarded(pages, this.secretmem, this.warner, false)
    let locked: boolean
    try {
      locked = lockRange(mapping, DATA_OFFSET, pages * PAGE_SIZE, this.mlock, this.warner, true)
    } catch (err) {
      os.unmap(mapping.region)
      throw err
    }
    this.counters.mappings++
    this.counters.mappedPages += pages + 2
    if (locked) this.counters.lockedPages += lockedPagesOf(mapping)
    return { mapping, locked, holder: null, canaryStart: -1, canaryLength: 0 }
  }

  /** Caches a wiped mapping (PROT_NONE), or unmaps it when the cache is full. */
  private release(mapped: Mapped): void {
    const pages = mapped.mapping.dataPages
    if (this.cachedMappings >= this.cacheLimit) {
      this.unmapMapped(mapped)
      return
    }
    os.protect(mapped.mapping.region, DATA_OFFSET, pages * PAGE_SIZE, 'none')
    let list = this.cache.get(pages)
    if (list === undefined) {
      list = []
      this.cache.set(pages, list)
    }
    list.push(mapped)
    this.cachedMappings++
    this.counters.cachedPages += pages
  }

  private unmapMapped(mapped: Mapped): void {
    os.unmap(mapped.mapping.region)
    this.counters.mappings--
    this.counters.mappedPages -= mapped.mapping.dataPages + 2
    if (mapped.locked) this.counters.lockedPages -= lockedPagesOf(mapped.mapping)
  }
}

/** Pages the kernel counts as locked: the data, or all of a secretmem mapping (its guards too). */
function lockedPagesOf(mapping: GuardedMapping): number {
  return mapping.secretmem ? mapping.dataPages + 2 : mapping.dataPages
}

function roundUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment
}
