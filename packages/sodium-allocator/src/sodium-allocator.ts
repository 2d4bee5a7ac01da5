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
 *
 * It is a `PageAllocator` configured for that layout (no alignment padding,
 * a 16-byte front canary, 0xdb fill, no secretmem by default), so every
 * method, the hand-over of secure buffers' views included, is page-alloc's own.
 */
import { PageAllocator, checkOptionsObject, describeAllocator, inspectCustom } from '@tarsjs/page-alloc'
import type { IntegrityPolicy, MlockPolicy, QuarantineOptions, SecretmemPolicy } from '@tarsjs/page-alloc'

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
 * An `Allocator` with libsodium's layout for each allocation: a guard page, the 16-byte canary, the data ending at the trailing guard page; locked, no-dump, filled with 0xdb. A `PageAllocator` configured for that layout; the allocator behind `sodium_malloc`, and a backend for `ProtBuf` / `ProtKey`.
 * @example
 * ```js
 * import { SodiumAllocator } from '@tarsjs/sodium-allocator'
 * const sodium = new SodiumAllocator()
 * const a = sodium.alloc(32)
 * console.log(new Uint8Array(sodium.view(a))[0]) // 219: 0xdb, libsodium's garbage byte
 * sodium.free(a)
 * ```
 */
export class SodiumAllocator extends PageAllocator {
  override readonly name: string = 'sodium'

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
    super({
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

  /** Prints as `SodiumAllocator(3 allocations, 96 bytes)`, never the memory. */
  override [inspectCustom](): string {
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
  override toJSON(): string {
    return describeAllocator('SodiumAllocator', this.stats())
  }
}
