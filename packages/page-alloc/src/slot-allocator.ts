/**
 * The slot allocator (TARS "chunks", OpenBSD malloc) for small secrets.
 *
 * Pages come in guarded mappings of `pagesPerMapping` data pages:
 *
 *   [guard][page][page][page] ... [page][guard]
 *
 * A page serves one size class at a time and is cut into equal slots. Slot
 * choice is random. The bytes between the requested length and the slot end
 * hold a canary checked on free (a length equal to its class has none). Freed
 * slots are wiped at once, then wait in a quarantine (still in use for the
 * bitmap) before another allocation may take them; a slot whose view escaped
 * is never freed in the bitmap at all. A freed slot's view may be kept as its
 * spare for its next allocation (recycled-view.ts), never past its page's
 * access. All metadata (bitmaps, counts) lives here in the JS heap, away from
 * the data.
 *
 * A page is made read-write and locked when it gets its first slot, and is
 * unlocked only when its last slot is released (so munlock of one secret never
 * unlocks a neighbour: the lock is counted by slots in use). One empty page per
 * class stays warm; the others go to a bounded cache of PROT_NONE pages, and a
 * mapping whose pages are all cached is unmapped when the cache is over its limit.
 *
 * Requests above half a page go to an internal `PageAllocator`.
 */
import os = require('@tarsjs/os-memlock')
import { AllocationHandle, handleState } from './allocation-handle.js'
import type { HandleState } from './allocation-handle.js'
import type { Access, Allocation, Allocator, AllocatorCapabilities, AllocatorStats, Protections } from './allocator.js'
import { reported } from './development-mode.js'
import { Canary } from './canary.js'
import { AllocError, checkByteLength, checkLive, checkOptionsObject, rejectAllocation } from './errors.js'
import { byteLengthOf, escaped, escapedViewError, warnEscaped } from './escaped-view.js'
import { DATA_OFFSET, GUARDED_VMAS, PAGE_SIZE, lockRange, mapGuarded, unlockRange } from './guarded-mapping.js'
import type { GuardedMapping } from './guarded-mapping.js'
import { holdsCharge } from './charge-pressure.js'
import type { ChargeHolder } from './charge-pressure.js'
import { integrityFailure } from './integrity.js'
import { theMapBudget } from './map-budget.js'
import { PageAllocator } from './page-allocator.js'
import { bytesOf, checkCopyBuffer, copyBytes } from './copy-buffer.js'
import { Warner, integrityPolicy, warningPolicy, intOption, mlockPolicy, secretmemPolicy } from './policy.js'
import type { IntegrityPolicy, MlockPolicy, SecretmemPolicy, WarningPolicy } from './policy.js'
import { Quarantine, quarantineLimits, quarantineOption } from './quarantine.js'
import type { QuarantineLimits, QuarantineOptions } from './quarantine.js'
import { RandomPool } from './random.js'
import { recycles, spareStore, takeBack } from './recycled-view.js'
import type { Spares } from './recycled-view.js'
import { describeAllocator, inspectCustom } from './redact.js'
import { MAX_SLOT, SLOT_SIZES, classOf } from './size-classes.js'

/** Options of `SlotAllocator`; every one has a safe default. */
export interface SlotAllocatorOptions {
  /** What a failed mlock means. Default `'best-effort'` (reported, one warning). */
  mlock?: MlockPolicy
  /**
   * How often a missing protection is warned about (`process.emitWarning`): `'once'` per code and allocator
   * (default; later ones show in `stats().unlockedAllocations`), or `'always'`, once for every such allocation.
   */
  warnings?: WarningPolicy
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
  /** How long freed slots stay out of reuse. Default `{ frees: 64, bytes: 16384 }` (see `Quarantine`). */
  quarantine?: QuarantineOptions
}

interface SlotMapping {
  readonly mapping: GuardedMapping
  /** Pages of this mapping, in address order. */
  readonly pages: SlotPage[]
  cached: number
}

