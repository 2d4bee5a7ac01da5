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

export class SodiumAllocator implements Allocator {
  readonly name: string = 'sodium'
  readonly capabilities: AllocatorCapabilities = { protect: true, alignment: 1 }
  readonly #pages: PageAllocator

  /** `options` must be an object or undefined (`ERR_INVALID_ARG_TYPE`). */
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

  /** `byteLength` bytes (0 allowed, as `sodium_malloc(0)`), filled with 0xdb. */
  alloc(byteLength: number): Allocation {
    return this.#pages.allocFor(this, byteLength)
  }

  /** Checks the canary (a mismatch ends the process), wipes, detaches the view, caches the mapping. */
  free(allocation: Allocation): void {
    this.#pages.freeAs(this, allocation)
  }

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
   */
  protect(allocation: Allocation, access: Access, options?: ProtectOptions): void {
    this.#pages.protectAs(this, allocation, access, options)
  }

  protections(allocation: Allocation): Protections {
    return this.#pages.protectionsAs(this, allocation)
  }

  stats(): AllocatorStats {
    return this.#pages.stats()
  }

  /** Unmaps every cached (freed) mapping. */
  trim(): void {
    this.#pages.trim()
  }

  /** Prints as `SodiumAllocator(3 allocations, 96 bytes)`, never the memory. */
  [inspectCustom](): string {
    return describeAllocator('SodiumAllocator', this.stats())
  }

  toJSON(): string {
    return describeAllocator('SodiumAllocator', this.stats())
  }
}
