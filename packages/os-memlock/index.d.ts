/**
 * @tarsjs/os-memlock — checked system calls over memory this addon mapped itself.
 *
 * Every function is one system call (or one memory operation) over a range that
 * the addon bounds-checks in C. Memory is addressed by a `Region` handle that
 * the addon created; JavaScript never passes an address. No policy lives here.
 *
 * Errors:
 * - OS failures: `Error` with `code` (`'ENOMEM'`, `'EAGAIN'`, `'EPERM'`, `'EINVAL'`,
 *   `'ENOSYS'`, ...), `errno` (the positive C errno) and `syscall`.
 * - Bad arguments: `TypeError` with `code: 'ERR_INVALID_ARG_TYPE'` or
 *   `'ERR_INVALID_ARG_VALUE'`; `RangeError` with `code: 'ERR_OUT_OF_RANGE'`.
 * - A dead handle: `code: 'ERR_REGION_UNMAPPED'`. A range whose protection
 *   forbids the access: `code: 'ERR_REGION_PROTECTED'`. A runtime without
 *   external ArrayBuffers: `code: 'ERR_EXTERNAL_BUFFERS_UNAVAILABLE'`.
 *   A second copy of the addon in one process: its first use throws
 *   `code: 'ERR_DUPLICATE_NATIVE_INSTANCE'`.
 * - Not Linux: every function but `pageSize` throws `code: 'ERR_UNSUPPORTED_PLATFORM'`
 *   at first use (never at install or import), unless the unprotected development
 *   mode is on (see `enableUnprotectedDevelopmentMode`).
 *
 * Threads: the addon is shared by every worker thread; a region belongs to the
 * thread that mapped it, and the registry of regions is safe under concurrent
 * use (see docs/os-memlock.md, "Threads and the region registry").
 */

/** An opaque handle to one mapping created by `map()`. Frozen; not constructible from JavaScript. */
export interface Region {
  /** Length of the mapping in bytes (a multiple of `pageSize()`). */
  readonly byteLength: number
  /** True when the mapping is backed by `memfd_secret(2)`. */
  readonly secret: boolean
}

/** What this kernel and this process's limits allowed when first probed. */
export interface Capabilities {
  /** `mlock` of one page succeeded (false under RLIMIT_MEMLOCK 0 without CAP_IPC_LOCK). */
  mlock: boolean
  /** `madvise(MADV_DONTDUMP)` is accepted on anonymous memory. */
  madviseDontDump: boolean
  /** `madvise(MADV_WIPEONFORK)` is accepted on anonymous memory (Linux 4.14+). */
  madviseWipeOnFork: boolean
  /** `madvise(MADV_DONTFORK)` is accepted on anonymous memory. */
  madviseDontFork: boolean
  /** `memfd_secret(2)` returned a descriptor (Linux 5.14+ with secretmem enabled). */
  memfdSecret: boolean
  /**
   * A memory protection key was allocated for this process (x86-64 with PKU and Linux 4.9+; at most 15 keys per
   * process exist, so another library holding them all leaves none): `protect(..., 'keyed')` and `keyedCopy` work.
   * False when `TARSJS_OS_MEMLOCK_SIMULATE_NO_PKEYS=1` was set when the addon loaded (tests of the fallback).
   */
  protectionKeys: boolean
  /**
   * The runtime hands out external ArrayBuffers (probed once per thread, when the addon is loaded). False under
   * V8's sandbox (Electron): `view()` then throws `ERR_EXTERNAL_BUFFERS_UNAVAILABLE`.
   */
  externalBuffers: boolean
}

/**
 * Protection of a page range. `'keyed'`: read-write in the page tables but tagged with this process's memory
 * protection key, which every thread's PKRU register denies: any access faults as with `'none'` (and the kernel
 * refuses a system call's access to it with `EFAULT`), except through `keyedCopy`, which opens the key on its own
 * thread for one copy. Only where `capabilities().protectionKeys` is true.
 */
export type Access = 'none' | 'read' | 'readwrite' | 'keyed'

/** One `madvise(2)` advice; values are an enum, one call per advice. */
export type Advice = 'dontdump' | 'dodump' | 'wipeonfork' | 'keeponfork' | 'dontfork' | 'dofork'

/**
 * A region or any typed array / DataView (acting on exactly its own bytes, with each kind's
 * true element size; a kind the addon does not know throws `ERR_INVALID_ARG_TYPE`).
 */
