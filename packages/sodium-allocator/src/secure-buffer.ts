/**
 * Secure buffers: `sodium_malloc`, `sodium_allocarray`, `sodium_free` and
 * `sodium_mprotect_noaccess/readonly/readwrite`, with sodium-native's names,
 * signatures and observable behaviour, on a `SodiumAllocator`.
 *
 * A secure buffer is a `Buffer` over its own external ArrayBuffer of exactly
 * the requested size; a WeakMap keyed by that ArrayBuffer finds the
 * allocation, so any typed array over the same ArrayBuffer is accepted where
 * the Buffer is (as in sodium-native, which goes by the data pointer), and the
 * `secure` property is informative only: it is never trusted.
 *
 * Differences from sodium-native 4.3.1, each on purpose:
 * - sizes must be integers in [0, 2^30]: `sodium_malloc(-1)` throws a
 *   RangeError instead of mapping 4 GiB, NaN and fractions throw instead of
 *   being truncated;
 * - running out of kernel mappings throws a clear error; memory without guard
 *   pages is never returned (libsodium ignores a failed guard `mprotect`);
 * - `sodium_free` clears `secure` (4.3.1 leaves it `true` on a freed buffer);
 * - `sodium_mprotect_*` throw on a buffer that is not (or no longer) secure,
 *   where sodium-native dereferences a guessed header and usually crashes;
 * - `sodium_allocarray(count, size)` exists (libsodium has it; sodium-native does not).
 *
 * As with sodium-native's finalizer, a secure buffer that becomes garbage
 * without `sodium_free` is freed when it is collected (see `backstop` below);
 * with page-alloc's `setLeakWarnings(true)` each such buffer is reported
 * (`TARSJS_SECURE_BUFFER_LEAKED`).
 *
 * Other code can detach a secure buffer without freeing it: sodium-native 5's
 * own `sodium_free` detaches any buffer whose `secure` is true. Such a buffer
 * is freed (canary checked, wiped) as soon as this module sees it detached,
 * with one `TARSJS_FOREIGN_FREE` warning per process: on the next turn of the
 * event loop for buffers allocated in this turn, in any function here that is
 * given it, or by the sweep of older buffers (see `old` below), whichever
 * comes first. The bound: within `SWEEP_INTERVAL_MS` (one second) while the
 * event loop turns, and within `SWEEP_EVERY * live` further `sodium_malloc`
 * calls (4 per live buffer) even when it does not, `live` being the number
 * of secure buffers older than one turn.
 */
// node:timers, not the global: fake timers in a user's tests replace only the global.
import { clearInterval, setInterval } from 'node:timers'
import { Backstop, MAX_BYTE_LENGTH } from '@tarsjs/page-alloc'
import type { Access, Allocation, Protections } from '@tarsjs/page-alloc'
import { argc, plainError, rangeError, typeError, typedArray } from './args.js'
import type { CodedError } from './args.js'
import { SodiumAllocator } from './sodium-allocator.js'

/** A Buffer returned by `sodium_malloc`; `secure` is `false` once freed. */
export interface SecureBuffer extends Buffer {
  secure: boolean
}

interface Entry {
  readonly allocation: Allocation
  readonly buffer: SecureBuffer
  /** Registered with the GC backstop. */
  registered: boolean
}

let shared: SodiumAllocator | undefined
const live = new WeakMap<ArrayBuffer, Entry>()

/** Warning code emitted, with leak warnings on (page-alloc's `setLeakWarnings`), for a secure buffer collected without `sodium_free`. */
export const WARN_SECURE_BUFFER_LEAKED = 'TARSJS_SECURE_BUFFER_LEAKED'

/**
 * The GC backstop (page-alloc's `Backstop`): a secure buffer that becomes
 * garbage without `sodium_free` is freed (canary checked, wiped) when its
 * ArrayBuffer is collected, as sodium-native's finalizer does. New buffers are
 * registered in batches, so buffers freed in the turn they were made never
 * cost a registration. A buffer that other code detached by then is freed
 * instead of registered; the registered ones go to the sweep (`old`).
 * A free that fails here is a `TARSJS_BACKSTOP_FAILED` warning, never an
 * uncaught exception.
 */
