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
 * Freed mappings have their data wiped at once (the canaries stay for a
 * same-size reuse) and wait in quarantine, still readable and writable (zeros),
 * so that a native holder of the old pointer never faults and never sees
 * another secret; after the quarantine their data is wiped again and they are
 * cached (bounded) for reuse, still read-write and locked. A mapping whose view escaped is never reused: it is
 * wiped and let go, and os-memlock unmaps it once every ArrayBuffer over it
 * has been collected.
 */
import os = require('@tarsjs/os-memlock')
import { AllocationHandle, handleState } from './allocation-handle.js'
import type { HandleState } from './allocation-handle.js'
import type { Access, Allocation, Allocator, AllocatorCapabilities, AllocatorStats, Protections } from './allocator.js'
import { reported } from './development-mode.js'
import { Canary } from './canary.js'
import { checkCopyBuffer } from './copy-buffer.js'
import { AllocError, checkByteLength, checkLive, checkOptionsObject, rejectAllocation } from './errors.js'
import { escaped, escapedViewError, warnEscaped } from './escaped-view.js'
import { GUARDED_VMAS, PAGE_SIZE, lockRange, mapGuarded } from './guarded-mapping.js'
import type { GuardedMapping } from './guarded-mapping.js'
import type { Region } from '@tarsjs/os-memlock'
import { holdsCharge } from './charge-pressure.js'
import type { ChargeHolder } from './charge-pressure.js'
import { integrityFailure } from './integrity.js'
import { mapBudgetSnapshot, theMapBudget } from './map-budget.js'
import { PageSlabs } from './page-slab.js'
import { pageStats } from './page-stats.js'
import { Quarantine, quarantineLimits } from './quarantine.js'
import type { QuarantineLimits, QuarantineOptions } from './quarantine.js'
import { describeAllocator, inspectCustom } from './redact.js'
import { Warner, integrityPolicy, warningPolicy, intOption, mlockPolicy, protectionKeyPolicy, secretmemPolicy } from './policy.js'
import type { IntegrityPolicy, MlockPolicy, ProtectionKeyPolicy, SecretmemPolicy, WarningPolicy } from './policy.js'

/** Options of `PageAllocator`; every one has a safe default. */
export interface PageAllocatorOptions {
  /** What a failed mlock means. Default `'best-effort'` (reported, one warning). */
  mlock?: MlockPolicy
  /**
   * How often a missing protection is warned about (`process.emitWarning`): `'once'` per code and allocator
   * (default; later ones show in `stats().unlockedAllocations`), or `'always'`, once for every such allocation.
   */
  warnings?: WarningPolicy
  /** memfd_secret backing. Default `'auto'`. */
  secretmem?: SecretmemPolicy
  /**
   * How `protect(a, 'none')` denies access. Default `'off'`: `mprotect(PROT_NONE)`. `'auto'`: with this process's
   * memory protection key where the CPU and kernel have one (x86-64 PKU): the pages stay read-write in the page
   * tables and every thread's PKRU register denies them, so `copyOut`/`copyIn` can read and write them in tens of
   * nanoseconds instead of an mprotect pair's microseconds; elsewhere `PROT_NONE` (`protections().protectionKey`
   * says which). `'required'`: throws `ERR_PROTECTION_KEY_UNAVAILABLE` at construction without a key.
   */
  protectionKey?: ProtectionKeyPolicy
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
  /** Most data bytes the cache holds, 0 to 2^30. Default 1 MiB: a larger freed mapping is unmapped, not cached. */
  cacheBytes?: number
  /**
   * Most cached bytes charged to RLIMIT_MEMLOCK (locked or secretmem), 0 to 2^30. Default 256 KiB. Beyond it a
   * freed mapping is unmapped; and whenever a lock or a secretmem mapping is refused for the limit, the whole
   * cache and the charge of quarantined mappings are given back first.
   */
  cacheChargedBytes?: number
  /** How long freed mappings stay out of reuse. Default `{ frees: 16, bytes: 262144 }` (data bytes; see `Quarantine`). */
  quarantine?: QuarantineOptions
}

/** Options of `PageAllocator#protect`. */
export interface ProtectOptions {
  /** For libsodium-compatible buffers only: the view stays attached across `'none'` (touching it then faults). */
  keepViews?: boolean
  /**
   * With `'none'`: move the data to fresh pages first. The old pages are wiped and stay mapped,
   * read-write, with the current view still attached (it reads zeros), until every ArrayBuffer over
   * them has been collected; they are never reused. For closing a window while native work (a
   * thread-pool request such as `fs.write`) may still hold its view: that work then reads or writes
   * zeros instead of faulting. Costs a fresh mapping and a copy.
   */
  relocate?: boolean
}

interface Mapped {
  readonly mapping: GuardedMapping
  /** Charged to RLIMIT_MEMLOCK: locked, or secretmem. False once its charge was given back (then never reused). */
  locked: boolean
  /** Its charge was given back while in quarantine: unmapped when it leaves, never cached. */
  relieved: boolean
  /**
   * The layout (data start, byte length) whose canaries still stand in this
   * cached mapping, or -1: free wipes the data and leaves the canaries, so the
   * next allocation of the same size finds them in place.
   */
  canaryStart: number
  canaryLength: number
}

/** What the allocator knows of one page allocation; never reachable from the handle's public side. */
interface PageState extends HandleState {
  readonly home: PageAllocator
  /** The mapping holding the data; replaced when an escaped key moves (see `protectAs`). */
  mapped: Mapped
  /** Where the data starts in its region; changes when the data moves (see `#moveAway`). */
  start: number
  access: Access
  /** The view handed out, kept to detach it and to notice an escape. */
  view: ArrayBuffer | null
  /** The view was handed over (`handOverView`): its holder keeps it and gives it back to `freeHandedOver`. */
  handedOver: boolean
  /** A view was detached by someone else: this mapping is never reused. */
  escaped: boolean
}