export type Target = Region | ArrayBufferView

/**
 * The system page size in bytes. Answers on every platform and never chooses the
 * implementation: 4096 where the addon is not loaded (the page size of the
 * unprotected development mode).
 * @throws {Error} on Linux its first call loads the addon: `ERR_DUPLICATE_NATIVE_INSTANCE` when another copy of the
 *   addon is loaded already, `ERR_UNSUPPORTED_RUNTIME` in a runtime that cannot keep the guarantees
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * console.log(memlock.pageSize()) // 4096: on x86_64
 * ```
 */
export function pageSize(): number

/**
 * Probes (once per process) what the kernel offers: mlock, each madvise advice, memfd_secret; and (once per thread,
 * when the addon is loaded) whether the runtime allows external ArrayBuffers.
 * @throws {Error} `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const caps = memlock.capabilities()
 * console.log(typeof caps.mlock, typeof caps.memfdSecret) // boolean boolean
 * ```
 */
export function capabilities(): Capabilities

/**
 * RLIMIT_MEMLOCK in bytes; `Infinity` when unlimited. Read on every call, from "Max locked memory" in
 * `/proc/self/limits` (the kernel's own report of the limit).
 * @throws {Error} `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use); the OS error if `/proc/self/limits` cannot be
 *   read, `ERR_MEMLOCK_LIMIT_UNREADABLE` if it has no readable "Max locked memory" row
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const { soft, hard } = memlock.memlockLimit()
 * console.log(soft <= hard) // true: Infinity when unlimited
 * ```
 */
export function memlockLimit(): { soft: number; hard: number }

/**
 * Maps `byteLength` bytes (a positive multiple of the page size), read-write.
 * Anonymous private memory by default; with `secret: true`, memory from
 * `memfd_secret(2)` (close-on-exec; the descriptor is closed once mapped).
 * Throws the OS error (`ENOMEM`, `ENOSYS`, ...) when the kernel refuses.
 * @throws {Error} the OS error (`ENOMEM`, `EAGAIN`, `EPERM`, `ENOSYS` for `secret` on a kernel without memfd_secret), with `errno` and `syscall`; `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE` for a bad argument; `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const region = memlock.map(memlock.pageSize())
 * memlock.unmap(region)
 * ```
 */
export function map(byteLength: number, options?: { secret?: boolean }): Region

/**
 * Detaches every view of the region, then unmaps it. The handle is dead afterwards.
 * @throws {Error} `ERR_REGION_UNMAPPED` for a dead handle; `ERR_INVALID_ARG_TYPE` for something that is not a region; the OS error from `munmap`; `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const region = memlock.map(memlock.pageSize())
 * const bytes = new Uint8Array(memlock.view(region, 0, 16))
 * memlock.unmap(region)
 * console.log(bytes.length, memlock.isMapped(region)) // 0 false
 * ```
 */
export function unmap(region: Region): void

/**
 * False once `unmap()` succeeded. Never throws for a dead handle.
 * @throws {Error} `ERR_INVALID_ARG_TYPE` for something that is not a region; `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const region = memlock.map(memlock.pageSize())
 * console.log(memlock.isMapped(region)) // true
 * memlock.unmap(region)
 * console.log(memlock.isMapped(region)) // false
 * ```
 */
export function isMapped(region: Region): boolean

/**
 * `mprotect(2)` a page-aligned range. `'none'` and `'keyed'` first detach every view
 * overlapping the range, so no ArrayBuffer stays attached to inaccessible memory.
 * Where `capabilities().protectionKeys` is true every access is set with `pkey_mprotect(2)`:
 * `'keyed'` gives the range the process's key, any other access gives it key 0 back.
 *
 * `{ keepViews: true }` is the single, explicit opt-out, for libsodium-compatible
 * buffers only: views stay attached across `'none'`, and touching them then
 * kills the process with SIGSEGV exactly as libsodium's `sodium_mprotect_noaccess`
 * does. Native operations (`wipe`, `copy`, `equals`, `view`...) still refuse the range.
 * @throws {Error} `ERR_REGION_UNMAPPED` for a dead handle; `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE` for a bad argument (a range that is not page-aligned or not inside the region); `ERR_UNSUPPORTED` for `'keyed'` without a protection key; the OS error from `mprotect` or `pkey_mprotect` (`ENOMEM`, `EACCES`); `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const region = memlock.map(memlock.pageSize())
 * const bytes = new Uint8Array(memlock.view(region, 0, 16))
 * memlock.protect(region, 0, region.byteLength, 'none')
 * console.log(bytes.length) // 0: detached, never a segfault
 * memlock.unmap(region)
 * ```
 */
