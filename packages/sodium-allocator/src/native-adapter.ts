/**
 * An `Allocator` over the real libsodium, through sodium-native (an optional
 * peer dependency): every allocation is one `sodium_malloc`, so it shows that
 * the interface is swappable and gives a reference to compare against.
 *
 * It declares honestly what it cannot do or observe:
 * - `protect()` is not supported (`capabilities.protect` false, and
 *   `protections().isolated` false): sodium-native cannot detach a secure
 *   buffer's view and attach a new one later, so no-access would leave a view
 *   over inaccessible memory, which this interface never allows.
 * - libsodium ignores the results of its `mprotect` (guard pages) and `madvise`
 *   (no-dump) calls and exposes no address to check them, so `guardPages` and
 *   `noDump` are reported `false` ("not established"), listed in
 *   `SodiumNativeAllocator.unverifiable`. No wipe-on-fork either.
 * - `locked` is known: the adapter locks the data itself (`mlock` of the view)
 *   and reports what that call returned.
 * - `free` wipes synchronously itself before `sodium_free`, because
 *   sodium-native 5.x only detaches there and leaves the real free to the GC.
 */
import os = require('@tarsjs/os-memlock')
import {
  AllocError,
  PAGE_SIZE,
  WARN_ESCAPED_VIEW,
  WARN_MLOCK,
  checkAccess,
  checkByteLength,
  checkLive,
  checkOptionsObject,
  AllocationHandle,
  describeAllocator,
  handleState,
  inspectCustom,
  pageStats,
  rejectAllocation
} from '@tarsjs/page-alloc'
import type { Access, Allocation, Allocator, HandleState, AllocatorCapabilities, AllocatorStats, MlockPolicy, Protections } from '@tarsjs/page-alloc'
import { plainError } from './args.js'

/** The part of sodium-native this adapter uses. */
export interface SodiumNativeMemory {
  sodium_malloc(size: number): Buffer
  sodium_free(buf: Buffer): void
}

/** Options of `SodiumNativeAllocator`. */
export interface SodiumNativeAllocatorOptions {
  /** The sodium-native module; default `require('sodium-native')`. */
  sodium?: SodiumNativeMemory
  /** What a failed mlock means. Default `'best-effort'` (reported, one warning). */
  mlock?: MlockPolicy
}

/** libsodium's canary, before the data. */
const CANARY = 16

/**
 * Loads sodium-native, or returns undefined when it is not installed.
 * @throws {Error} the error of loading an installed but broken sodium-native (`ERR_DLOPEN_FAILED` for a binary built for another platform or Node.js); a missing one (`MODULE_NOT_FOUND`) gives `undefined`, not an error
 * @example
 * ```js
 * import { loadSodiumNative } from '@tarsjs/sodium-allocator'
 * const sodium = loadSodiumNative()
 * console.log(sodium === undefined ? 'not installed' : typeof sodium.sodium_malloc) // function: sodium-native is installed here
 * ```
 */
export function loadSodiumNative(): SodiumNativeMemory | undefined {
  try {
    return require('sodium-native') as SodiumNativeMemory
  } catch (err) {
    if ((err as { code?: unknown }).code === 'MODULE_NOT_FOUND') return undefined
    throw err
  }
}

interface NativeState extends HandleState {
  readonly allocator: SodiumNativeAllocator
  readonly buffer: Buffer
  readonly locked: boolean
}

/**
 * An allocation of `SodiumNativeAllocator`. All state is private: spread, clone or serialize it and you get `{}`.
 * @example
 * ```js
 * import { SodiumNativeAllocator } from '@tarsjs/sodium-allocator'
 * const native = new SodiumNativeAllocator() // needs sodium-native installed
 * const a = native.alloc(16)
 * console.log(JSON.stringify(a), a.byteLength) // "SodiumNativeAllocation(16 bytes)" 16: never the bytes
 * native.free(a)
 * ```
 */
export class SodiumNativeAllocation extends AllocationHandle<NativeState> {
  /** @internal */
  constructor(state: NativeState) {
    super(state)
  }
}