const backstop = new Backstop({
  kind: 'secure buffer',
  release: 'sodium_free()',
  leakCode: WARN_SECURE_BUFFER_LEAKED,
  free: collected,
  onRegister: (ab, allocation) => {
    const entry = live.get(ab as ArrayBuffer)
    if (entry === undefined || entry.allocation !== allocation) return false
    if (detachedElsewhere(entry)) {
      reclaim(entry)
      return false
    }
    entry.registered = true
    old.set(allocation, new WeakRef(entry))
    if (sweepTimer === undefined) {
      sweepTimer = setInterval(sweepAll, SWEEP_INTERVAL_MS)
      sweepTimer.unref()
    }
    return true
  }
})

/**
 * The sweep: buffers older than one turn (registered with the backstop) are
 * held weakly in `old`, and checked for a detach by other code (sodium-native
 * 5's `sodium_free`) that this module would otherwise only notice when it is
 * given the buffer again or when the buffer is collected. Every
 * `SWEEP_EVERY`-th allocation checks the next one of them (a cursor that wraps
 * around), and an unref'd timer checks them all every `SWEEP_INTERVAL_MS`
 * while any exist. A detached one is wiped and freed on the spot. (A check
 * costs a WeakRef dereference, a few hundred nanoseconds in a busy loop: one
 * every fourth allocation keeps `sodium_malloc` + `sodium_free` within a few
 * per cent of its speed without the sweep.)
 */
const old = new Map<Allocation, WeakRef<Entry>>()
const SWEEP_EVERY = 4
const SWEEP_INTERVAL_MS = 1000
let cursor: Iterator<[Allocation, WeakRef<Entry>]> = old.entries()
let sweepTimer: NodeJS.Timeout | undefined
let sinceSweep = 0

/**
 * The allocator behind `sodium_malloc` (one per process, created on first use).
 * @throws nothing: the allocator is created with its default options, which are valid, and maps no memory until the first allocation
 * @example
 * ```js
 * import { defaultSodiumAllocator, sodium_free, sodium_malloc } from '@tarsjs/sodium-allocator'
 * const buf = sodium_malloc(32)
 * console.log(defaultSodiumAllocator().stats().allocations >= 1) // true
 * sodium_free(buf)
 * ```
 */
export function defaultSodiumAllocator(): SodiumAllocator {
  if (shared === undefined) shared = new SodiumAllocator()
  return shared
}

