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

/** Loads sodium-native, or returns undefined when it is not installed. */
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

/** An allocation of `SodiumNativeAllocator`. All state is private: spread, clone or serialize it and you get `{}`. */
export class SodiumNativeAllocation extends AllocationHandle<NativeState> {
  /** @internal */
  constructor(state: NativeState) {
    super(state)
  }
}

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

  /** `sodium_malloc(byteLength)`; 0 allowed. Filled with 0xdb by libsodium. */
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

  view(allocation: Allocation): ArrayBuffer {
    const ab = this.#own(allocation, false).buffer.buffer as ArrayBuffer
    if (ab.byteLength === 0 && allocation.byteLength > 0) {
      throw new AllocError('ERR_VIEW_ESCAPED', "The allocation's view was detached outside the allocator; it has no view any more. Free it.")
    }
    return ab
  }

  protect(allocation: Allocation, access: Access): void {
    this.#own(allocation, false)
    checkAccess(access)
    throw new AllocError(
      'ERR_NOT_ISOLATED',
      'sodium-native cannot detach a secure buffer and attach it again, so protect() is not supported by this backend; use SodiumAllocator'
    )
  }

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

  /** Counters of live allocations; mappings are libsodium's (one per allocation, as 4.x frees them at once). */
  stats(): AllocatorStats {
    const c = this.#counters
    return {
      allocations: c.allocations,
      bytes: c.bytes,
      mappedBytes: c.mappedPages * PAGE_SIZE,
      lockedBytes: c.lockedPages * PAGE_SIZE,
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