/**
 * An allocation of a `PageAllocator`. Opaque: all state is private, so spread, clone or serialize it and you get `{}`.
 * @example
 * ```js
 * import { PageAllocator } from '@tarsjs/page-alloc'
 * const pages = new PageAllocator()
 * const a = pages.alloc(32)
 * console.log(a.byteLength, a.freed, a.allocator === pages) // 32 false true
 * pages.free(a)
 * ```
 */
export class PageAllocation extends AllocationHandle<PageState> {
  /** @internal */
  constructor(state: PageState) {
    super(state)
  }
}

/**
 * @internal Where a live page allocation's data is, for tests that simulate
 * native corruption. Not exported from the package index.
 */
export function pagePlace(allocation: PageAllocation): { region: Region; start: number; dataPages: number; dataOffset: number } {
  const { mapped, start } = handleState(allocation, PageAllocation) as PageState
  return { region: mapped.mapping.region, start, dataPages: mapped.mapping.dataPages, dataOffset: mapped.mapping.offset }
}

const ACCESS: readonly Access[] = ['none', 'read', 'readwrite']
const KEEP_VIEWS = Object.freeze({ keepViews: true })

/** Default quarantine: one event-loop turn and 16 later frees, at most 256 KiB of data pages held. */
const QUARANTINE: QuarantineLimits = Object.freeze({ frees: 16, bytes: 256 * 1024 })

/**
 * Checks an `access` argument: `'none'`, `'read'` or `'readwrite'`. For backends' `protect`.
 * @throws {AllocError} `ERR_INVALID_ARG_VALUE` for anything else
 * @example
 * ```js
 * import { checkAccess } from '@tarsjs/page-alloc'
 * console.log(checkAccess('read')) // read
 * ```
 */
export function checkAccess(access: unknown): Access {
  if (typeof access !== 'string' || !(ACCESS as readonly string[]).includes(access)) {
    throw new AllocError('ERR_INVALID_ARG_VALUE', "The \"access\" argument must be 'none', 'read' or 'readwrite'")
  }
  return access as Access
}

/**
 * An `Allocator` with one guarded mapping per allocation (libsodium's layout): locked, no-dump, wipe-on-fork, a canary, protectable page by page. The allocator behind `ProtKey`.
 * @example
 * ```js
 * import { PageAllocator } from '@tarsjs/page-alloc'
 * const pages = new PageAllocator()
 * const a = pages.alloc(32)
 * console.log(pages.protections(a).isolated) // true: the allocation owns its pages
 * pages.free(a)
 * ```
 */
