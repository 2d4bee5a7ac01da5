/**
 * `SodiumAllocator`: an `Allocator` with libsodium's `sodium_malloc` layout,
 * so that any container (ProtBuf, ProtKey) can use it.
 *
 *   [guard page][ ... | 16-byte canary | data ][guard page]
 *
 * One mapping per allocation; the data ends exactly at the trailing guard page
 * (no alignment padding, as in libsodium), so a native overflow of even one
 * byte faults at once; 16 bytes of random canary right before the data are
 * checked on free. Fresh allocations are filled with 0xdb (libsodium's
 * garbage value), not zero. Freed mappings are wiped, made inaccessible and
 * cached for reuse (libsodium unmaps them), which is what makes it fast.
 *
 * Differences from libsodium, on purpose: a failed mlock is reported (policy
 * `best-effort` warns once and counts it in `stats().unlockedAllocations`;
 * `required` throws) where libsodium ignores it; a mapping whose guard pages
 * cannot be set up is released and the error thrown, where libsodium returns
 * the memory without them.
 */
import { PageAllocator, checkOptionsObject, describeAllocator, inspectCustom } from '@tarsjs/page-alloc'
import type {
  Access,
  Allocation,
  Allocator,
  AllocatorCapabilities,
  AllocatorStats,
  IntegrityPolicy,
  MlockPolicy,
  Protections,
  ProtectOptions,
  QuarantineOptions,
  SecretmemPolicy
} from '@tarsjs/page-alloc'

/** libsodium's `CANARY_SIZE`. */
export const CANARY_BYTES = 16
/** libsodium's `GARBAGE_VALUE`: what fresh allocations are filled with. */
export const GARBAGE_BYTE = 0xdb

/** Options of `SodiumAllocator`; every one has a safe default. */
export interface SodiumAllocatorOptions {
  /** What a failed mlock means. Default `'best-effort'` (reported, one warning). */
  mlock?: MlockPolicy
  /** Corrupted canary: `'abort'` (default, as libsodium) or `'throw'` (tests). */
  integrity?: IntegrityPolicy
  /**
   * memfd_secret backing. Default `'off'`: libsodium's layout is private
   * anonymous memory, and secretmem mappings are shared (`---s` in smaps),
   * refuse mlock and count against RLIMIT_MEMLOCK.
   */
  secretmem?: SecretmemPolicy
  /** Freed mappings kept for reuse, 0 to 4096. Default 64. */
  cacheLimit?: number
  /** How long freed mappings stay out of reuse (see page-alloc's `Quarantine`). Default `{ frees: 16, bytes: 262144 }`. */
  quarantine?: QuarantineOptions
}

/**
 * An `Allocator` with libsodium's layout for each allocation: a guard page, the 16-byte canary, the data ending at the trailing guard page; locked, no-dump, filled with 0xdb. The allocator behind `sodium_malloc`, and a backend for `ProtBuf` / `ProtKey`.
 * @example
 * ```js
 * import { SodiumAllocator } from '@tarsjs/sodium-allocator'
 * const sodium = new SodiumAllocator()
 * const a = sodium.alloc(32)
 * console.log(new Uint8Array(sodium.view(a))[0]) // 219: 0xdb, libsodium's garbage byte
 * sodium.free(a)
 * ```
 */
export class SodiumAllocator implements Allocator {
  readonly name: string = 'sodium'
  readonly capabilities: AllocatorCapabilities = { protect: true, alignment: 1 }
  readonly #pages: PageAllocator