/**
 * An `Allocator` over sodium-native's own `sodium_malloc` / `sodium_free` (libsodium's allocator, in C). It cannot protect allocations (`protect` throws `ERR_NOT_ISOLATED`), and guard pages and no-dump are reported `false` because their outcome cannot be observed.
 * @example
 * ```js
 * import { SodiumNativeAllocator } from '@tarsjs/sodium-allocator'
 * const native = new SodiumNativeAllocator() // needs sodium-native installed
 * const a = native.alloc(32)
 * console.log(native.protections(a).locked) // true: when RLIMIT_MEMLOCK allows
 * native.free(a)
 * ```
 */
export class SodiumNativeAllocator implements Allocator {
  /** Protections libsodium may apply but whose outcome cannot be observed; reported `false`. */
  static readonly unverifiable: readonly (keyof Protections)[] = ['guardPages', 'noDump']

  readonly name: string = 'sodium-native'
  readonly capabilities: AllocatorCapabilities = { protect: false, alignment: 1 }
  readonly #sodium: SodiumNativeMemory
  readonly #mlock: MlockPolicy
  #warned = false
  #warnedEscape = false
  #counters = { allocations: 0, bytes: 0, mappedPages: 0, lockedPages: 0, unlocked: 0, escapedBytes: 0 }

  /**
   * Wraps the given sodium-native module, or the installed one.
   * @throws {Error} `ERR_SODIUM_NATIVE_MISSING` when sodium-native is not installed and none is given
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_INVALID_ARG_VALUE` for an unknown `mlock` policy
   * @example
   * ```js
   * import { SodiumNativeAllocator } from '@tarsjs/sodium-allocator'
   * import sodium from 'sodium-native'
   * const native = new SodiumNativeAllocator({ sodium, mlock: 'off' })
   * console.log(native.name) // sodium-native
   * ```
   */
  constructor(options?: SodiumNativeAllocatorOptions) {
    const o = checkOptionsObject<SodiumNativeAllocatorOptions>(options)
    const sodium = o.sodium ?? loadSodiumNative()
    if (sodium === undefined) {
      throw plainError('ERR_SODIUM_NATIVE_MISSING', 'sodium-native is not installed; install it to use SodiumNativeAllocator')
    }
    this.#sodium = sodium
    const mlock = o.mlock ?? 'best-effort'
    if (mlock !== 'required' && mlock !== 'best-effort' && mlock !== 'off') {
      throw new AllocError('ERR_INVALID_ARG_VALUE', "The \"mlock\" option must be one of 'required', 'best-effort', 'off'")
    }
    this.#mlock = mlock
  }

  /**
   * `sodium_malloc(byteLength)`; 0 allowed. Filled with 0xdb by libsodium.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for a length that is not an integer from 0 to 2^30; `ERR_MLOCK_FAILED` under `mlock: 'required'` when mlock fails; `ERR_INVALID_ARG_VALUE` when the given module's `sodium_malloc` returns a Buffer that does not own its memory
   * @throws {Error} what sodium-native's `sodium_malloc` throws (`ENOMEM`)
   * @example
   * ```js
   * import { SodiumNativeAllocator } from '@tarsjs/sodium-allocator'
   * const native = new SodiumNativeAllocator() // needs sodium-native installed
   * const a = native.alloc(32)
   * console.log(a.byteLength) // 32
   * native.free(a)
   * ```
   */
  alloc(byteLength: number): Allocation {
    const n = checkByteLength(byteLength, true)
    const buffer = this.#sodium.sodium_malloc(n)
    if (buffer.byteOffset !== 0 || buffer.buffer.byteLength !== n) {
      this.#sodium.sodium_free(buffer)
      throw new AllocError('ERR_INVALID_ARG_VALUE', 'sodium_malloc returned a Buffer that does not own its ArrayBuffer')
    }
    const locked = this.#lock(buffer)
    const a = new SodiumNativeAllocation({ allocator: this, buffer, byteLength: n, locked, freed: false })
    const c = this.#counters
    c.allocations++
    c.bytes += n
    c.mappedPages += libsodiumPages(n)
    if (locked) c.lockedPages += dataPages(n)
    else c.unlocked++
    return a
  }