export class PageAllocator implements Allocator, ChargeHolder {
  readonly name: string = 'page'
  readonly capabilities: AllocatorCapabilities
  readonly #mlock: MlockPolicy
  readonly #secretmem: SecretmemPolicy
  /** `protect(a, 'none')` keys the pages (os-memlock's 'keyed') instead of PROT_NONE. */
  readonly #keyed: boolean
  readonly #integrity: IntegrityPolicy
  readonly #alignment: number
  readonly #frontCanary: number
  readonly #fillByte: number
  readonly #cacheLimit: number
  readonly #cacheBytes: number
  readonly #cacheChargedBytes: number
  readonly #slabs: PageSlabs
  readonly #canary: Canary
  readonly #warner: Warner
  /** Cached mappings by number of data pages. */
  readonly #cache = new Map<number, Mapped[]>()
  /**
   * Each view `handOverView` made, to the allocation it is a view of. Keyed by
   * the view, so it keeps neither alive: the holder's ArrayBuffer can still be
   * collected (and its backstop free the allocation). `freeHandedOver` detaches
   * only a view found here for that very allocation.
   */
  readonly #handed = new WeakMap<ArrayBuffer, PageState>()
  readonly #quarantine: Quarantine<Mapped>
  #cachedMappings = 0
  #counters = {
    allocations: 0,
    bytes: 0,
    mappings: 0,
    mappedPages: 0,
    lockedPages: 0,
    secretPages: 0,
    cachedPages: 0,
    cachedChargedPages: 0,
    cacheHits: 0,
    unlocked: 0,
    escapedBytes: 0,
    retiredBytes: 0,
    chargeReleases: 0
  }

  /**
   * One guarded mapping per allocation (libsodium's layout); the allocator behind `ProtKey`.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` / `ERR_OUT_OF_RANGE` for a bad option; `ERR_SECRETMEM_UNAVAILABLE` under `secretmem: 'required'` without memfd_secret
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const key = pages.alloc(32)
   * const bytes = new Uint8Array(pages.view(key))
   * pages.protect(key, 'none')
   * console.log(bytes.length) // 0: detached before the pages became inaccessible
   * pages.free(key)
   * ```
   */
  constructor(options?: PageAllocatorOptions) {
    const o = checkOptionsObject<PageAllocatorOptions>(options)
    this.#mlock = mlockPolicy(o.mlock)
    this.#secretmem = secretmemPolicy(o.secretmem, 'auto')
    this.#keyed = usesProtectionKey(protectionKeyPolicy(o.protectionKey))
    this.#integrity = integrityPolicy(o.integrity)
    this.#warner = new Warner(warningPolicy(o.warnings))
    this.#alignment = intOption('alignment', o.alignment, 1, PAGE_SIZE, 16)
    if ((this.#alignment & (this.#alignment - 1)) !== 0) {
      throw new AllocError('ERR_OUT_OF_RANGE', 'The "alignment" option must be a power of two')
    }
    this.#frontCanary = intOption('frontCanary', o.frontCanary, 0, 64, 16)
    this.#fillByte = intOption('fillByte', o.fillByte, 0, 255, 0)
    this.#cacheLimit = intOption('cacheLimit', o.cacheLimit, 0, 4096, 32)
    this.#cacheBytes = intOption('cacheBytes', o.cacheBytes, 0, 2 ** 30, 1024 * 1024)
    this.#cacheChargedBytes = intOption('cacheChargedBytes', o.cacheChargedBytes, 0, 2 ** 30, 256 * 1024)
    this.#slabs = new PageSlabs(this.#secretmem, this.#warner)
    holdsCharge(this)
    this.#quarantine = new Quarantine(quarantineLimits(o.quarantine, QUARANTINE), (mapped) => this.#cacheOrUnmap(mapped))
    this.#canary = new Canary(this.#alignment + this.#frontCanary)
    this.capabilities = { protect: true, alignment: this.#alignment }
  }

  /**
   * Allocates `byteLength` bytes (0 allowed) in a mapping of its own.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` (`AllocError`) for a length that is not an integer from 0 to 2^30; `ERR_MLOCK_FAILED` under `mlock: 'required'`; the OS error (`ENOMEM`, `EAGAIN`, `ENOSYS`, `EPERM`) when the kernel refuses memory; nothing is allocated when it throws
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const a = pages.alloc(100)
   * console.log(a.byteLength, pages.stats().mappings) // 100 1
   * pages.free(a)
   * ```
   */
  alloc(byteLength: number): PageAllocation {
    return this.allocFor(this, byteLength)
  }

  /** @internal Allocates on behalf of another allocator (which then owns the allocation). */
  allocFor(owner: Allocator, byteLength: number): PageAllocation {
    const n = checkByteLength(byteLength, true)
    const pages = this.#pagesFor(n)
    const mapped = this.#takeCached(pages) ?? this.#mapNew(pages)
    const start = this.#layOut(mapped, n)
    if (this.#fillByte !== 0 && n > 0) os.fill(mapped.mapping.region, start, n, this.#fillByte)
    this.#counters.allocations++
    this.#counters.bytes += n
    if (!mapped.locked) this.#counters.unlocked++
    return new PageAllocation({
      home: this,
      allocator: owner,
      mapped,
      start,
      byteLength: n,
      freed: false,
      access: 'readwrite',
      view: null,
      handedOver: false,
      escaped: false
    })
  }

  /**
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_DOUBLE_FREE`; a corrupted canary ends the process (or throws `ERR_INTEGRITY` under `integrity: 'throw'`)
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const a = pages.alloc(32)
   * const bytes = new Uint8Array(pages.view(a))
   * pages.free(a) // canary checked, wiped, view detached
   * console.log(bytes.length, a.freed) // 0 true
   * ```
   */
  free(allocation: Allocation): void {
    this.freeAs(this, allocation)
  }

  /**
   * @internal Frees an allocation made by `allocFor(owner, ...)`; only its owner may.
   * Checks the canaries, detaches the view and wipes the data now; the mapping
   * then waits in quarantine (readable zeros) before it is cached or unmapped.
   * A system call that fails leaves the allocation live: free can be retried.
   * `handedView` is the view handed over by `handOverView`, when its holder still has it.
   */
  freeAs(owner: Allocator, allocation: Allocation, handedView?: ArrayBuffer): void {
    this.#free(owner, allocation, handedView, false)
  }

  /**
   * Frees an allocation for good, for memory that native work may still hold for longer than any quarantine:
   * canaries checked and data wiped as `free` does, but the view stays attached (reading zeros) and the mapping is
   * let go: never reused, unmapped by os-memlock once every ArrayBuffer over it has been collected
   * (`stats().retiredBytes`).
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_DOUBLE_FREE`; a corrupted canary ends the process (or throws `ERR_INTEGRITY` under `integrity: 'throw'`)
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const a = pages.alloc(32)
   * const bytes = new Uint8Array(pages.view(a))
   * bytes.fill(7)
   * pages.retire(a)
   * console.log(bytes.length, bytes[0], a.freed) // 32 0 true
   * ```
   */
  retire(allocation: Allocation): void {
    this.#free(this, allocation, undefined, true)
  }

  /** @internal `retire` of an allocation made by `allocFor(owner, ...)`. */
  retireAs(owner: Allocator, allocation: Allocation): void {
    this.#free(owner, allocation, undefined, true)
  }

  #free(owner: Allocator, allocation: Allocation, handedView: ArrayBuffer | undefined, retire: boolean): void {
    const s = this.own(allocation, true, owner)
    const { mapping } = s.mapped
    const region = mapping.region
    const pages = mapping.dataPages
    if (s.access !== 'readwrite') {
      os.protect(region, mapping.offset, pages * PAGE_SIZE, 'readwrite')
      // Recorded at once: under integrity 'throw' a failed canary check leaves the allocation live.
      s.access = 'readwrite'
    }
    const end = mapping.offset + pages * PAGE_SIZE
    const front = s.start - this.#frontCanary
    if (!this.#canary.intact(region, front, this.#frontCanary)) {
      integrityFailure(this.#integrity, `canary before a ${s.byteLength}-byte page allocation was overwritten (buffer underflow)`)
    }
    if (!this.#canary.intact(region, s.start + s.byteLength, end - s.start - s.byteLength)) {
      integrityFailure(this.#integrity, `canary after a ${s.byteLength}-byte page allocation was overwritten (buffer overflow)`)
    }
    // A handed-over view that cannot be checked (collected): that mapping is let go rather than reused.
    const unknown = s.handedOver && handedView === undefined
    // Both the allocator's own view and a handed-over one are detached (an empty allocation has no tracked view).
    if (s.byteLength > 0) {
      for (const view of handedView === undefined || handedView === s.view ? [s.view] : [s.view, handedView]) {
        if (escaped(view)) s.escaped = true
        else if (view !== null && !retire) os.detach(view)
      }
    }
    s.view = null
    // The data is wiped; the canaries stay for the next allocation of this size.
    if (s.byteLength > 0) os.wipe(region, s.start, s.byteLength)
    s.mapped.canaryStart = s.start
    s.mapped.canaryLength = s.byteLength
    s.freed = true
    this.#counters.allocations--
    this.#counters.bytes -= s.byteLength
    if (!s.mapped.locked) this.#counters.unlocked--
    if (s.escaped) {
      this.#letGo(s.mapped, true)
      warnEscaped(this.#warner, s.byteLength)
    } else if (retire) {
      this.#letGo(s.mapped, false, true)
      this.#counters.retiredBytes += pages * PAGE_SIZE
    } else if (unknown) {
      this.#letGo(s.mapped, false)
    } else {
      this.#quarantine.add(s.mapped, pages * PAGE_SIZE)
    }
  }

  /**
   * The allocation's view. Throws `ERR_NO_ACCESS` while protected `'none'`, `ERR_VIEW_ESCAPED` once a view was detached by someone else.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`; `ERR_NO_ACCESS` while it is protected `'none'`
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const a = pages.alloc(16)
   * new Uint8Array(pages.view(a)).fill(1)
   * console.log(pages.view(a) === pages.view(a)) // true: one view per allocation
   * pages.free(a)
   * ```
   */
  view(allocation: Allocation): ArrayBuffer {
    return this.viewAs(this, allocation)
  }

  /**
   * The allocation's memory as a fresh ArrayBuffer that the allocator does not keep: for a wrapper whose own
   * collection must be able to free the allocation (a libsodium-style secure buffer over its own ArrayBuffer,
   * freed by a GC backstop when the program forgets it). The holder keeps the view and gives it back to
   * `freeHandedOver`, which detaches it (or, when someone else detached it, never reuses the mapping). One view
   * per allocation: a second call throws.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`; `ERR_NO_ACCESS` while it is protected `'none'`; `ERR_VIEW_ESCAPED` once a view was detached by someone else; `ERR_VIEW_HANDED_OVER` when a view of it was already handed over
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const a = pages.alloc(16)
   * const held = pages.handOverView(a) // the allocator keeps no reference to it
   * new Uint8Array(held).fill(7)
   * pages.freeHandedOver(a, held) // canary checked, wiped, `held` detached
   * console.log(held.byteLength, a.freed) // 0 true
   * ```
   */
  handOverView(allocation: Allocation): ArrayBuffer {
    return this.viewAs(this, allocation, true)
  }

  /**
   * Frees an allocation whose view was handed over by `handOverView`, as `free` does: `view` is that view, or
   * `undefined` when its holder was collected (then nothing can tell whether the view was moved out, so the
   * mapping is wiped and let go, never reused).
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_DOUBLE_FREE`; `ERR_INVALID_ARG_VALUE` for an ArrayBuffer that is not the view `handOverView` gave for this allocation (nothing is freed or detached); a corrupted canary ends the process (or throws `ERR_INTEGRITY` under `integrity: 'throw'`)
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const a = pages.alloc(32)
   * pages.handOverView(a)
   * pages.freeHandedOver(a, undefined) // its holder is gone: wiped, the mapping let go
   * console.log(a.freed) // true
   * ```
   */
  freeHandedOver(allocation: Allocation, view: ArrayBuffer | undefined): void {
    if (view !== undefined && !(view instanceof ArrayBuffer)) {
      throw new AllocError('ERR_INVALID_ARG_TYPE', 'The "view" argument must be an ArrayBuffer or undefined')
    }
    // Only the view handed over for this allocation is detached: another view
    // (of another allocation, or none of ours) is refused before anything changes.
    if (view !== undefined && this.#handed.get(view) !== this.own(allocation, true, this)) {
      throw new AllocError('ERR_INVALID_ARG_VALUE', 'The "view" argument is not the view handOverView gave for this allocation')
    }
    this.freeAs(this, allocation, view)
    if (view !== undefined) this.#handed.delete(view)
  }

  /**
   * @internal With `handOver`, the allocator does not keep the view: its
   * holder does (a secure buffer, whose collection frees it) and passes it back
   * to `freeAs`; freed without it, the mapping is let go instead of reused.
   */
  viewAs(owner: Allocator, allocation: Allocation, handOver = false): ArrayBuffer {
    const s = this.own(allocation, false, owner)
    if (s.access === 'none') throw new AllocError('ERR_NO_ACCESS', "The allocation is protected 'none'; it has no view")
    if (escaped(s.view)) {
      s.escaped = true
      warnEscaped(this.#warner, s.byteLength)
    }
    if (s.escaped) throw escapedViewError()
    if (handOver) {
      // One holder per allocation: free detaches the one view it is given back.
      if (s.handedOver) {
        throw new AllocError('ERR_VIEW_HANDED_OVER', "This allocation's view was already handed over: handOverView gives one view per allocation")
      }
      const held = s.byteLength === 0 ? new ArrayBuffer(0) : os.view(s.mapped.mapping.region, s.start, s.byteLength)
      s.handedOver = true
      this.#handed.set(held, s)
      return held
    }
    if (s.byteLength === 0) return new ArrayBuffer(0)
    s.view ??= os.view(s.mapped.mapping.region, s.start, s.byteLength)
    return s.view
  }

  /**
   * Detaches the allocation's view now, as `free` and `protect(a, 'none')` do,
   * while the allocation stays live: the next `view()` makes a fresh one. For
   * memory that is reused under a new view (a window buffer). Returns false
   * when the view had already been detached by someone else: the allocation
   * then counts as escaped (`view()` throws `ERR_VIEW_ESCAPED`; free it).
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const a = pages.alloc(16)
   * const old = pages.view(a)
   * console.log(pages.dropView(a), old.byteLength, pages.view(a).byteLength) // true 0 16
   * pages.free(a)
   * ```
   */
  dropView(allocation: Allocation): boolean {
    return this.dropViewAs(this, allocation)
  }

  /** @internal `dropView` of an allocation made by `allocFor(owner, ...)`. */
  dropViewAs(owner: Allocator, allocation: Allocation): boolean {
    const s = this.own(allocation, false, owner)
    if (escaped(s.view)) {
      s.escaped = true
      warnEscaped(this.#warner, s.byteLength)
      return false
    }
    if (s.view !== null) os.detach(s.view)
    s.view = null
    return !s.escaped
  }

  /**
   * Changes the protection of the allocation's pages. `'none'` detaches its
   * view first; `'read'` keeps it attached, and a JavaScript write through it
   * then faults (SIGSEGV), as in a ProtKey read window. `{ keepViews: true }` is for libsodium-compatible buffers only:
   * the view stays attached across `'none'` and touching it then faults (SIGSEGV),
   * as with `sodium_mprotect_noaccess`.
   *
   * When `'none'` finds the view escaped (detached by someone else, its memory
   * now in an ArrayBuffer the allocator cannot detach), the data first moves to
   * fresh pages: the old ones stay mapped, wiped and readable, so the escaped
   * buffer reads zeros and never faults.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`; `ERR_INVALID_ARG_VALUE` for an unknown access; `ERR_VIEW_HANDED_OVER` for `'none'` without `keepViews` once a view was handed over (`handOverView`); the OS error from `mprotect`
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const a = pages.alloc(32)
   * const bytes = new Uint8Array(pages.view(a))
   * pages.protect(a, 'none')
   * console.log(bytes.length, pages.protections(a).access) // 0 none
   * pages.protect(a, 'readwrite')
   * pages.free(a)
   * ```
   */
  protect(allocation: Allocation, access: Access, options?: ProtectOptions): void {
    this.protectAs(this, allocation, access, options)
  }

  /** @internal */
  protectAs(owner: Allocator, allocation: Allocation, access: Access, options?: ProtectOptions): void {
    const s = this.own(allocation, false, owner)
    const mode = checkAccess(access)
    const o = checkOptionsObject<ProtectOptions>(options)
    // Each option is read once: a getter cannot pass the check and then give another value.
    const keepViews = o.keepViews
    const relocate = o.relocate
    if (keepViews !== undefined && typeof keepViews !== 'boolean') {
      throw new AllocError('ERR_INVALID_ARG_TYPE', 'The "keepViews" option must be of type boolean')
    }
    if (relocate !== undefined && typeof relocate !== 'boolean') {
      throw new AllocError('ERR_INVALID_ARG_TYPE', 'The "relocate" option must be of type boolean')
    }
    if (relocate === true && keepViews === true) {
      throw new AllocError('ERR_INVALID_ARG_VALUE', 'The "relocate" and "keepViews" options cannot be combined')
    }
    if (mode === 'none' && keepViews !== true && s.access !== 'none') {
      // A handed-over view is its holder's: the allocator cannot see whether it was moved out (transfer()), and
      // PROT_NONE under a moved-out buffer kills the process when it is read. Its holder checks it and keeps it.
      if (s.handedOver) {
        throw new AllocError('ERR_VIEW_HANDED_OVER', "A view of this allocation was handed over: protect(a, 'none') needs { keepViews: true }, after its holder checked that view")
      }
      if (escaped(s.view)) this.#moveAway(s, true)
      else if (relocate === true) this.#moveAway(s, false)
    }
    const mapping = s.mapped.mapping
    const length = mapping.dataPages * PAGE_SIZE
    const osMode = mode === 'none' && this.#keyed ? 'keyed' : mode
    try {
      if (keepViews === true) os.protect(mapping.region, mapping.offset, length, osMode, KEEP_VIEWS)
      else os.protect(mapping.region, mapping.offset, length, osMode)
    } finally {
      // os-memlock detaches the views before it calls mprotect, even when mprotect then fails:
      // that view was detached by us, not escaped.
      if (mode === 'none' && keepViews !== true) s.view = null
    }
    s.access = mode
  }

  /**
   * What the allocation's memory actually has (locked, no-dump, wipe-on-fork, guard pages, canary, secretmem, access), from what the system calls returned.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const a = pages.alloc(32)
   * const p = pages.protections(a)
   * console.log(p.guardPages, p.canary, p.access) // true true readwrite
   * pages.free(a)
   * ```
   */
  protections(allocation: Allocation): Protections {
    return this.protectionsAs(this, allocation)
  }

  /** @internal */
  protectionsAs(owner: Allocator, allocation: Allocation): Protections {
    const s = this.own(allocation, false, owner)
    const m = s.mapped.mapping
    return reported({
      locked: s.mapped.locked,
      noDump: m.noDump,
      wipeOnFork: m.wipeOnFork,
      dontFork: m.dontFork,
      guardPages: true,
      canary: this.#frontCanary > 0 || roundUp(s.byteLength, this.#alignment) > s.byteLength,
      secretmem: m.secretmem,
      isolated: true,
      access: s.access,
      protectionKey: s.access === 'none' && this.#keyed
    })
  }

  /**
   * Copies the allocation's bytes into `target` (exactly `byteLength` bytes) without a view, whatever its access:
   * under a protection key (`protectionKey: 'auto'`) the key is opened on this thread for the native copy alone;
   * pages protected `PROT_NONE` are made readable for the copy and protected again (an mprotect pair). No
   * JavaScript runs while the pages are open, and the access is the same afterwards.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation or a target that is not a Uint8Array; `ERR_INVALID_ARG_VALUE` for a target of another length; `ERR_FOREIGN_ALLOCATION`; `ERR_ALLOCATION_FREED`; the OS error of `mprotect`; os-memlock's `ERR_PROTECTION_KEY_OPEN` when something else opened the key on this thread (nothing copied)
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator({ protectionKey: 'auto' })
   * const a = pages.alloc(4)
   * new Uint8Array(pages.view(a)).set([1, 2, 3, 4])
   * pages.protect(a, 'none')
   * const out = new Uint8Array(4)
   * pages.copyOut(a, out)
   * console.log(Array.from(out), pages.protections(a).access) // [ 1, 2, 3, 4 ] none
   * pages.free(a)
   * ```
   */
  copyOut(allocation: Allocation, target: Uint8Array): void {
    this.copyOutAs(this, allocation, target)
  }

  /** @internal `copyOut` for an allocation that `owner` (a SlotAllocator) handed to this allocator. */
  copyOutAs(owner: Allocator, allocation: Allocation, target: Uint8Array): void {
    const s = this.own(allocation, false, owner)
    checkCopyBuffer(target, s.byteLength, 'target')
    this.#copyData(s, target, true)
  }

  /**
   * Copies `source` (exactly `byteLength` bytes) into the allocation without a view, whatever its access, as `copyOut` reads it.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation or a source that is not a Uint8Array; `ERR_INVALID_ARG_VALUE` for a source of another length; `ERR_FOREIGN_ALLOCATION`; `ERR_ALLOCATION_FREED`; the OS error of `mprotect`; os-memlock's `ERR_PROTECTION_KEY_OPEN` when something else opened the key on this thread (nothing copied)
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator({ protectionKey: 'auto' })
   * const a = pages.alloc(4)
   * pages.protect(a, 'none')
   * pages.copyIn(a, Uint8Array.of(9, 8, 7, 6))
   * pages.protect(a, 'read')
   * console.log(Array.from(new Uint8Array(pages.view(a)))) // [ 9, 8, 7, 6 ]
   * pages.free(a)
   * ```
   */
  copyIn(allocation: Allocation, source: Uint8Array): void {
    this.copyInAs(this, allocation, source)
  }

  /** @internal `copyIn` for an allocation that `owner` (a SlotAllocator) handed to this allocator. */
  copyInAs(owner: Allocator, allocation: Allocation, source: Uint8Array): void {
    const s = this.own(allocation, false, owner)
    checkCopyBuffer(source, s.byteLength, 'source')
    this.#copyData(s, source, false)
  }

  /** The copy of copyOut (out) or copyIn: keyed, raised for the copy and put back, or straight. */
  #copyData(s: PageState, bytes: Uint8Array, out: boolean): void {
    if (s.byteLength === 0) return
    const { region, offset, dataPages } = s.mapped.mapping
    if (s.access === 'none' && this.#keyed) {
      if (out) os.keyedCopy(region, s.start, bytes, 0, s.byteLength)
      else os.keyedCopy(bytes, 0, region, s.start, s.byteLength)
      return
    }
    const need: Access = out ? 'read' : 'readwrite'
    const raise = s.access === 'none' || (!out && s.access === 'read')
    // Between 'none' and 'read'/'readwrite' no view exists; 'read' to 'readwrite' and back keeps the current one.
    if (raise) os.protect(region, offset, dataPages * PAGE_SIZE, need)
    try {
      if (out) os.copy(region, s.start, bytes, 0, s.byteLength)
      else os.copy(bytes, 0, region, s.start, s.byteLength)
    } finally {
      if (raise) os.protect(region, offset, dataPages * PAGE_SIZE, s.access)
    }
  }

  /**
   * Counters of live allocations and of mapped, locked, cached and quarantined memory; never the memory.
   * @throws nothing
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const a = pages.alloc(32)
   * const { allocations, bytes, mappings } = pages.stats()
   * console.log(allocations, bytes, mappings) // 1 32 1
   * pages.free(a)
   * ```
   */
  stats(): AllocatorStats {
    const c = this.#counters
    return {
      ...pageStats(c),
      secretmemBytes: c.secretPages * PAGE_SIZE,
      cachedPages: c.cachedPages,
      cachedBytes: c.cachedPages * PAGE_SIZE,
      cachedChargedBytes: c.cachedChargedPages * PAGE_SIZE,
      chargeReleases: c.chargeReleases,
      reservations: this.#slabs.reservations,
      mapBudget: mapBudgetSnapshot(),
      mappings: c.mappings,
      cacheHits: c.cacheHits,
      unlockedAllocations: c.unlocked,
      quarantinedBytes: this.#quarantine.bytes,
      escapedBytes: c.escapedBytes,
      retiredBytes: c.retiredBytes
    }
  }

  /**
   * Unmaps every cached mapping (their memory and RLIMIT_MEMLOCK charge go back to the kernel) and every
   * empty reservation of single pages.
   * @throws {Error} nothing in use; only the OS error of a failed `munmap` (`EINVAL`, which would mean a corrupted mapping; it stays cached)
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * pages.free(pages.alloc(32)) // the mapping goes to quarantine, then to the cache
   * pages.trim()
   * console.log(pages.stats().cachedPages) // 0
   * ```
   */
  trim(): void {
    for (const list of this.#cache.values()) {
      while (list.length > 0) {
        this.#uncache(list[list.length - 1] as Mapped)
        list.pop()
      }
    }
    this.#slabs.trim()
  }

  /**
   * @internal Gives back every charged page held for reuse: the cache is emptied, and quarantined
   * mappings stay mapped and readable (zeros) but are unlocked, or moved off secretmem, and will not be
   * reused. Called when a lock or a secretmem mapping is refused for RLIMIT_MEMLOCK. Never throws.
   */
  releaseCharge(): number {
    const before = this.#counters.lockedPages
    for (const list of this.#cache.values()) {
      while (list.length > 0) {
        try {
          this.#uncache(list[list.length - 1] as Mapped)
        } catch {
          break
        }
        list.pop()
      }
    }
    this.#quarantine.forEach((mapped) => this.#relieve(mapped))
    const released = before - this.#counters.lockedPages
    if (released > 0) this.#counters.chargeReleases++
    return released
  }

  /** A quarantined mapping gives its charge back, staying mapped, readable and writable (zeros). */
  #relieve(mapped: Mapped): void {
    if (mapped.locked && this.#dropCharge(mapped)) mapped.relieved = true
  }

  /**
   * Gives a locked mapping's charge back to the kernel: unlocks it, or puts
   * plain read-write memory (zeros) in place of secretmem, which cannot be
   * unlocked. Returns false, still charged, when the kernel refused.
   */
  #dropCharge(mapped: Mapped): boolean {
    const { mapping } = mapped
    const length = mapping.dataPages * PAGE_SIZE
    try {
      if (mapping.secretmem) os.remap(mapping.region, mapping.offset, length, 'readwrite')
      else os.unlock(mapping.region, mapping.offset, length)
    } catch {
      return false
    }
    this.#uncharge(mapped)
    return true
  }

  #uncache(mapped: Mapped): void {
    const charged = mapped.locked
    this.#unmapMapped(mapped)
    this.#cachedMappings--
    this.#counters.cachedPages -= mapped.mapping.dataPages
    if (charged) this.#counters.cachedChargedPages -= mapped.mapping.dataPages
  }

  #uncharge(mapped: Mapped): void {
    const { mapping } = mapped
    this.#counters.lockedPages -= mapping.dataPages
    if (mapping.secretmem) this.#counters.secretPages -= mapping.dataPages
    mapped.locked = false
  }

  /** Prints as `PageAllocator(3 allocations, 96 bytes)`, never the memory. */
  [inspectCustom](): string {
    return describeAllocator('PageAllocator', this.stats())
  }

  /**
   * JSON shows counts only, as `console.log` does: e.g. `PageAllocator(3 allocations, 96 bytes)`.
   * @throws nothing
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * console.log(JSON.stringify(pages)) // "PageAllocator(0 allocations, 0 bytes)"
   * ```
   */
  toJSON(): string {
    return describeAllocator('PageAllocator', this.stats())
  }

  /**
   * @internal Validates an allocation: made here for `owner` (allocations made
   * for a SlotAllocator are accepted only through it), and live unless freeing
   * (then a double free).
   */
  own(allocation: unknown, freeing: boolean, owner: Allocator): PageState {
    const s = handleState(allocation, PageAllocation)
    if (s === undefined || s.home !== this || s.allocator !== owner) rejectAllocation(allocation)
    checkLive(s, freeing)
    return s
  }

  #pagesFor(n: number): number {
    return Math.max(1, Math.ceil((roundUp(n, this.#alignment) + this.#frontCanary) / PAGE_SIZE))
  }

  /** Writes the canaries of an `n`-byte allocation at the end of `mapped` (read-write); returns the data start. */
  #layOut(mapped: Mapped, n: number): number {
    const region = mapped.mapping.region
    const end = mapped.mapping.offset + mapped.mapping.dataPages * PAGE_SIZE
    const start = end - roundUp(n, this.#alignment)
    const front = start - this.#frontCanary
    if (mapped.canaryStart !== start || mapped.canaryLength !== n) {
      // Another layout's canaries may stand where this one's data goes: wipe them first.
      if (mapped.canaryStart !== -1) {
        const from = Math.min(front, mapped.canaryStart - this.#frontCanary)
        os.wipe(region, from, end - from)
      }
      this.#canary.write(region, front, this.#frontCanary)
      this.#canary.write(region, start + n, end - start - n)
    }
    mapped.canaryStart = -1
    return start
  }

  /**
   * Moves an allocation to fresh pages (same layout), then wipes the old pages
   * and lets them go, readable: a buffer still over them (escaped, or held by
   * native work in flight) reads zeros from then on and never faults. If no
   * fresh mapping can be had, the error is thrown and nothing changes (the
   * pages stay readable).
   */
  #moveAway(s: PageState, escapedView: boolean): void {
    const old = s.mapped
    const pages = old.mapping.dataPages
    const fresh = this.#takeCached(pages) ?? this.#mapNew(pages)
    let start = -1
    try {
      // Offsets are within each region: a page of a shared reservation sits at its own offset.
      start = this.#layOut(fresh, s.byteLength)
      if (start - fresh.mapping.offset !== s.start - old.mapping.offset) {
        integrityFailure(this.#integrity, 'page allocator metadata: a moved allocation changed its layout')
      }
      if (s.byteLength > 0) os.copy(old.mapping.region, s.start, fresh.mapping.region, start, s.byteLength)
      if (s.access !== 'readwrite') os.protect(old.mapping.region, old.mapping.offset, pages * PAGE_SIZE, 'readwrite')
    } catch (err) {
      // Nothing moved: the fresh mapping goes back (its copy of the data wiped), the old one stays as it was.
      if (s.byteLength > 0 && start >= 0) os.wipe(fresh.mapping.region, start, s.byteLength)
      this.#cacheOrUnmap(fresh)
      throw err
    }
    if (s.byteLength > 0) os.wipe(old.mapping.region, s.start, s.byteLength)
    if (old.locked !== fresh.locked) this.#counters.unlocked += fresh.locked ? -1 : 1
    s.mapped = fresh
    s.start = start
    s.view = null
    s.access = 'readwrite'
    this.#letGo(old, escapedView)
    if (escapedView) warnEscaped(this.#warner, s.byteLength)
  }

  #takeCached(pages: number): Mapped | undefined {
    const list = this.#cache.get(pages)
    const mapped = list?.[list.length - 1]
    if (list === undefined || mapped === undefined) return undefined
    list.pop()
    this.#cachedMappings--
    this.#counters.cachedPages -= pages
    if (mapped.locked) this.#counters.cachedChargedPages -= pages
    this.#counters.cacheHits++
    return mapped
  }

  /** A fresh mapping: one page goes into a shared reservation (guards shared with its neighbours), more get their own. */
  #mapNew(pages: number): Mapped {
    const mapping = pages === 1 ? this.#slabs.take() : mapGuarded(pages, this.#secretmem, this.#warner, false)
    let locked: boolean
    try {
      locked = lockRange(mapping, mapping.offset, pages * PAGE_SIZE, this.#mlock, this.#warner, true)
    } catch (err) {
      // A failed alloc leaves nothing behind: a reservation made for it goes with it.
      this.#release(mapping)
      this.#slabs.trim()
      throw err
    }
    this.#counters.mappings++
    this.#counters.mappedPages += mappedPagesOf(mapping)
    if (locked) this.#counters.lockedPages += pages
    if (mapping.secretmem) this.#counters.secretPages += pages
    return { mapping, locked, relieved: false, canaryStart: -1, canaryLength: 0 }
  }

  #release(mapping: GuardedMapping): void {
    if (mapping.slot >= 0) {
      this.#slabs.release(mapping)
    } else {
      os.unmap(mapping.region)
      theMapBudget().give(GUARDED_VMAS)
    }
  }

  /**
   * Leaves quarantine: cached, or unmapped when the cache is full. A cached
   * mapping stays read-write, locked and wiped, so that a native holder past
   * the quarantine still never faults; the data is wiped again first, since
   * such a holder may have written into it. Never throws: a mapping the
   * kernel will not unmap is let go (os-memlock unmaps it once collected).
   */
  #cacheOrUnmap(mapped: Mapped): void {
    const pages = mapped.mapping.dataPages
    const bytes = pages * PAGE_SIZE
    if (mapped.relieved || this.#cachedMappings >= this.#cacheLimit || !this.#makeRoom(bytes, mapped.locked)) {
      try {
        this.#unmapMapped(mapped)
      } catch {
        this.#letGo(mapped, false)
      }
      return
    }
    if (mapped.canaryLength > 0) os.wipe(mapped.mapping.region, mapped.canaryStart, mapped.canaryLength)
    let list = this.#cache.get(pages)
    if (list === undefined) {
      list = []
      this.#cache.set(pages, list)
    }
    list.push(mapped)
    this.#cachedMappings++
    this.#counters.cachedPages += pages
    if (mapped.locked) this.#counters.cachedChargedPages += pages
  }

  /**
   * Room in the cache for `bytes` more (charged or not) within its byte bounds, unmapping the largest
   * cached mappings first. False when the mapping alone is over a bound, or an unmap fails.
   */
  #makeRoom(bytes: number, charged: boolean): boolean {
    if (bytes > this.#cacheBytes || (charged && bytes > this.#cacheChargedBytes)) return false
    const c = this.#counters
    while (c.cachedPages * PAGE_SIZE + bytes > this.#cacheBytes || (charged && c.cachedChargedPages * PAGE_SIZE + bytes > this.#cacheChargedBytes)) {
      let largest: Mapped[] | undefined
      let largestPages = 0
      for (const [pages, list] of this.#cache) {
        if (list.length > 0 && pages > largestPages) {
          largest = list
          largestPages = pages
        }
      }
      if (largest === undefined) return false
      try {
        this.#uncache(largest[largest.length - 1] as Mapped)
      } catch {
        return false
      }
      largest.pop()
    }
    return true
  }

  /**
   * Drops a mapping without unmapping it: os-memlock unmaps it when its handle
   * and every ArrayBuffer over it (an escaped one included) have been collected.
   * Until then it stays mapped, wiped and readable, but no longer locked: it
   * holds zeros, and a page in a shared reservation can stay mapped long
   * after (until every other page of the reservation is gone), which would
   * otherwise keep its lock against RLIMIT_MEMLOCK for nothing.
   */
  #letGo(mapped: Mapped, escapedView: boolean, keepView = false): void {
    const { mapping } = mapped
    if (mapping.slot >= 0) this.#slabs.withdraw(mapping)
    this.#counters.mappings--
    this.#counters.mappedPages -= mappedPagesOf(mapping)
    // When the kernel refuses, the pages stay counted as locked. A secretmem charge is given back by replacing
    // the pages, which would detach a view that must stay (retire): that one keeps its charge until unmapped.
    if (mapped.locked && !(keepView && mapping.secretmem)) this.#dropCharge(mapped)
    if (escapedView) this.#counters.escapedBytes += mapping.dataPages * PAGE_SIZE
  }

  #unmapMapped(mapped: Mapped): void {
    this.#release(mapped.mapping)
    this.#counters.mappings--
    this.#counters.mappedPages -= mappedPagesOf(mapped.mapping)
    if (mapped.locked) this.#uncharge(mapped)
  }
}

/** Pages a mapping takes: its data and guards (a shared reservation's page has one guard of its own). */
function mappedPagesOf(mapping: GuardedMapping): number {
  return mapping.dataPages + (mapping.slot >= 0 ? 1 : 2)
}

function roundUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment
}

/** Whether 'none' keys the pages under `policy`: a key exists and was not refused. */
function usesProtectionKey(policy: ProtectionKeyPolicy): boolean {
  if (policy === 'off') return false
  if (os.capabilities().protectionKeys) return true
  if (policy === 'required') {
    throw new AllocError('ERR_PROTECTION_KEY_UNAVAILABLE', 'No memory protection key: this CPU or kernel has none (x86-64 PKU), or every key of the process is taken')
  }
  return false
}