  /**
   * `options` must be an object or undefined (`ERR_INVALID_ARG_TYPE`).
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_INVALID_ARG_VALUE` / `ERR_OUT_OF_RANGE` for a bad option; `ERR_SECRETMEM_UNAVAILABLE` under `secretmem: 'required'` without memfd_secret
   * @example
   * ```js
   * import { SodiumAllocator } from '@tarsjs/sodium-allocator'
   * const sodium = new SodiumAllocator({ mlock: 'best-effort', cacheLimit: 16 })
   * console.log(sodium) // SodiumAllocator(0 allocations, 0 bytes)
   * ```
   */
  constructor(options?: SodiumAllocatorOptions) {
    const o = checkOptionsObject<SodiumAllocatorOptions>(options)
    this.#pages = new PageAllocator({
      mlock: o.mlock ?? 'best-effort',
      integrity: o.integrity ?? 'abort',
      secretmem: o.secretmem ?? 'off',
      cacheLimit: o.cacheLimit ?? 64,
      quarantine: o.quarantine,
      alignment: 1,
      frontCanary: CANARY_BYTES,
      fillByte: GARBAGE_BYTE
    })
  }

  /**
   * `byteLength` bytes (0 allowed, as `sodium_malloc(0)`), filled with 0xdb.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for a length that is not an integer from 0 to 2^30; `ERR_MLOCK_FAILED` under `mlock: 'required'`; the OS error (`ENOMEM`, `EAGAIN`, `EPERM`) when the kernel refuses memory; nothing is allocated when it throws
   * @example
   * ```js
   * import { SodiumAllocator } from '@tarsjs/sodium-allocator'
   * const sodium = new SodiumAllocator()
   * const a = sodium.alloc(0) // as sodium_malloc(0)
   * console.log(a.byteLength) // 0
   * sodium.free(a)
   * ```
   */
  alloc(byteLength: number): Allocation {
    return this.#pages.allocFor(this, byteLength)
  }

  /**
   * Checks the canary (a mismatch ends the process), wipes, detaches the view, caches the mapping.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_DOUBLE_FREE`; a corrupted canary ends the process (or throws `ERR_INTEGRITY` under `integrity: 'throw'`)
   * @example
   * ```js
   * import { SodiumAllocator } from '@tarsjs/sodium-allocator'
   * const sodium = new SodiumAllocator()
   * const a = sodium.alloc(16)
   * const bytes = new Uint8Array(sodium.view(a))
   * sodium.free(a)
   * console.log(a.freed, bytes.length) // true 0
   * ```
   */
  free(allocation: Allocation): void {
    this.#pages.freeAs(this, allocation)
  }

  /**
   * The allocation's memory as an ArrayBuffer of exactly its length (the same one on every call), detached when the allocation is freed or protected `'none'`.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`; `ERR_NO_ACCESS` while it is protected `'none'`
   * @example
   * ```js
   * import { SodiumAllocator } from '@tarsjs/sodium-allocator'
   * const sodium = new SodiumAllocator()
   * const a = sodium.alloc(8)
   * console.log(sodium.view(a).byteLength, sodium.view(a) === sodium.view(a)) // 8 true
   * sodium.free(a)
   * ```
   */
  view(allocation: Allocation): ArrayBuffer {
    return this.#pages.viewAs(this, allocation)
  }

  /**
   * @internal The view of a secure buffer, handed over: the allocator does not
   * keep it, so that a buffer the program forgets can be collected (and freed
   * by the backstop). Give it back to `freeHandedOver`.
   */
  handOverView(allocation: Allocation): ArrayBuffer {
    return this.#pages.viewAs(this, allocation, true)
  }

  /** @internal Frees a secure buffer's allocation; `view` is its handed-over view (checked for an escape), undefined once collected. */
  freeHandedOver(allocation: Allocation, view: ArrayBuffer | undefined): void {
    this.#pages.freeAs(this, allocation, view)
  }

  /**
   * Changes the page protection of the data. `'none'` detaches the view, as
   * the `Allocator` contract requires. `{ keepViews: true }` is what
   * `sodium_mprotect_noaccess` uses: the view stays attached and touching it
   * faults, as in libsodium.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`; `ERR_INVALID_ARG_VALUE` for an unknown access; the OS error from `mprotect`
   * @example
   * ```js
   * import { SodiumAllocator } from '@tarsjs/sodium-allocator'
   * const sodium = new SodiumAllocator()
   * const a = sodium.alloc(32)
   * sodium.protect(a, 'none')
   * console.log(sodium.protections(a).access) // none
   * sodium.protect(a, 'readwrite')
   * sodium.free(a)
   * ```
   */
  protect(allocation: Allocation, access: Access, options?: ProtectOptions): void {
    this.#pages.protectAs(this, allocation, access, options)
  }

  /**
   * What the allocation's memory actually has (locked, no-dump, guard pages, canary, access...), from what the system calls returned.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_ALLOCATION_FREED`
   * @example
   * ```js
   * import { SodiumAllocator } from '@tarsjs/sodium-allocator'
   * const sodium = new SodiumAllocator()
   * const a = sodium.alloc(32)
   * const p = sodium.protections(a)
   * console.log(p.guardPages, p.isolated, p.access) // true true readwrite
   * sodium.free(a)
   * ```
   */
  protections(allocation: Allocation): Protections {
    return this.#pages.protectionsAs(this, allocation)
  }

  /**
   * Counters of live allocations, mapped, locked and cached memory; never the memory itself.
   * @throws nothing
   * @example
   * ```js
   * import { SodiumAllocator } from '@tarsjs/sodium-allocator'
   * const sodium = new SodiumAllocator()
   * const a = sodium.alloc(32)
   * const { allocations, bytes } = sodium.stats()
   * console.log(allocations, bytes) // 1 32
   * sodium.free(a)
   * ```
   */
  stats(): AllocatorStats {
    return this.#pages.stats()
  }

  /**
   * Unmaps every cached (freed) mapping.
   * @throws {Error} nothing in use; only the OS error of a failing `munmap` (`EINVAL`), which would mean a corrupted mapping
   * @example
   * ```js
   * import { SodiumAllocator } from '@tarsjs/sodium-allocator'
   * const sodium = new SodiumAllocator()
   * sodium.free(sodium.alloc(32)) // the freed mapping is cached for the next alloc
   * sodium.trim()
   * console.log(sodium.stats().cachedPages) // 0
   * ```
   */
  trim(): void {
    this.#pages.trim()
  }

  /** Prints as `SodiumAllocator(3 allocations, 96 bytes)`, never the memory. */
  [inspectCustom](): string {
    return describeAllocator('SodiumAllocator', this.stats())
  }

  /**
   * The redacted description that `console.log` shows too: counts, never the memory.
   * @throws nothing
   * @example
   * ```js
   * import { SodiumAllocator } from '@tarsjs/sodium-allocator'
   * const sodium = new SodiumAllocator()
   * console.log(JSON.stringify({ sodium })) // {"sodium":"SodiumAllocator(0 allocations, 0 bytes)"}
   * ```
   */
  toJSON(): string {
    return describeAllocator('SodiumAllocator', this.stats())
  }
}