interface SlotPage {
  readonly owner: SlotMapping
  /** Byte offset of the page in the mapping's region. */
  readonly offset: number
  /** Size class index, or -1 while cached. */
  cls: number
  slotSize: number
  slots: number
  /** One bit per slot: live, quarantined or withdrawn (escaped). */
  used: Uint32Array
  /** Slots whose bit is set. */
  live: number
  /** Of those, slots freed and waiting in quarantine (wiped; no allocation holds them). */
  quarantined: number
  locked: boolean
  /**
   * Unlocked under charge pressure while it held only quarantined slots: it
   * takes no new slot, and retires (to be locked again when reused) as soon as
   * its last quarantined slot is released.
   */
  drained: boolean
  /** Position in its class's `open` list, or -1. */
  openIndex: number
  /** Per slot, the ArrayBuffer kept from its last view to be handed out again (see recycled-view.ts). */
  spares: Spares
  /**
   * A view of the whole page for this allocator's own copies (copyOut /
   * copyIn), made at the first one while the page is in a class: one
   * ArrayBuffer per page instead of a native call per copy. Never handed out;
   * os-memlock detaches it when the page is protected 'none' (retired) or
   * unmapped.
   */
  copyView: ArrayBuffer | null
}

interface SlotClass {
  readonly size: number
  /** Pages of this class with at least one free slot. */
  readonly open: SlotPage[]
  /** Empty pages kept active in this class. */
  warm: number
}

/** What the allocator knows of one slot allocation; never reachable from the handle's public side. */
interface SlotState extends HandleState {
  readonly allocator: SlotAllocator
  readonly page: SlotPage
  readonly index: number
  /** The view handed out, kept to detach it on free and to notice an escape. */
  view: ArrayBuffer | null
  /** The view was detached by someone else: the slot is never reused. */
  escaped: boolean
}

/**
 * An allocation of a `SlotAllocator` small enough for a slot. All state is private: spread, clone or serialize it and you get `{}`.
 * @example
 * ```js
 * import { SlotAllocator } from '@tarsjs/page-alloc'
 * const slots = new SlotAllocator()
 * const a = slots.alloc(32)
 * console.log(a.byteLength, a.allocator === slots) // 32 true
 * slots.free(a)
 * ```
 */
export class SlotAllocation extends AllocationHandle<SlotState> {
  /** @internal */
  constructor(state: SlotState) {
    super(state)
  }
}

/**
 * @internal Where a live slot allocation's bytes are, for tests that simulate
 * native corruption. Not exported from the package index.
 */
export function slotPlace(allocation: SlotAllocation): { region: os.Region; offset: number; slotSize: number; index: number } {
  const { page, index } = handleState(allocation, SlotAllocation) as SlotState
  return { region: page.owner.mapping.region, offset: page.offset + index * page.slotSize, slotSize: page.slotSize, index }
}

const WARM_PER_CLASS = 1

/** The bits of bitmap word `word` that stand for slots of a page of `slots` slots. */
function slotBits(slots: number, word: number): number {
  const left = slots - word * 32
  return left >= 32 ? -1 : (1 << left) - 1
}

/**
 * Default quarantine: one event-loop turn and 64 later frees; past 16 KiB of
 * slots held (512 slots of 32 bytes) the oldest come back without waiting for
 * the turn, still after 64 later frees, each with its recycled view. So a
 * synchronous alloc/free loop reuses a few pages (and their views) instead of
 * needing a new view for every allocation, and freed small slots keep at most
 * 16 KiB locked, a quarter of the usual 64 KiB RLIMIT_MEMLOCK (64 slots of the
 * largest class, 2 KiB, hold 128 KiB).
 */
const QUARANTINE: QuarantineLimits = Object.freeze({ frees: 64, bytes: 16 * 1024 })

/**
 * An `Allocator` that packs small secrets into slots of locked, no-dump, wipe-on-fork pages between guard pages (larger ones go to a `PageAllocator`); the allocator behind `ProtBuf`. Slots share pages, so they cannot be protected one by one.
 * @example
 * ```js
 * import { SlotAllocator } from '@tarsjs/page-alloc'
 * const slots = new SlotAllocator()
 * const a = slots.alloc(32)
 * const b = slots.alloc(32)
 * console.log(slots.stats().mappings) // 1: both in one mapping
 * slots.free(a)
 * slots.free(b)
 * ```
 */
export class SlotAllocator implements Allocator, ChargeHolder {
  readonly name: string = 'slot'
  /** Slots start at multiples of their size class (all multiples of 16); large ones at the large allocator's alignment. */
  readonly capabilities: AllocatorCapabilities
  readonly #mlock: MlockPolicy
  readonly #secretmem: SecretmemPolicy
  readonly #integrity: IntegrityPolicy
  readonly #pagesPerMapping: number
  readonly #cacheLimit: number
  readonly #large: PageAllocator
  readonly #canary = new Canary(MAX_SLOT)
  readonly #random = new RandomPool()
  readonly #warner: Warner
  readonly #classes: SlotClass[] = SLOT_SIZES.map((size) => ({ size, open: [], warm: 0 }))
  readonly #mappings: SlotMapping[] = []
  readonly #quarantine: Quarantine<SlotState>
  #counters = { allocations: 0, bytes: 0, lockedPages: 0, cachedPages: 0, cacheHits: 0, unlocked: 0, escapedBytes: 0, retiredBytes: 0 }

