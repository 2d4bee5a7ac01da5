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
import { AllocError, PAGE_SIZE, WARN_MLOCK, checkAccess, checkByteLength, checkLive, describeHandle, inspectCustom, rejectAllocation } from '@tarsjs/page-alloc'
import type { Access, Allocation, Allocator, AllocatorCapabilities, AllocatorStats, MlockPolicy, Protections } from '@tarsjs/page-alloc'
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

/** An allocation of `SodiumNativeAllocator`. */
export class SodiumNativeAllocation implements Allocation {
  readonly byteLength: number
  readonly allocator: SodiumNativeAllocator
  freed = false
  /** @internal */ readonly buffer: Buffer
  /** @internal */ readonly locked: boolean

  /** @internal */
  constructor(allocator: SodiumNativeAllocator, buffer: Buffer, locked: boolean) {
    this.allocator = allocator
    this.buffer = buffer
    this.byteLength = buffer.byteLength
    this.locked = locked
  }

  /** Prints as `SodiumNativeAllocation(32 bytes)`, never the memory. */
  [inspectCustom](): string {
    return describeHandle('SodiumNativeAllocation', this)
  }

  toJSON(): string {
    return describeHandle('SodiumNativeAllocation', this)
  }
}

export class SodiumNativeAllocator implements Allocator {
  /** Protections libsodium may apply but whose outcome cannot be observed; reported `false`. */
  static readonly unverifiable: readonly (keyof Protections)[] = ['guardPages', 'noDump']

  readonly name: string = 'sodium-native'
  /** The live handles, by identity. */
  private readonly live = new WeakSet<SodiumNativeAllocation>()
  readonly capabilities: AllocatorCapabilities = { protect: false, alignment: 1 }
  private readonly sodium: SodiumNativeMemory
  private readonly mlock: MlockPolicy
  private warned = false
  private counters = { allocations: 0, bytes: 0, mappedPages: 0, lockedPages: 0, unlocked: 0 }

  constructor(options: SodiumNativeAllocatorOptions = {}) {
    const sodium = options.sodium ?? loadSodiumNative()
    if (sodium === undefined) {
      throw plainError('ERR_SODIUM_NATIVE_MISSING', 'sodium-native is not installed; install it to use SodiumNativeAllocator')
    }
    this.sodium = sodium
    const mlock = options.mlock ?? 'best-effort'
    if (mlock !== 'required' && mlock !== 'best-effort' && mlock !== 'off') {
      throw new AllocError('ERR_INVALID_ARG_VALUE', "The \"mlock\" option must be one of 'required', 'best-effort', 'off'")
    }
    this.mlock = mlock
  }

  /** `sodium_malloc(byteLength)`; 0 allowed. Filled with 0xdb by libsodium. */
  alloc(byteLength: number): Allocation {
    const n = checkByteLength(byteLength, true)
    const buffer = this.sodium.sodium_malloc(n)
    if (buffer.byteOffset !== 0 || buffer.buffer.byteLength !== n) {
      this.sodium.sodium_free(buffer)
      throw new AllocError('ERR_INVALID_ARG_VALUE', 'sodium_malloc returned a Buffer that does not own its ArrayBuffer')
    }
    const locked = this.lock(buffer)
    const a = new SodiumNativeAllocation(this, buffer, locked)
    this.live.add(a)
    const c = this.counters
    c.allocations++
    c.bytes += n
    c.mappedPages += libsodiumPages(n)
    if (locked) c.lockedPages += dataPages(n)
    else c.unlocked++
    return a
  }

  /** Wipes (synchronously, here), then `sodium_free`: libsodium checks its canary and unmaps. */
  free(allocation: Allocation): void {
    const a = this.own(allocation, true)
    const ab = a.buffer.buffer
    if (a.byteLength > 0) os.wipe(a.buffer)
    this.sodium.sodium_free(a.buffer)
    if (ab.byteLength !== 0) os.detach(ab as ArrayBuffer)
    a.freed = true
    this.live.delete(a)
    const c = this.counters
    c.allocations--
    c.bytes -= a.byteLength
    c.mappedPages -= libsodiumPages(a.byteLength)
    if (a.locked) c.lockedPages -= dataPages(a.byteLength)
    else c.unlocked--
  }

  view(allocation: Allocation): ArrayBuffer {
    return this.own(allocation, false).buffer.buffer as ArrayBuffer
  }

  protect(allocation: Allocation, access: Access): void {
    this.own(allocation, false)
    checkAccess(access)
    throw new AllocError(
      'ERR_NOT_ISOLATED',
      'sodium-native cannot detach a secure buffer and attach it again, so protect() is not supported by this backend; use SodiumAllocator'
    )
  }

  protections(allocation: Allocation): Protections {
    const a = this.own(allocation, false)
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
    const c = this.counters
    return {
      allocations: c.allocations,
      bytes: c.bytes,
      mappedBytes: c.mappedPages * PAGE_SIZE,
      lockedBytes: c.lockedPages * PAGE_SIZE,
      cachedPages: 0,
      mappings: c.allocations,
      cacheHits: 0,
      unlockedAllocations: c.unlocked
    }
  }

  private lock(buffer: Buffer): boolean {
    if (buffer.byteLength === 0) return true
    if (this.mlock === 'off') return false
    try {
      os.lock(buffer)
      return true
    } catch (cause) {
      const code = (cause as { code?: string }).code ?? 'unknown'
      if (this.mlock === 'required') {
        this.sodium.sodium_free(buffer)
        throw new AllocError('ERR_MLOCK_FAILED', `mlock failed (${code}): raise RLIMIT_MEMLOCK or use mlock: 'best-effort'`, { cause })
      }
      if (!this.warned) {
        this.warned = true
        process.emitWarning(`tarsjs: mlock of a sodium-native buffer failed (${code}); secrets may be swapped`, {
          type: 'TarsjsWarning',
          code: WARN_MLOCK
        })
      }
      return false
    }
  }

  private own(allocation: unknown, freeing: boolean): SodiumNativeAllocation {
    if (!(allocation instanceof SodiumNativeAllocation) || allocation.allocator !== this) rejectAllocation(allocation)
    checkLive(allocation, freeing)
    // A copy (Object.create, a clone) carries the buffer but is not the live handle.
    if (!this.live.has(allocation)) rejectAllocation(allocation)
    return allocation
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