function checkSize(value: unknown, name: string, max: number): number {
  if (typeof value !== 'number') throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be an instance of Number`)
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw rangeError(
      'ERR_OUT_OF_RANGE',
      `The value of "${name}" is out of range. It must be an integer >= 0 and <= ${max}. Received ${String(value)}`
    )
  }
  return value
}

/**
 * Allocates `size` bytes of secure memory: libsodium's layout (guard page,
 * 16-byte canary, data ending at the trailing guard page), locked, excluded
 * from core dumps, filled with 0xdb. `sodium_malloc(0)` returns an empty
 * secure buffer.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a size that is not a number; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for a size that is not an integer from 0 to 2^30
 * @throws {Error} `ENOMEM` / `EAGAIN` when the kernel refuses another guarded mapping, and `ENOMEM` (its `cause`: `ERR_MAP_LIMIT`) when the map-count budget of `@tarsjs/page-alloc` would be spent
 * @example
 * ```js
 * import { sodium_free, sodium_malloc } from '@tarsjs/sodium-allocator'
 * const buf = sodium_malloc(32)
 * console.log(buf.secure, buf[0]) // true 219
 * sodium_free(buf)
 * ```
 */
export function sodium_malloc(size: number): SecureBuffer {
  argc(arguments.length, 1, 'sodium_malloc')
  return allocate(checkSize(size, 'size', MAX_BYTE_LENGTH), 'sodium_malloc')
}

/**
 * `count * size` bytes as `sodium_malloc`; an overflowing product throws a RangeError.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a count or size that is not a number; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for a count or size that is not a non-negative integer, or a product over 2^30
 * @throws {Error} `ENOMEM` / `EAGAIN` when the kernel refuses another guarded mapping
 * @example
 * ```js
 * import { sodium_allocarray, sodium_free } from '@tarsjs/sodium-allocator'
 * const counters = sodium_allocarray(4, 8) // four 64-bit counters
 * console.log(counters.length, counters.secure) // 32 true
 * sodium_free(counters)
 * ```
 */
export function sodium_allocarray(count: number, size: number): SecureBuffer {
  argc(arguments.length, 2, 'sodium_allocarray')
  const c = checkSize(count, 'count', Number.MAX_SAFE_INTEGER)
  const s = checkSize(size, 'size', Number.MAX_SAFE_INTEGER)
  if (c > 0 && s > Math.floor(MAX_BYTE_LENGTH / c)) {
    throw rangeError('ERR_OUT_OF_RANGE', `sodium_allocarray(${c}, ${s}) overflows: count * size must be <= ${MAX_BYTE_LENGTH}`)
  }
  return allocate(c * s, 'sodium_allocarray')
}

function allocate(n: number, caller: string): SecureBuffer {
  const sodium = defaultSodiumAllocator()
  let allocation: Allocation
  try {
    allocation = sodium.alloc(n)
  } catch (err) {
    if (!isResourceError(err)) throw err
    // Give the cached (freed) mappings back to the kernel and try once more.
    sodium.trim()
    try {
      allocation = sodium.alloc(n)
    } catch (again) {
      throw isResourceError(again) ? outOfMemory(caller, n, again) : again
    }
  }
  let ab: ArrayBuffer
  try {
    // Not kept by the allocator, so that the ArrayBuffer can be collected (and
    // the backstop below can run) when the program forgets it; sodium_free
    // gives it back, so that the allocator can tell whether it escaped.
    ab = sodium.handOverView(allocation)
  } catch (err) {
    sodium.free(allocation)
    throw err
  }
  const buffer = Buffer.from(ab) as SecureBuffer
  buffer.secure = true
  const entry: Entry = { allocation, buffer, registered: false }
  live.set(ab, entry)
  if (old.size > 0 && ++sinceSweep >= SWEEP_EVERY) {
    sinceSweep = 0
    sweepNext()
  }
  backstop.track(ab, allocation)
  return buffer
}

/** Checks the next old buffer, going round. */
function sweepNext(): void {
  let next = cursor.next()
  if (next.done === true) {
    cursor = old.entries()
    next = cursor.next()
    if (next.done === true) return
  }
  check(next.value[0], next.value[1])
}

/** The timer's sweep: every old buffer; the timer stops when there are none. */
function sweepAll(): void {
  for (const [allocation, ref] of old) check(allocation, ref)
  if (old.size === 0 && sweepTimer !== undefined) {
    clearInterval(sweepTimer)
    sweepTimer = undefined
  }
}

/** Frees an old buffer's allocation if other code detached the buffer, or if it was collected. */
function check(allocation: Allocation, ref: WeakRef<Entry>): void {
  // The entry lives as long as its buffer's ArrayBuffer (the key of `live`).
  const entry = ref.deref()
  if (entry === undefined) {
    // Collected; the backstop's callback may not have run yet.
    old.delete(allocation)
    backstop.collected(allocation)
  } else if (detachedElsewhere(entry)) {
    reclaim(entry)
  }
}

/** True when other code detached the buffer's memory while the allocation is live. */
function detachedElsewhere(entry: Entry): boolean {
  return entry.buffer.byteLength === 0 && entry.allocation.byteLength > 0 && !entry.allocation.freed
}

let foreignFreeWarned = false

/** Frees the allocation of a buffer that other code detached, and says so once. */
function reclaim(entry: Entry): void {
  release(entry)
  if (foreignFreeWarned) return
  foreignFreeWarned = true
  process.emitWarning(
    'A secure buffer from @tarsjs/sodium-allocator was detached by other code without being freed ' +
      "(for example by sodium-native 5's sodium_free); it has now been wiped and freed. " +
      "Free secure buffers with @tarsjs/sodium-allocator's sodium_free, or use withTarsjsMemory(sodium)",
    { code: 'TARSJS_FOREIGN_FREE' }
  )
}

/** Frees through the escape check: a view that was moved out (transfer()) keeps its memory out of reuse. */
function release(entry: Entry): void {
  ;(entry.allocation.allocator as SodiumAllocator).freeHandedOver(entry.allocation, entry.buffer.buffer as ArrayBuffer)
  if (entry.registered) {
    backstop.untrack(entry.allocation)
    old.delete(entry.allocation)
  }
  live.delete(entry.buffer.buffer as ArrayBuffer)
  entry.buffer.secure = false
}

/** The entry of a live secure buffer's ArrayBuffer; one that other code detached is freed here and not returned. */
function liveEntry(ab: ArrayBuffer): Entry | undefined {
  const entry = live.get(ab)
  if (entry === undefined || !detachedElsewhere(entry)) return entry
  reclaim(entry)
  return undefined
}

/** The buffer was collected: its view cannot be checked for an escape, so its mapping is let go, never reused. */
function collected(allocation: Allocation): void {
  old.delete(allocation)
  ;(allocation.allocator as SodiumAllocator).freeHandedOver(allocation, undefined)
}

function isResourceError(err: unknown): err is CodedError {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ENOMEM' || code === 'EAGAIN' || code === 'ERR_MAP_LIMIT'
}

/** As libsodium (a NULL from sodium_malloc), `ENOMEM`; the map-count budget's refusal is its `cause`. */
function outOfMemory(caller: string, n: number, cause: CodedError): CodedError {
  const budget = cause.code === 'ERR_MAP_LIMIT'
  const code = budget ? 'ENOMEM' : cause.code
  const why = budget
    ? `another guarded mapping would eat into the mappings kept free for the runtime (${cause.message})`
    : `the kernel refused another guarded mapping (${cause.message}); memory or vm.max_map_count is exhausted`
  const err = plainError(
    code,
    `${code}: ${caller} of ${n} bytes failed: ${why}. Nothing was allocated (memory without guard pages is never returned)`,
    cause
  )
  const { errno, syscall } = cause as { errno?: number; syscall?: string }
  if (errno !== undefined) Object.assign(err, { errno })
  if (syscall !== undefined) Object.assign(err, { syscall })
  return err
}

/**
 * Frees a secure buffer: checks the canary (a mismatch writes one line to
 * stderr and aborts the process), wipes the memory, detaches every view
 * (`byteLength` 0) and clears `secure`. Freeing twice is a no-op, and so is
 * freeing any empty typed array; freeing a buffer that `sodium_malloc` did not
 * return throws, as in sodium-native. A no-access buffer can be freed.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for something that is not a typed array; `ERR_MISSING_ARGS`
 * @throws {Error} `ERR_NOT_SECURE_BUFFER` (`failed to remove wrap`) for a buffer that `sodium_malloc` did not return
 * @example
 * ```js
 * import { sodium_free, sodium_malloc } from '@tarsjs/sodium-allocator'
 * const buf = sodium_malloc(32)
 * sodium_free(buf)
 * console.log(buf.length, buf.secure) // 0 false
 * ```
 */
export function sodium_free(buf: NodeJS.TypedArray): void {
  argc(arguments.length, 1, 'sodium_free')
  const view = typedArray(buf, 'buf')
  const ab = view.buffer as ArrayBuffer
  const entry = live.get(ab)
  if (entry === undefined) {
    if (view.byteLength === 0) return
    throw plainError('ERR_NOT_SECURE_BUFFER', 'failed to remove wrap')
  }
  release(entry)
  if (view !== entry.buffer && 'secure' in view) (view as { secure?: unknown }).secure = false
}

function mprotect(buf: unknown, access: Access, failure: string): void {
  const view = typedArray(buf, 'buf')
  const entry = live.get(view.buffer as ArrayBuffer)
  if (entry === undefined) throw plainError('ERR_NOT_SECURE_BUFFER', failure)
  // Detached or moved out by other code (sodium-native 5's sodium_free, transfer()):
  // a no-access page under a moved buffer would kill the process when it is read.
  // Its memory is wiped and freed now (never reused), and the call says why.
  if (detachedElsewhere(entry)) {
    reclaim(entry)
    throw plainError('ERR_VIEW_ESCAPED', failure)
  }
  try {
    ;(entry.allocation.allocator as SodiumAllocator).protect(entry.allocation, access, { keepViews: true })
  } catch (cause) {
    const code = (cause as { code?: unknown }).code
    throw plainError(typeof code === 'string' ? code : 'ERR_MPROTECT_FAILED', failure, cause)
  }
}

/**
 * Makes a secure buffer's pages inaccessible. As in libsodium, the Buffer stays
 * attached: reading or writing it from JavaScript now kills the process with
 * SIGSEGV. Use `ProtKey` from `@tarsjs/prot-containers` for memory that is
 * inaccessible by default without that risk.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for something that is not a typed array; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {Error} `ERR_NOT_SECURE_BUFFER` (`failed to lock buffer`) for a buffer `sodium_malloc` did not return or that is freed; `ERR_VIEW_ESCAPED` for one that other code detached (it is then wiped and freed); the OS error from `mprotect`
 * @example
 * ```js
 * import { sodium_free, sodium_malloc, sodium_mprotect_noaccess, sodium_mprotect_readwrite } from '@tarsjs/sodium-allocator'
 * const key = sodium_malloc(32)
 * sodium_mprotect_noaccess(key) // from here on, touching key kills the process
 * sodium_mprotect_readwrite(key)
 * key[0] = 1
 * sodium_free(key)
 * ```
 */
export function sodium_mprotect_noaccess(buf: NodeJS.TypedArray): void {
  argc(arguments.length, 1, 'sodium_mprotect_noaccess')
  mprotect(buf, 'none', 'failed to lock buffer')
}

/**
 * Makes a secure buffer read-only; a write from JavaScript then kills the process (SIGSEGV).
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for something that is not a typed array; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {Error} `ERR_NOT_SECURE_BUFFER` (`failed to unlock buffer`) for a buffer `sodium_malloc` did not return or that is freed; `ERR_VIEW_ESCAPED` for one that other code detached (it is then wiped and freed); the OS error from `mprotect`
 * @example
 * ```js
 * import { sodium_free, sodium_malloc, sodium_mprotect_readonly } from '@tarsjs/sodium-allocator'
 * const key = sodium_malloc(32)
 * key.fill(7)
 * sodium_mprotect_readonly(key)
 * console.log(key[0]) // 7: reads work, a write would kill the process
 * sodium_free(key)
 * ```
 */
export function sodium_mprotect_readonly(buf: NodeJS.TypedArray): void {
  // sodium-native names this function 'sodium_readonly' in its argument error.
  argc(arguments.length, 1, 'sodium_readonly')
  mprotect(buf, 'read', 'failed to unlock buffer')
}

/**
 * Makes a secure buffer readable and writable again.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for something that is not a typed array; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {Error} `ERR_NOT_SECURE_BUFFER` (`failed to unlock buffer`) for a buffer `sodium_malloc` did not return or that is freed; `ERR_VIEW_ESCAPED` for one that other code detached (it is then wiped and freed); the OS error from `mprotect`
 * @example
 * ```js
 * import { sodium_free, sodium_malloc, sodium_mprotect_readonly, sodium_mprotect_readwrite } from '@tarsjs/sodium-allocator'
 * const key = sodium_malloc(32)
 * sodium_mprotect_readonly(key)
 * sodium_mprotect_readwrite(key)
 * key[0] = 1
 * console.log(key[0]) // 1
 * sodium_free(key)
 * ```
 */
export function sodium_mprotect_readwrite(buf: NodeJS.TypedArray): void {
  argc(arguments.length, 1, 'sodium_readwrite')
  mprotect(buf, 'readwrite', 'failed to unlock buffer')
}

/**
 * True for a live buffer (or any typed array over its memory) returned by `sodium_malloc`.
 * @throws nothing: any value is answered
 * @example
 * ```js
 * import { isSecureBuffer, sodium_free, sodium_malloc } from '@tarsjs/sodium-allocator'
 * const buf = sodium_malloc(16)
 * console.log(isSecureBuffer(buf), isSecureBuffer(buf.subarray(4)), isSecureBuffer(Buffer.alloc(16))) // true true false
 * sodium_free(buf)
 * console.log(isSecureBuffer(buf)) // false
 * ```
 */
export function isSecureBuffer(buf: unknown): boolean {
  return ArrayBuffer.isView(buf) && liveEntry(buf.buffer as ArrayBuffer) !== undefined
}

/**
 * What a secure buffer's memory actually has (locked, no-dump, guard pages,
 * canary, current access...), read from what the system calls returned.
 * Throws `ERR_NOT_SECURE_BUFFER` for anything else.
 * @throws {TypeError} `ERR_NOT_SECURE_BUFFER` for anything but a live buffer `sodium_malloc` returned (or a typed array over its memory)
 * @example
 * ```js
 * import { secureBufferProtections, sodium_free, sodium_malloc } from '@tarsjs/sodium-allocator'
 * const buf = sodium_malloc(32)
 * const p = secureBufferProtections(buf)
 * console.log(p.guardPages, p.canary, p.access) // true true readwrite
 * sodium_free(buf)
 * ```
 */
export function secureBufferProtections(buf: NodeJS.TypedArray): Protections {
  const entry = ArrayBuffer.isView(buf) ? liveEntry(buf.buffer as ArrayBuffer) : undefined
  if (entry === undefined) throw typeError('ERR_NOT_SECURE_BUFFER', 'buf must be a live buffer returned by sodium_malloc')
  return entry.allocation.allocator.protections(entry.allocation)
}