  /**
   * Slots for small secrets, packed into guarded, locked, no-dump pages; larger ones go to a `PageAllocator`.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` / `ERR_OUT_OF_RANGE` for a bad option
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator({ mlock: 'best-effort' })
   * const a = slots.alloc(32)
   * console.log(new Uint8Array(slots.view(a)).byteLength) // 32
   * slots.free(a)
   * ```
   */
  constructor(options?: SlotAllocatorOptions) {
    const o = checkOptionsObject<SlotAllocatorOptions>(options)
    // Each option is read once: a getter cannot pass a check and then give another value.
    const secretmem = o.secretmem
    const quarantine = quarantineOption(o.quarantine)
    const large = o.large
    const warnings = o.warnings
    this.#mlock = mlockPolicy(o.mlock)
    this.#secretmem = secretmemPolicy(secretmem, 'off')
    this.#integrity = integrityPolicy(o.integrity)
    this.#warner = new Warner(warningPolicy(warnings))
    this.#pagesPerMapping = intOption('pagesPerMapping', o.pagesPerMapping, 1, 1024, 16)
    this.#cacheLimit = intOption('cacheLimit', o.cacheLimit, 0, 65536, 64)
    const limits = quarantineLimits(quarantine, QUARANTINE)
    if (large !== undefined && !(large instanceof PageAllocator)) {
      throw new AllocError('ERR_INVALID_ARG_TYPE', 'The "large" option must be a PageAllocator')
    }
    this.#large =
      large ??
      new PageAllocator({ mlock: this.#mlock, integrity: this.#integrity, secretmem: secretmem === undefined ? 'auto' : this.#secretmem, quarantine, warnings })
    // The frees bound holds for every class: past 16 KiB only the turn is waived.
    this.#quarantine = new Quarantine(limits, (state) => this.#releaseSlot(state), true)
    this.capabilities = { protect: false, alignment: Math.min(16, this.#large.capabilities.alignment ?? 1) }
    holdsCharge(this)
  }

  /**
   * Allocates `byteLength` bytes in the smallest class that holds them; the
   * slack after the data (if any) holds the canary. A length equal to its class
   * size (16, 32, 48 ...) has no slack and so no canary: `protections().canary`
   * says which. Requests above half a page go to the large allocator.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` (`AllocError`) for a length that is not an integer from 0 to 2^30; `ERR_MLOCK_FAILED` under `mlock: 'required'`; the OS error (`ENOMEM`, `EAGAIN`, `ENOSYS`, `EPERM`) when the kernel refuses memory; nothing is allocated when it throws
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * const a = slots.alloc(48)
   * console.log(a.byteLength) // 48
   * slots.free(a)
   * ```
   */
  alloc(byteLength: number): Allocation {
    const n = checkByteLength(byteLength)
    if (n > MAX_SLOT) return this.#large.allocFor(this, n)
    const cls = this.#classes[classOf(n)] as SlotClass
    const page = this.#openPage(cls)
    const index = this.#takeSlot(page)
    const offset = page.offset + index * page.slotSize
    this.#canary.write(page.owner.mapping.region, offset + n, page.slotSize - n)
    if (page.live++ === 0) cls.warm--
    if (page.live === page.slots) this.#closePage(cls, page)
    this.#counters.allocations++
    this.#counters.bytes += n
    if (!page.locked) this.#counters.unlocked++
    const a = new SlotAllocation({ allocator: this, page, index, byteLength: n, freed: false, view: null, escaped: false })
    return a
  }

  /**
   * Checks the canary, wipes the slot and takes its view away now (detached;
   * on Node.js 22+ taken back with `transfer()` and kept for the slot's next
   * allocation, see recycled-view.ts); the slot then waits in quarantine before
   * another allocation may take it. A slot whose view escaped is wiped and never reused.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_DOUBLE_FREE`; a corrupted canary ends the process (or throws `ERR_INTEGRITY` under `integrity: 'throw'`)
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * const a = slots.alloc(32)
   * const bytes = new Uint8Array(slots.view(a))
   * slots.free(a)
   * console.log(bytes.length, a.freed) // 0 true
   * ```
   */
  free(allocation: Allocation): void {
    const s = this.#own(allocation, true)
    if (s === undefined) {
      this.#large.freeAs(this, allocation)
      return
    }
    this.#free(s, false)
  }

  /**
   * Frees an allocation for good, for memory that native work may still hold
   * for longer than any quarantine (a window closed at its deadline while a
   * thread-pool request may still read or write its bytes): the canary is
   * checked and the slot wiped as `free` does, but its view stays attached
   * (reading zeros) and the slot is never reused; its page stays mapped and
   * locked (`stats().retiredBytes`). A large allocation's mapping is let go:
   * never reused, unmapped once every ArrayBuffer over it has been collected.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_DOUBLE_FREE`; a corrupted canary ends the process (or throws `ERR_INTEGRITY` under `integrity: 'throw'`)
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * const a = slots.alloc(32)
   * const bytes = new Uint8Array(slots.view(a))
   * bytes.fill(7)
   * slots.retire(a)
   * console.log(bytes.length, bytes[0], a.freed) // 32 0 true
   * ```
   */
  retire(allocation: Allocation): void {
    const s = this.#own(allocation, true)
    if (s === undefined) {
      this.#large.retireAs(this, allocation)
      return
    }
    this.#free(s, true)
  }

  #free(s: SlotState, retire: boolean): void {
    const page = s.page
    const region = page.owner.mapping.region
    const offset = page.offset + s.index * page.slotSize
    const word = s.index >>> 5
    const bit = 1 << (s.index & 31)
    if (page.cls < 0 || ((page.used[word] as number) & bit) === 0 || page.live <= 0) {
      integrityFailure(this.#integrity, 'slot allocator metadata does not match a live allocation')
    }
    if (!this.#canary.intact(region, offset + s.byteLength, page.slotSize - s.byteLength)) {
      integrityFailure(this.#integrity, `canary after a ${s.byteLength}-byte slot was overwritten (buffer overflow)`)
    }
    if (escaped(s.view)) s.escaped = true
    os.wipe(region, offset, page.slotSize)
    // Wiped first: the view's holders see zeros until it is detached or taken back.
    if (!s.escaped && !retire && s.view !== null) {
      // The store has an element for every slot when recycling (spareStore): never a store into a missing one.
      if (s.index < page.spares.length) page.spares[s.index] = takeBack(s.view)
      else os.detach(s.view)
    }
    s.view = null
    s.freed = true
    this.#counters.allocations--
    this.#counters.bytes -= s.byteLength
    if (!page.locked) this.#counters.unlocked--
    if (retire && !s.escaped) {
      // As an escaped slot (its bit stays set, it counts in `live`), without the warning: it was asked for.
      this.#counters.retiredBytes += page.slotSize
      return
    }
    if (s.escaped) {
      // Its bit stays set and it still counts in `live`: the page stays mapped,
      // readable and locked, and never retires.
      this.#counters.escapedBytes += page.slotSize
      warnEscaped(this.#warner, s.byteLength)
      return
    }
    page.quarantined++
    this.#quarantine.add(s, page.slotSize)
  }

  /**
   * The slot's view (the same one each time).
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`; `ERR_VIEW_ESCAPED` once the view was detached by someone else
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * const a = slots.alloc(32)
   * console.log(slots.view(a).byteLength) // 32
   * slots.free(a)
   * ```
   */
  view(allocation: Allocation): ArrayBuffer {
    const s = this.#own(allocation, false)
    if (s === undefined) return this.#large.viewAs(this, allocation)
    if (escaped(s.view)) {
      s.escaped = true
      warnEscaped(this.#warner, s.byteLength)
    }
    if (s.escaped) throw escapedViewError()
    if (s.view === null) {
      const page = s.page
      // Only an element the store has is read or written (see spareStore).
      const has = s.index < page.spares.length
      const spare = has ? (page.spares[s.index] ?? null) : null
      if (has) page.spares[s.index] = null
      if (spare !== null && byteLengthOf(spare) === s.byteLength) {
        s.view = spare
      } else {
        if (spare !== null) os.detach(spare)
        s.view = os.view(page.owner.mapping.region, page.offset + s.index * page.slotSize, s.byteLength)
      }
    }
    return s.view
  }

  /**
   * Detaches the slot's view now, as `free` does, while the slot stays live:
   * the next `view()` makes a fresh one (on Node.js 22+ the same memory taken
   * back with `transfer()`, see recycled-view.ts). For a slot reused under a
   * new view (a ProtKey's window memory); wipe it first when its holders must
   * find nothing. Returns false when the view had already been detached by
   * someone else: the slot then counts as escaped (`view()` throws
   * `ERR_VIEW_ESCAPED`; free it).
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * const a = slots.alloc(16)
   * const old = slots.view(a)
   * console.log(slots.dropView(a), old.byteLength, slots.view(a).byteLength) // true 0 16
   * slots.free(a)
   * ```
   */
  dropView(allocation: Allocation): boolean {
    const s = this.#own(allocation, false)
    if (s === undefined) return this.#large.dropViewAs(this, allocation)
    if (escaped(s.view)) {
      s.escaped = true
      warnEscaped(this.#warner, s.byteLength)
      return false
    }
    if (s.view !== null) {
      const page = s.page
      // As in free: the store has an element for every slot when recycling (spareStore).
      if (s.index < page.spares.length) page.spares[s.index] = takeBack(s.view)
      else os.detach(s.view)
    }
    s.view = null
    return !s.escaped
  }

  /**
   * Copies the allocation's bytes into `target` (exactly `byteLength` bytes) in native code, without making a
   * view: a slot read this way never gets an `ArrayBuffer` (no view to keep, detach or recycle). A large
   * allocation is copied by the page allocator behind this one, whatever its access. The target is written as
   * JavaScript writes it: a view of memory protected `'read'` faults, as any write through it does.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation or a target that is not a Uint8Array; `ERR_INVALID_ARG_VALUE` for a target of another length; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * const a = slots.alloc(4)
   * slots.copyIn(a, Uint8Array.of(1, 2, 3, 4))
   * const out = new Uint8Array(4)
   * slots.copyOut(a, out)
   * console.log(Array.from(out)) // [ 1, 2, 3, 4 ]
   * slots.free(a)
   * ```
   */
  copyOut(allocation: Allocation, target: Uint8Array): void {
    const s = this.#own(allocation, false)
    if (s === undefined) {
      this.#large.copyOutAs(this, allocation, target)
      return
    }
    checkCopyBuffer(target, s.byteLength, 'target')
    copyBytes(target, bytesOf(copyView(s.page), s.index * s.page.slotSize, s.byteLength))
  }

  /**
   * Copies `source` (exactly `byteLength` bytes) into the allocation in native code, without making a view; the
   * canary after the slot is not touched.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation or a source that is not a Uint8Array; `ERR_INVALID_ARG_VALUE` for a source of another length; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * const a = slots.alloc(3)
   * slots.copyIn(a, Uint8Array.of(7, 8, 9))
   * console.log(Array.from(new Uint8Array(slots.view(a)))) // [ 7, 8, 9 ]
   * slots.free(a)
   * ```
   */
  copyIn(allocation: Allocation, source: Uint8Array): void {
    const s = this.#own(allocation, false)
    if (s === undefined) {
      this.#large.copyInAs(this, allocation, source)
      return
    }
    checkCopyBuffer(source, s.byteLength, 'source')
    copyBytes(bytesOf(copyView(s.page), s.index * s.page.slotSize, s.byteLength), source)
  }

  /**
   * @throws {AllocError} `ERR_NOT_ISOLATED` for a slot (slots share pages; large allocations can be protected); `ERR_INVALID_ARG_VALUE` for an unknown access; the errors of `view`
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * const a = slots.alloc(32)
   * try {
   *   slots.protect(a, 'none')
   * } catch (err) {
   *   console.log(err.code) // ERR_NOT_ISOLATED
   * }
   * slots.free(a)
   * ```
   */
  protect(allocation: Allocation, access: Access, options?: { keepViews?: boolean }): void {
    if (this.#own(allocation, false) === undefined) {
      this.#large.protectAs(this, allocation, access, options)
      return
    }
    throw new AllocError('ERR_NOT_ISOLATED', 'A slot allocation shares its page with other secrets and cannot be protected')
  }

  /**
   * What the allocation's memory actually has (locked, no-dump, wipe-on-fork, guard pages, canary...), from what the system calls returned.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * const a = slots.alloc(32)
   * const p = slots.protections(a)
   * console.log(p.isolated, p.guardPages) // false true: slots share guarded pages
   * slots.free(a)
   * ```
   */
  protections(allocation: Allocation): Protections {
    const s = this.#own(allocation, false)
    if (s === undefined) return this.#large.protectionsAs(this, allocation)
    const m = s.page.owner.mapping
    return reported({
      locked: s.page.locked,
      noDump: m.noDump,
      wipeOnFork: m.wipeOnFork,
      dontFork: m.dontFork,
      guardPages: true,
      canary: s.page.slotSize > s.byteLength,
      secretmem: m.secretmem,
      isolated: false,
      access: 'readwrite'
    })
  }

  /**
   * Counters of live allocations and of mapped, locked, cached and quarantined memory, large allocations included; never the memory.
   * @throws nothing
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * const a = slots.alloc(32)
   * console.log(slots.stats().allocations, slots.stats().bytes) // 1 32
   * slots.free(a)
   * ```
   */
  stats(): AllocatorStats {
    const c = this.#counters
    const large = this.#large.stats()
    const mappedPages = this.#mappings.length * (this.#pagesPerMapping + 2)
    return {
      allocations: c.allocations + large.allocations,
      bytes: c.bytes + large.bytes,
      mappedBytes: mappedPages * PAGE_SIZE + large.mappedBytes,
      lockedBytes: c.lockedPages * PAGE_SIZE + large.lockedBytes,
      cachedPages: c.cachedPages + large.cachedPages,
      mappings: this.#mappings.length + large.mappings,
      cacheHits: c.cacheHits + large.cacheHits,
      unlockedAllocations: c.unlocked + large.unlockedAllocations,
      quarantinedBytes: this.#quarantine.bytes + (large.quarantinedBytes ?? 0),
      escapedBytes: c.escapedBytes + (large.escapedBytes ?? 0),
      retiredBytes: c.retiredBytes + (large.retiredBytes ?? 0)
    }
  }

  /**
   * Releases every mapping whose pages are all cached, and the large allocator's cache.
   * @throws {Error} nothing in use; only the OS error of a failing `munmap` (`EINVAL`), which would mean a corrupted mapping
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * slots.free(slots.alloc(32))
   * slots.trim()
   * console.log(slots.stats().allocations) // 0
   * ```
   */
  trim(): void {
    for (const m of this.#mappings.slice()) {
      if (m.cached === m.pages.length) this.#unmapMapping(m)
    }
    this.#large.trim()
  }

  /**
   * @internal Gives charge back to RLIMIT_MEMLOCK from pages that hold no live allocation: every warm page
   * (empty, kept read-write and locked for the next slot) retires, and every locked page holding only
   * quarantined slots is unlocked in place and drained: it stays mapped and read-write (its slots are
   * wiped, so a native holder still in flight reads zeros), takes no new slot, and retires once its
   * quarantine ends. Pages of secretmem mappings keep their charge (memfd_secret memory cannot be
   * unlocked); a page with an escaped slot stays locked. Called when a lock or a secretmem mapping is
   * refused for the limit. Never throws. Returns the pages unlocked.
   */
  releaseCharge(): number {
    const before = this.#counters.lockedPages
    for (const cls of this.#classes) {
      for (const page of cls.open.slice()) {
        if (page.live !== 0 || cls.warm === 0) continue
        cls.warm--
        this.#retirePage(cls, page)
      }
    }
    for (const m of this.#mappings.slice()) {
      if (m.mapping.secretmem) continue
      for (const page of m.pages) {
        if (page.cls < 0) continue
        if (page.drained && page.live === 0) this.#retirePage(this.#classes[page.cls] as SlotClass, page)
        else if (page.locked && page.live !== 0 && page.live === page.quarantined) this.#drainPage(page)
      }
    }
    return before - this.#counters.lockedPages
  }

  /** Prints as `SlotAllocator(3 allocations, 96 bytes)`, never the memory. */
  [inspectCustom](): string {
    return describeAllocator('SlotAllocator', this.stats())
  }

  /**
   * JSON shows counts only, as `console.log` does: e.g. `SlotAllocator(3 allocations, 96 bytes)`.
   * @throws nothing
   * @example
   * ```js
   * import { SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * console.log(JSON.stringify(slots)) // "SlotAllocator(0 allocations, 0 bytes)"
   * ```
   */
  toJSON(): string {
    return describeAllocator('SlotAllocator', this.stats())
  }

  /**
   * The state of one of this allocator's live slot handles; undefined for
   * anything that is not a slot handle (the large allocator then decides:
   * its own handle, or a typed error). Throws for another allocator's slot,
   * and for a freed one (`ERR_DOUBLE_FREE` when freeing).
   */
  #own(allocation: unknown, freeing: boolean): SlotState | undefined {
    const s = handleState(allocation, SlotAllocation)
    if (s === undefined) return undefined
    if (s.allocator !== this) rejectAllocation(allocation)
    checkLive(s, freeing)
    return s
  }

  /**
   * A quarantined slot becomes free again, wiped once more (a native holder
   * may have written into it). Never throws: a page that cannot retire stays warm.
   */
  #releaseSlot(s: SlotState): void {
    const page = s.page
    os.wipe(page.owner.mapping.region, page.offset + s.index * page.slotSize, page.slotSize)
    const word = s.index >>> 5
    page.used[word] = (page.used[word] as number) & ~(1 << (s.index & 31))
    page.quarantined--
    const cls = this.#classes[page.cls] as SlotClass
    if (page.drained) {
      if (--page.live === 0) this.#retirePage(cls, page)
      return
    }
    if (page.live-- === page.slots) this.#reopenPage(cls, page)
    if (page.live === 0) {
      if (cls.warm < WARM_PER_CLASS) cls.warm++
      else this.#retirePage(cls, page)
    }
  }

  /** A random page of the class with a free slot, activating a cached or new page if none. */
  #openPage(cls: SlotClass): SlotPage {
    const n = cls.open.length
    if (n > 0) return cls.open[this.#random.below(n)] as SlotPage
    const page = this.#activate(cls)
    page.openIndex = cls.open.length
    cls.open.push(page)
    cls.warm++
    return page
  }

  /** A random free slot of the page, marked used. */
  /**
   * The first free slot at or after a random one, going round the page: a
   * word of the bitmap (32 slots) at a time. Starts with the random slot's
   * word from that slot on, and ends with the same word whole (the slots
   * before it).
   */
  #takeSlot(page: SlotPage): number {
    const slots = page.slots
    const used = page.used
    const words = used.length
    const start = this.#random.below(slots)
    let word = start >>> 5
    let free = ~(used[word] as number) & (-1 << (start & 31)) & slotBits(slots, word)
    for (let n = 0; n <= words; n++) {
      if (free !== 0) {
        const bit = 31 - Math.clz32(free & -free)
        used[word] = (used[word] as number) | (1 << bit)
        return word * 32 + bit
      }
      word = word + 1 === words ? 0 : word + 1
      free = ~(used[word] as number) & slotBits(slots, word)
    }
    return integrityFailure(this.#integrity, 'slot allocator metadata: an open page has no free slot')
  }

  /**
   * Unlocks a page that holds only quarantined slots, in place, and keeps new
   * slots off it until it retires. Never throws: a page whose munlock fails
   * stays locked and in use.
   */
  #drainPage(page: SlotPage): void {
    try {
      unlockRange(page.owner.mapping, page.offset, PAGE_SIZE)
    } catch {
      return
    }
    page.locked = false
    this.#counters.lockedPages--
    page.drained = true
    if (page.openIndex >= 0) this.#closePage(this.#classes[page.cls] as SlotClass, page)
  }

  #closePage(cls: SlotClass, page: SlotPage): void {
    const last = cls.open.pop() as SlotPage
    if (last !== page) {
      cls.open[page.openIndex] = last
      last.openIndex = page.openIndex
    }
    page.openIndex = -1
  }

  #reopenPage(cls: SlotClass, page: SlotPage): void {
    page.openIndex = cls.open.length
    cls.open.push(page)
  }

  /** Takes the lowest cached page (packing mappings), or maps a new group; makes it read-write and locks it. */
  #activate(cls: SlotClass): SlotPage {
    let page: SlotPage | undefined
    for (const m of this.#mappings) {
      if (m.cached === 0) continue
      page = m.pages.find((p) => p.cls < 0)
      break
    }
    const fresh = page === undefined
    if (page === undefined) page = this.#mapGroup().pages[0] as SlotPage
    const mapping = page.owner.mapping
    os.protect(mapping.region, page.offset, PAGE_SIZE, 'readwrite')
    // Out of the cache before the lock: a lock refused for RLIMIT_MEMLOCK makes this allocator retire pages
    // (releaseCharge), and a retirement must not find this page's mapping all cached and unmap it.
    page.owner.cached--
    this.#counters.cachedPages--
    try {
      // A page whose munlock failed when it retired is still locked.
      if (!page.locked) {
        page.locked = lockRange(mapping, page.offset, PAGE_SIZE, this.#mlock, this.#warner)
        if (page.locked && !mapping.secretmem) this.#counters.lockedPages++
      }
    } catch (err) {
      page.owner.cached++
      this.#counters.cachedPages++
      os.protect(mapping.region, page.offset, PAGE_SIZE, 'none')
      // A failed alloc leaves nothing behind: a group mapped for it goes with it.
      if (fresh) this.#unmapMapping(page.owner)
      throw err
    }
    if (!fresh) this.#counters.cacheHits++
    page.cls = this.#classes.indexOf(cls)
    page.slotSize = cls.size
    page.slots = Math.floor(PAGE_SIZE / cls.size)
    page.used = new Uint32Array(Math.ceil(page.slots / 32))
    page.live = 0
    page.quarantined = 0
    page.drained = false
    page.spares = recycles() ? spareStore(page.slots) : spareStore(0)
    page.copyView = null
    return page
  }

  /**
   * An empty page leaves its class: PROT_NONE, unlocked, cached; whole mappings
   * go when over the limit. Called from quarantine release, so it never throws:
   * when the kernel refuses (ENOMEM near vm.max_map_count), the page stays in
   * its class, empty, read-write and locked, as a warm page would (a drained
   * page stays out of its class instead: it is no longer locked).
   */
  #retirePage(cls: SlotClass, page: SlotPage): void {
    const mapping = page.owner.mapping
    // No view may outlive the page's access: the spares go first (detaching never fails for them).
    const spares = page.spares
    for (let i = 0; i < spares.length; i++) {
      const spare = spares[i] ?? null
      if (spare !== null) os.detach(spare)
    }
    page.spares = spareStore(0)
    try {
      os.protect(mapping.region, page.offset, PAGE_SIZE, 'none')
    } catch {
      // A drained page is unlocked: it stays out of its class, empty, and the next releaseCharge() tries again.
      if (!page.drained) cls.warm++
      return
    }
    if (page.openIndex >= 0) this.#closePage(cls, page)
    if (page.locked) {
      try {
        unlockRange(mapping, page.offset, PAGE_SIZE)
        if (!mapping.secretmem) this.#counters.lockedPages--
        page.locked = false
      } catch {
        // Still locked (and counted): activate() finds it locked and does not lock it twice.
      }
    }
    page.cls = -1
    page.owner.cached++
    this.#counters.cachedPages++
    if (this.#counters.cachedPages > this.#cacheLimit && page.owner.cached === page.owner.pages.length) {
      try {
        this.#unmapMapping(page.owner)
      } catch {
        // Left mapped and cached; trim() or a later retirement tries again.
      }
    }
  }

  #mapGroup(): SlotMapping {
    const mapping = mapGuarded(this.#pagesPerMapping, this.#secretmem, this.#warner, true)
    const group: SlotMapping = { mapping, pages: [], cached: this.#pagesPerMapping }
    for (let i = 0; i < this.#pagesPerMapping; i++) {
      group.pages.push({
        owner: group,
        offset: DATA_OFFSET + i * PAGE_SIZE,
        cls: -1,
        slotSize: 0,
        slots: 0,
        used: new Uint32Array(0),
        live: 0,
        quarantined: 0,
        locked: false,
        drained: false,
        openIndex: -1,
        spares: spareStore(0),
        copyView: null
      })
    }
    this.#mappings.push(group)
    this.#counters.cachedPages += this.#pagesPerMapping
    // memfd_secret memory is charged by the kernel from mmap on (its data pages; the guards are plain memory).
    if (mapping.secretmem) this.#counters.lockedPages += this.#pagesPerMapping
    return group
  }

  #unmapMapping(m: SlotMapping): void {
    os.unmap(m.mapping.region)
    theMapBudget().give(GUARDED_VMAS)
    this.#mappings.splice(this.#mappings.indexOf(m), 1)
    this.#counters.cachedPages -= m.pages.length
    if (m.mapping.secretmem) this.#counters.lockedPages -= m.pages.length
  }
}

/** The page's view for copies (see SlotPage.copyView), made again if it was detached. */
function copyView(page: SlotPage): ArrayBuffer {
  // The intrinsic getter (byteLengthOf): a replaced ArrayBuffer.prototype.byteLength never sees this view.
  if (page.copyView === null || byteLengthOf(page.copyView) === 0) {
    page.copyView = os.view(page.owner.mapping.region, page.offset, PAGE_SIZE)
  }
  return page.copyView
}
