/**
 * The `Allocator` interface: what every backend implements and every container accepts.
 *
 * Writing a backend
 * -----------------
 * 1. `alloc(byteLength)` returns an `Allocation` whose `allocator` is the backend
 *    itself and whose `byteLength` is exactly what was asked. Validate the length
 *    with `checkByteLength` (typed errors; nothing allocated on failure).
 * 2. `view(a)` returns an ArrayBuffer of exactly `a.byteLength` bytes over that
 *    allocation only (never a slice of a shared buffer: `view.buffer` would expose
 *    neighbours). It must be detached before the memory is freed, reused or made
 *    inaccessible; calling `view` again while nothing changed may return the same one.
 * 3. `free(a)` wipes synchronously, detaches the view, and releases (after a
 *    quarantine: freed memory must not become another secret at once). Freeing twice,
 *    or freeing another allocator's allocation, throws `ERR_DOUBLE_FREE` /
 *    `ERR_FOREIGN_ALLOCATION` and changes nothing.
 * 4. `protect(a, access)` works only when `capabilities.protect` is true (the
 *    allocation owns whole pages); otherwise it throws `ERR_NOT_ISOLATED`.
 * 5. `protections(a)` reports what the allocation really has — never what was asked.
 * 6. `stats()` counts live allocations and the kernel resources behind them.
 * Run `runAllocatorConformance` from `@tarsjs/page-alloc/conformance` against it.
 */

/** Page protection of an allocation's data. */
export type Access = 'none' | 'read' | 'readwrite'

/** One live (or freed) allocation. Opaque: only its allocator can use it. */
export interface Allocation {
  /** Exactly the requested length in bytes. */
  readonly byteLength: number
  /** The allocator that made it (and the only one that accepts it). */
  readonly allocator: Allocator
  /** True once freed. */
  readonly freed: boolean
}

/** What an allocation actually has, read from what the system calls returned. */
export interface Protections {
  /** Every data page is mlock'ed (or secretmem, which is never swapped). */
  locked: boolean
  /** Excluded from core dumps (MADV_DONTDUMP or secretmem). */
  noDump: boolean
  /** Zero-filled in a forked child (MADV_WIPEONFORK). */
  wipeOnFork: boolean
  /** Not mapped at all in a forked child (MADV_DONTFORK). */
  dontFork: boolean
  /** An inaccessible page right before and right after the data's mapping. */
  guardPages: boolean
  /** Bytes next to the data hold a canary checked on free. */
  canary: boolean
  /** Backed by memfd_secret(2): not in the kernel's direct map. */
  secretmem: boolean
  /** The allocation owns its pages, so `protect()` is allowed. */
  isolated: boolean
  /** Current page protection of the data. */
  access: Access
  /**
   * `access` is `'none'` through a memory protection key, not `PROT_NONE`: the pages are read-write in the page
   * tables but every thread's PKRU register denies them, so any load or store faults as under `PROT_NONE`, and
   * only the allocator's `copyOut`/`copyIn` open the key, on their own thread, for one native copy. Absent or
   * false otherwise.
   */
  protectionKey?: boolean
}

import type { MapBudgetStats } from './map-budget.js'

/** Counters of one allocator. Byte counts are exact; page counts are of this allocator's mappings. */
export interface AllocatorStats {
  /** Live allocations. */
  allocations: number
  /** Sum of the live allocations' byte lengths. */
  bytes: number
  /** Bytes of memory mapped (guard pages included). */
  mappedBytes: number
  /** Bytes currently charged to RLIMIT_MEMLOCK by this allocator, as the kernel counts them (VmLck): mlock'ed pages and secretmem pages (guard pages are never charged). */
  lockedBytes: number
  /** Of `lockedBytes`, those backed by memfd_secret(2). */
  secretmemBytes?: number
  /** Bytes of freed data pages held in the cache for reuse. */
  cachedBytes?: number
  /** Of `cachedBytes`, those still charged to RLIMIT_MEMLOCK (bounded; given back first when a lock is refused). */
  cachedChargedBytes?: number
  /** Times cached and quarantined pages gave their charge back because a lock or a secretmem mapping was refused. */
  chargeReleases?: number
  /** Shared reservations of single pages (each one kernel mapping plus two per live page). */
  reservations?: number
  /** The process's map-count budget as this thread last counted it (see `mapBudget()`). */
  mapBudget?: MapBudgetStats
  /** Pages held in the cache, wiped and inaccessible, ready for reuse. */
  cachedPages: number
  /** Kernel mappings this allocator holds (each is one `map`). */
  mappings: number
  /** Times memory was reused from the cache instead of mapped anew: pages (slot allocator) or mappings (page allocator). */
  cacheHits: number
  /** Live allocations that are not locked: mlock failed under `best-effort`, or mlock is `off` (without secretmem). */
  unlockedAllocations: number
  /** Freed bytes (slots, or data pages) wiped and held in quarantine, not yet reusable. */
  quarantinedBytes?: number
  /** Bytes (slots, or data pages) withdrawn from reuse for good because a view of them escaped (see docs/threat-model.md). */
  escapedBytes?: number
  /** Bytes (slots, or data pages) withdrawn from reuse for good by `retire()`, a running total: wiped, left mapped for a native holder (a let-go page mapping is unmapped once its views are collected). */
  retiredBytes?: number
}

/** What a backend can do at all. */
export interface AllocatorCapabilities {
  /** `protect()` is supported (allocations own their pages). */
  protect: boolean
  /** Every allocation's data starts at a multiple of this many bytes (1 when absent). */
  alignment?: number
}

/** The interface every backend implements. */
export interface Allocator {
  /** A short name for reports, e.g. `'slot'`, `'page'`, `'sodium'`. */
  readonly name: string
  /** What this backend can do. */
  readonly capabilities: AllocatorCapabilities
  /** Allocates `byteLength` bytes, zero-filled unless the backend documents otherwise. */
  alloc(byteLength: number): Allocation
  /** Wipes, detaches every view and releases. Throws on double or foreign free. */
  free(allocation: Allocation): void
  /** An ArrayBuffer of exactly the allocation; detached on free and when access becomes `'none'`. */
  view(allocation: Allocation): ArrayBuffer
  /** Changes the page protection; only for isolated allocations. */
  protect(allocation: Allocation, access: Access): void
  /** What the allocation actually has. */
  protections(allocation: Allocation): Protections
  /**
   * Optional, for isolated allocations: copies the allocation's bytes into `target` (exactly `byteLength` bytes)
   * whatever its access, memory to memory in native code, without a view; the access is the same afterwards.
   */
  copyOut?(allocation: Allocation, target: Uint8Array): void
  /** Optional, the other way: `source` (exactly `byteLength` bytes) into the allocation, whatever its access. */
  copyIn?(allocation: Allocation, source: Uint8Array): void
  /** Current counters. */
  stats(): AllocatorStats
}
