/**
 * `sodium_mlock`, `sodium_munlock`, `sodium_memzero` and `sodium_memcmp` over
 * any typed array, through `@tarsjs/os-memlock` (which acts on exactly the
 * bytes of an ArrayBufferView): the wipe is `explicit_bzero` and the
 * comparison runs in time that depends only on the length, both in native code.
 */
import os = require('@tarsjs/os-memlock')
import { argc, plainError, typedArray } from './args.js'
import { isSecureBuffer } from './secure-buffer.js'

function osError(message: string, cause: unknown): Error {
  const code = (cause as { code?: unknown }).code
  return plainError(typeof code === 'string' ? code : 'ERR_MLOCK_FAILED', message, cause)
}

/**
 * Locks the pages holding `buf` in RAM (`mlock(2)`; the kernel locks whole
 * pages); a no-op for tarsjs-allocated memory, which its allocator locks. Throws `Error('memory lock failed')` with the OS error as `cause`
 * when the kernel refuses (e.g. RLIMIT_MEMLOCK). Unlike libsodium, the pages
 * are not also marked no-dump: `madvise` needs memory the process mapped
 * itself; allocate secrets with `sodium_malloc` for that.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for something that is not a typed array; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {Error} the OS error's code (`ENOMEM` over RLIMIT_MEMLOCK, `EPERM`, `EAGAIN`; `ERR_MLOCK_FAILED` when it has none), message `memory lock failed`, the OS error as `cause`
 * @example
 * ```js
 * import { sodium_mlock, sodium_munlock } from '@tarsjs/sodium-allocator'
 * const key = Buffer.alloc(32)
 * sodium_mlock(key) // the pages holding it stay in RAM
 * sodium_munlock(key) // wiped, then unlocked
 * console.log(key.every((b) => b === 0)) // true
 * ```
 */
export function sodium_mlock(buf: NodeJS.TypedArray): void {
  argc(arguments.length, 1, 'sodium_mlock')
  const view = typedArray(buf, 'buf')
  try {
    os.lock(view)
  } catch (cause) {
    // Memory of a tarsjs allocator: its allocator locks it and counts the lock per page.
    if (ownedByAllocator(cause)) return
    throw osError('memory lock failed', cause)
  }
}

function ownedByAllocator(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'ERR_REGION_OWNED'
}

/**
 * Wipes `buf` and unlocks its pages, as libsodium's `sodium_munlock` does.
 * A secure buffer, or any view of tarsjs-allocated memory, is wiped but stays
 * locked: its allocator owns that lock (one munlock undoes every mlock of a
 * page, including the neighbours') and releases it when the memory is freed.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for something that is not a typed array; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {Error} the OS error's code (`ENOMEM`, `EPERM`; `ERR_MLOCK_FAILED` when it has none), message `memory unlock failed`, the OS error as `cause`; the bytes are wiped before
 * @example
 * ```js
 * import { sodium_malloc, sodium_munlock, sodium_free } from '@tarsjs/sodium-allocator'
 * const buf = sodium_malloc(16)
 * buf.fill(1)
 * sodium_munlock(buf) // wiped; a secure buffer stays locked until it is freed
 * console.log(buf[0], buf.length) // 0 16
 * sodium_free(buf)
 * ```
 */
export function sodium_munlock(buf: NodeJS.TypedArray): void {
  argc(arguments.length, 1, 'sodium_munlock')
  const view = typedArray(buf, 'buf')
  os.wipe(view)
  if (isSecureBuffer(view)) return
  try {
    os.unlock(view)
  } catch (cause) {
    // A view of a tarsjs allocation (a ProtBuf's bytes, say): wiped, but the page stays
    // locked, since munlock would also unlock every other secret sharing it.
    if (ownedByAllocator(cause)) return
    throw osError('memory unlock failed', cause)
  }
}

/**
 * Zeroes `buf` with `explicit_bzero`: a store the compiler cannot drop.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for something that is not a typed array; `ERR_MISSING_ARGS` for a wrong argument count
 * @example
 * ```js
 * import { sodium_memzero } from '@tarsjs/sodium-allocator'
 * const password = Buffer.from('hunter2')
 * sodium_memzero(password)
 * console.log(password) // <Buffer 00 00 00 00 00 00 00>
 * ```
 */
export function sodium_memzero(buf: NodeJS.TypedArray): void {
  argc(arguments.length, 1, 'sodium_memzero')
  os.wipe(typedArray(buf, 'buf'))
}

/**
 * True when `b1` and `b2` hold the same bytes, in time that depends only on
 * their length. Both must have the same byte length.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for something that is not a typed array; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {Error} `ERR_BUFFER_LENGTH_MISMATCH` (`buffers must be of same length`) when the two byte lengths differ
 * @example
 * ```js
 * import { sodium_memcmp } from '@tarsjs/sodium-allocator'
 * const mac = Buffer.from('0123456789abcdef')
 * console.log(sodium_memcmp(mac, Buffer.from('0123456789abcdef'))) // true
 * console.log(sodium_memcmp(mac, Buffer.from('0123456789abcdeX'))) // false
 * ```
 */
export function sodium_memcmp(b1: NodeJS.TypedArray, b2: NodeJS.TypedArray): boolean {
  argc(arguments.length, 2, 'sodium_memcmp')
  const a = typedArray(b1, 'b1')
  const b = typedArray(b2, 'b2')
  if (a.byteLength !== b.byteLength) throw plainError('ERR_BUFFER_LENGTH_MISMATCH', 'buffers must be of same length')
  return os.equals(a, 0, b, 0, a.byteLength)
}