export function protect(region: Region, offset: number, length: number, access: Access, options?: { keepViews?: boolean }): void

/**
 * `mlock(2)`: a page-aligned range of a region, or exactly the bytes of an
 * ArrayBufferView (the kernel locks whole pages). `offset`/`length` default to the whole target.
 * Over a range that holds a `'none'` page the kernel fails with `ENOMEM` after it has already
 * marked the whole range locked: `unlock` it. Secret regions are locked already and refuse (`ENOMEM`).
 *
 * `{ onFault: true }` calls `mlock2(2)` with `MLOCK_ONFAULT`: each page is locked when it is first
 * touched rather than faulted in now (smaps shows `lf` next to `lo`), and the range may then hold
 * `'none'` pages. It also spares the kernel a populate pass each time `protect` makes a locked range
 * writable again. Pages never touched are not resident, so not locked: touch (e.g. `wipe`) the range
 * when every page must be. Its OS errors carry `syscall: 'mlock2'`.
 * @throws {Error} the OS error (`ENOMEM` over RLIMIT_MEMLOCK or on secret memory, `EPERM`, `EAGAIN`), with `errno` and `syscall`; `ERR_REGION_OWNED` for a view of memory a tarsjs allocator manages; `ERR_REGION_UNMAPPED` for a dead handle; `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE` for a bad argument; `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const region = memlock.map(memlock.pageSize())
 * memlock.lock(region)
 * memlock.unmap(region)
 * ```
 */
export function lock(target: Target, offset?: number, length?: number, options?: { onFault?: boolean }): void

/**
 * `munlock(2)`; same arguments as `lock`. The kernel does not count locks: one munlock undoes every
 * mlock of the page. On a secret region it succeeds and changes nothing (it stays locked).
 * @throws {Error} the OS error from `munlock`; `ERR_REGION_OWNED` for a view of memory a tarsjs allocator manages; `ERR_REGION_UNMAPPED` for a dead handle; `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE` for a bad argument; `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const region = memlock.map(memlock.pageSize())
 * memlock.lock(region)
 * memlock.unlock(region) // one munlock undoes every mlock of the page
 * memlock.unmap(region)
 * ```
 */
export function unlock(target: Target, offset?: number, length?: number): void

/**
 * `madvise(2)` one advice over a page-aligned range. A mapping that refuses it throws (e.g. `EINVAL` for wipeonfork on secretmem).
 * @throws {Error} the OS error (`EINVAL` when the mapping refuses the advice); `ERR_REGION_UNMAPPED` for a dead handle; `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE` for a bad argument; `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const region = memlock.map(memlock.pageSize())
 * memlock.advise(region, 0, region.byteLength, 'dontdump') // left out of core dumps
 * memlock.unmap(region)
 * ```
 */
export function advise(region: Region, offset: number, length: number, advice: Advice): void

/**
 * `explicit_bzero` over the range. A region range must be writable (`ERR_REGION_PROTECTED`);
 * an ArrayBufferView is not checked: one over a view of read-only memory faults, as a JS write would.
 * @throws {Error} `ERR_REGION_PROTECTED` for a range that is not writable; `ERR_REGION_UNMAPPED` for a dead handle; `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE` for a bad argument; `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const secret = Buffer.from('password')
 * memlock.wipe(secret)
 * console.log(secret.every((b) => b === 0)) // true
 * ```
 */
export function wipe(target: Target, offset?: number, length?: number): void

/**
 * `memset` the range (must be writable) with `byte` (0..255).
 * @throws {Error} `ERR_REGION_PROTECTED` for a range that is not writable; `ERR_REGION_UNMAPPED` for a dead handle; `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE` for a bad argument; `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const region = memlock.map(memlock.pageSize())
 * memlock.fill(region, 0, 4, 0xab)
 * console.log(new Uint8Array(memlock.view(region, 0, 4))) // Uint8Array(4) [ 171, 171, 171, 171 ]
 * memlock.unmap(region)
 * ```
 */