  /**
   * Wipes (synchronously, here), then `sodium_free`: libsodium checks its canary
   * and unmaps. A buffer found detached by someone else (its memory moved by
   * `transfer()`) is neither wiped (its only view moved away) nor freed: it
   * stays mapped for good, so the escaped buffer never faults and never sees
   * another secret; it is counted in `stats().escapedBytes` and warned about.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for something that is not an allocation; `ERR_FOREIGN_ALLOCATION` for another allocator's; `ERR_DOUBLE_FREE`; libsodium aborts the process on a corrupted canary
   * @example
   * ```js
   * import { SodiumNativeAllocator } from '@tarsjs/sodium-allocator'
   * const native = new SodiumNativeAllocator() // needs sodium-native installed
   * const a = native.alloc(16)
   * native.free(a)
   * console.log(a.freed) // true
   * ```
   */
  free(allocation: Allocation): void {
    const a = this.#own(allocation, true)
    const ab = a.buffer.buffer
    const c = this.#counters
    if (a.byteLength > 0 && ab.byteLength === 0) {
      c.escapedBytes += a.byteLength
      if (!this.#warnedEscape) {
        this.#warnedEscape = true
        process.emitWarning('tarsjs: a sodium-native secure buffer was detached outside the allocator; its memory is never freed', {
          type: 'TarsjsWarning',
          code: WARN_ESCAPED_VIEW
        })
      }
    } else {
      if (a.byteLength > 0) os.wipe(a.buffer)
      this.#sodium.sodium_free(a.buffer)
      if (ab.byteLength !== 0) os.detach(ab as ArrayBuffer)
    }
    a.freed = true
    c.allocations--
    c.bytes -= a.byteLength
    c.mappedPages -= libsodiumPages(a.byteLength)
    if (a.locked) c.lockedPages -= dataPages(a.byteLength)
    else c.unlocked--
  }

  /**
   * The allocation's memory (sodium-native's Buffer's ArrayBuffer).
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE`; `ERR_FOREIGN_ALLOCATION`; `ERR_ALLOCATION_FREED`; `ERR_VIEW_ESCAPED` once other code detached it
   * @example
   * ```js
   * import { SodiumNativeAllocator } from '@tarsjs/sodium-allocator'
   * const native = new SodiumNativeAllocator() // needs sodium-native installed
   * const a = native.alloc(8)
   * new Uint8Array(native.view(a)).fill(1)
   * console.log(native.view(a).byteLength) // 8
   * native.free(a)
   * ```
   */
  view(allocation: Allocation): ArrayBuffer {
    const ab = this.#own(allocation, false).buffer.buffer as ArrayBuffer
    if (ab.byteLength === 0 && allocation.byteLength > 0) {
      throw new AllocError('ERR_VIEW_ESCAPED', "The allocation's view was detached outside the allocator; it has no view any more. Free it.")
    }
    return ab
  }

  /**
   * Not supported: sodium-native cannot detach a secure buffer and attach it again.
   * @throws {AllocError} `ERR_NOT_ISOLATED`, always (after the checks of `view`: `ERR_INVALID_ARG_TYPE`, `ERR_FOREIGN_ALLOCATION`, `ERR_ALLOCATION_FREED`, `ERR_INVALID_ARG_VALUE` for an unknown access)
   * @example
   * ```js
   * import { SodiumNativeAllocator } from '@tarsjs/sodium-allocator'
   * const native = new SodiumNativeAllocator() // needs sodium-native installed
   * const a = native.alloc(8)
   * try {
   *   native.protect(a, 'none')
   * } catch (err) {
   *   console.log(err.code) // ERR_NOT_ISOLATED
   * }
   * native.free(a)
   * ```
   */
  protect(allocation: Allocation, access: Access): void {
    this.#own(allocation, false)
    checkAccess(access)
    throw new AllocError(
      'ERR_NOT_ISOLATED',
      'sodium-native cannot detach a secure buffer and attach it again, so protect() is not supported by this backend; use SodiumAllocator'
    )
  }