export function fill(region: Region, offset: number, length: number, byte: number): void

/**
 * `memmove` from `src` to `dst`; never through the JavaScript heap. A region source must be
 * readable and a region destination writable; ArrayBufferView targets are not checked (see `wipe`).
 * @throws {Error} `ERR_REGION_PROTECTED` for a region source that is not readable or a destination that is not writable; `ERR_REGION_UNMAPPED` for a dead handle; `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE` for a bad argument; `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const region = memlock.map(memlock.pageSize())
 * const input = Buffer.from('secret')
 * memlock.copy(input, 0, region, 0, input.length) // never through the JavaScript heap
 * memlock.wipe(input)
 * console.log(Buffer.from(memlock.view(region, 0, 6)).toString()) // secret
 * memlock.unmap(region)
 * ```
 */
export function copy(src: Target, srcOffset: number, dst: Target, dstOffset: number, length: number): void

/**
 * `copy()` where either side may also be `'keyed'` pages: this thread's PKRU register opens the process's
 * protection key for the copy alone and is put back as it was before the call returns (no JavaScript runs
 * meanwhile, no other thread gains access). Costs tens of nanoseconds where an `mprotect` pair costs microseconds.
 * @throws {Error} `ERR_UNSUPPORTED` without a protection key (`capabilities().protectionKeys` false: no page can be
 *   keyed, use `copy`); `ERR_PROTECTION_KEY_OPEN` when this thread's PKRU already allowed the key (something else
 *   opened it: nothing is copied); otherwise as `copy` (`ERR_REGION_PROTECTED` for `'none'` or `'read'` pages it
 *   must write)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * if (memlock.capabilities().protectionKeys) {
 *   const region = memlock.map(memlock.pageSize())
 *   memlock.copy(Buffer.from('secret'), 0, region, 0, 6)
 *   memlock.protect(region, 0, region.byteLength, 'keyed') // every thread's loads and stores fault
 *   const out = new Uint8Array(6)
 *   memlock.keyedCopy(region, 0, out, 0, 6)
 *   console.log(Buffer.from(out).toString()) // secret
 *   memlock.unmap(region)
 * }
 * ```
 */
export function keyedCopy(src: Target, srcOffset: number, dst: Target, dstOffset: number, length: number): void

/**
 * Compares two ranges in time that depends only on `length`. Both must be readable.
 * @throws {Error} `ERR_REGION_PROTECTED` for a range that is not readable; `ERR_REGION_UNMAPPED` for a dead handle; `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE` for a bad argument; `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const region = memlock.map(memlock.pageSize())
 * memlock.copy(Buffer.from('token'), 0, region, 0, 5)
 * console.log(memlock.equals(region, 0, Buffer.from('token'), 0, 5)) // true
 * console.log(memlock.equals(region, 0, Buffer.from('tokem'), 0, 5)) // false
 * memlock.unmap(region)
 * ```
 */
export function equals(a: Target, aOffset: number, b: Target, bOffset: number, length: number): boolean

/**
 * An external ArrayBuffer over exactly `[offset, offset + length)` of a readable
 * range (length > 0). The region remembers it and detaches it before that
 * memory becomes inaccessible (`protect(..., 'none')`, `unmap`). A failure leaves the region exactly as it was.
 * @throws {Error} `ERR_REGION_PROTECTED` for a range that is not readable; `ERR_EXTERNAL_BUFFERS_UNAVAILABLE` where the runtime refuses external buffers (V8 sandbox); `ERR_REGION_UNMAPPED` for a dead handle; `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE` for a bad argument; `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const region = memlock.map(memlock.pageSize())
 * const key = new Uint8Array(memlock.view(region, 0, 32))
 * console.log(key.byteLength, key.buffer.byteLength) // 32 32
 * memlock.unmap(region)
 * ```
 */
export function view(region: Region, offset: number, length: number): ArrayBuffer

/**
 * Detaches a view handed out by `view()` (or a buffer that took over one's memory, e.g. through
 * `ArrayBuffer.prototype.transfer()`): its length becomes 0 and reads give `undefined`. Any other
 * ArrayBuffer (Node's shared Buffer pool, your own) throws `ERR_INVALID_ARG_VALUE` and is left
 * intact; one already detached is left as it is.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for something that is not an ArrayBuffer; `ERR_INVALID_ARG_VALUE` for one that is not a view of a region; `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const region = memlock.map(memlock.pageSize())
 * const ab = memlock.view(region, 0, 16)
 * memlock.detach(ab)
 * console.log(ab.byteLength, memlock.isMapped(region)) // 0 true: the memory stays mapped
 * memlock.unmap(region)
 * ```
 */
export function detach(arrayBuffer: ArrayBuffer): void

/** What `remap` puts over a range. */
export type RemapKind = 'none' | 'readwrite' | 'secret'

/**
 * Fresh memory over a page-aligned range of a region, in place (`mmap(2)` with `MAP_FIXED`),
 * replacing what was there; every view over the range is detached first.
 * - `'none'`: anonymous `PROT_NONE` memory: not charged to RLIMIT_MEMLOCK (a lock on the old
 *   pages goes with them), and `PROT_NONE` neighbours merge into one kernel mapping again.
 * - `'readwrite'`: anonymous zero pages, read-write, not locked.
 * - `'secret'`: a `memfd_secret(2)` mapping, read-write: only this range is charged to
 *   RLIMIT_MEMLOCK, so guard pages around it (plain `PROT_NONE` pages of the region) cost nothing.
 * The region stays one region (its length and handle are unchanged). When the kernel refuses, the
 * range is recorded as `'none'`: no access is made through it until a later `remap` or `protect` succeeds.
 * @throws {Error} the OS error with `errno` and `syscall` (`EAGAIN` from `mmap` over RLIMIT_MEMLOCK for `'secret'`,
 *   `ENOMEM` at `vm.max_map_count`, `ENOSYS` from `memfd_secret`); `ERR_REGION_UNMAPPED` for a dead handle;
 *   `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE` for a bad argument (a range that is not
 *   page-aligned or not inside the region, an unknown kind); `ERR_UNSUPPORTED_PLATFORM` off Linux (at first use)
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * const page = memlock.pageSize()
 * const region = memlock.map(3 * page)
 * memlock.protect(region, 0, 3 * page, 'none')
 * memlock.remap(region, page, page, 'secret') // guard, secret page, guard: one page charged
 * memlock.remap(region, page, page, 'none')   // given back: one PROT_NONE mapping again
 * memlock.unmap(region)
 * ```
 */
export function remap(region: Region, offset: number, length: number, kind: RemapKind): void

/**
 * Turns on the unprotected development mode for this thread: from now on the
 * whole API runs in JavaScript over ordinary ArrayBuffers, so that applications
 * can be developed and tested where tarsjs cannot protect memory (macOS, Windows).
 * NOTHING IS PROTECTED: `capabilities()` are all false, `lock` fails with `EPERM`,
 * the `dontdump`, `wipeonfork` and `dontfork` advices with `EINVAL`, `map({ secret: true })`
 * with `ENOSYS`, and the layers above report every protection as missing. Views,
 * their detaching, page protections as seen by these functions, argument checks
 * and errors behave as with the addon. Emits one `TARSJS_UNPROTECTED_DEV` warning.
 *
 * The environment variable `TARSJS_UNPROTECTED_DEV=1` does the same at first use
 * (in every thread). Call this before first use: once the native addon is in use
 * it throws `ERR_UNPROTECTED_DEV_TOO_LATE`. With `NODE_ENV=production` both are
 * refused with `ERR_UNPROTECTED_DEV_IN_PRODUCTION`. Calling it again does nothing.
 * @throws {Error} `ERR_UNPROTECTED_DEV_TOO_LATE` once the native addon is in use in this thread; `ERR_UNPROTECTED_DEV_IN_PRODUCTION` under `NODE_ENV=production`
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * memlock.enableUnprotectedDevelopmentMode() // first thing, before any other call
 * const region = memlock.map(memlock.pageSize())
 * console.log(memlock.unprotectedDevelopmentMode(), memlock.capabilities().mlock) // true false: nothing is protected
 * memlock.unmap(region)
 * ```
 */
export function enableUnprotectedDevelopmentMode(): void

/**
 * True once the unprotected development mode is in use in this thread.
 * @throws nothing
 * @example
 * ```js
 * import * as memlock from '@tarsjs/os-memlock'
 * console.log(memlock.unprotectedDevelopmentMode()) // false: unless TARSJS_UNPROTECTED_DEV=1
 * ```
 */
export function unprotectedDevelopmentMode(): boolean