  /**
   * What can be observed of the allocation: `locked` from this adapter's own mlock; guard pages and no-dump reported `false` (see `unverifiable`).
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE`; `ERR_FOREIGN_ALLOCATION`; `ERR_ALLOCATION_FREED`
   * @example
   * ```js
   * import { SodiumNativeAllocator } from '@tarsjs/sodium-allocator'
   * const native = new SodiumNativeAllocator() // needs sodium-native installed
   * const a = native.alloc(8)
   * console.log(native.protections(a).guardPages) // false: libsodium has them, but they cannot be observed
   * native.free(a)
   * ```
   */
  protections(allocation: Allocation): Protections {
    const a = this.#own(allocation, false)
    return {
      locked: a.locked,
      noDump: false,
      wipeOnFork: false,
      dontFork: false,
      guardPages: false,
      canary: true,
      secretmem: false,
      isolated: false,
      access: 'readwrite'
    }
  }

  /**
   * Counters of live allocations; mappings are libsodium's (one per allocation, as 4.x frees them at once).
   * @throws nothing
   * @example
   * ```js
   * import { SodiumNativeAllocator } from '@tarsjs/sodium-allocator'
   * const native = new SodiumNativeAllocator() // needs sodium-native installed
   * const a = native.alloc(32)
   * console.log(native.stats().allocations) // 1
   * native.free(a)
   * ```
   */
  stats(): AllocatorStats {
    const c = this.#counters
    return {
      ...pageStats(c),
      cachedPages: 0,
      mappings: c.allocations,
      cacheHits: 0,
      unlockedAllocations: c.unlocked,
      escapedBytes: c.escapedBytes
    }
  }

  /** Prints as `SodiumNativeAllocator(3 allocations, 96 bytes)`, never the memory. */
  [inspectCustom](): string {
    return describeAllocator('SodiumNativeAllocator', this.stats())
  }

  /**
   * The redacted description that `console.log` shows too: counts, never the memory.
   * @throws nothing
   * @example
   * ```js
   * import { SodiumNativeAllocator } from '@tarsjs/sodium-allocator'
   * const native = new SodiumNativeAllocator() // needs sodium-native installed
   * console.log(JSON.stringify(native)) // "SodiumNativeAllocator(0 allocations, 0 bytes)"
   * ```
   */
  toJSON(): string {
    return describeAllocator('SodiumNativeAllocator', this.stats())
  }

  #lock(buffer: Buffer): boolean {
    if (buffer.byteLength === 0) return true
    if (this.#mlock === 'off') return false
    try {
      os.lock(buffer)
      return true
    } catch (cause) {
      const code = (cause as { code?: string }).code ?? 'unknown'
      if (this.#mlock === 'required') {
        this.#sodium.sodium_free(buffer)
        throw new AllocError('ERR_MLOCK_FAILED', `mlock failed (${code}): raise RLIMIT_MEMLOCK or use mlock: 'best-effort'`, { cause })
      }
      if (!this.#warned) {
        this.#warned = true
        process.emitWarning(`tarsjs: mlock of a sodium-native buffer failed (${code}); secrets may be swapped`, {
          type: 'TarsjsWarning',
          code: WARN_MLOCK
        })
      }
      return false
    }
  }

  #own(allocation: unknown, freeing: boolean): NativeState {
    const a = handleState(allocation, SodiumNativeAllocation)
    if (a === undefined || a.allocator !== this) rejectAllocation(allocation)
    checkLive(a, freeing)
    return a
  }
}

/** Pages libsodium maps for `n` bytes: size page, guard, data with canary rounded up, guard. */
function libsodiumPages(n: number): number {
  return 3 + Math.ceil((n + CANARY) / PAGE_SIZE)
}

/** Pages the data itself spans (it ends at a page boundary). */
function dataPages(n: number): number {
  return Math.ceil(n / PAGE_SIZE)
}
