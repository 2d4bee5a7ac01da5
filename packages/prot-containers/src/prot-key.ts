/**
 * ProtKey: a key in pages of its own that are never readable.
 *
 * The pages are denied to every thread: by a memory protection key where the
 * CPU has one (the default key allocator's `protectionKey: 'auto'`), else
 * PROT_NONE. `read(fn)` and `write(fn)` open a window on a copy: the key is
 * copied natively into the key's own slot of window memory (locked, no-dump,
 * wipe-on-fork; window-buffers.ts) and `fn` gets a view of that copy; a write
 * window copies it back when it closes. Windows nest as in TARS: many
 * readers, or one writer, never both. When the last window closes the copy is
 * wiped and the view detached, so a view kept past its window has length 0 —
 * reading it gives `undefined`, never a crash. Writing through a read window
 * changes only the copy.
 *
 * A callback that returns a Promise (or any thenable) is refused: the window
 * is closed before the error is thrown, so the key is never readable across
 * an `await` (use `readAsync`).
 */
import { randomFillSync } from 'node:crypto'
import type { Readable } from 'node:stream'
import { PAGE_SIZE } from '@tarsjs/page-alloc'
import type { Allocation, Allocator, Protections } from '@tarsjs/page-alloc'
import { CONSTRUCT, Container } from './container.js'
import { WindowGuard } from './window-guard.js'
import { runSyncWindow } from './sync-window.js'
import { defaultKeyAllocator, pickAllocator } from './default-allocators.js'
import { ContainerError, checkLength } from './errors.js'
import { allocOptions, fromOptions, readOptions, readUntilOptions } from './options.js'
import { readFd, readFile, readStream } from './read-secret.js'
import { delimiterBytes, readUntil } from './read-until.js'
import type { Delimiter, ReadUntilOptions } from './read-until.js'
import { promptOptions, readPassword } from './password-prompt.js'
import type { PromptOptions } from './password-prompt.js'
import { allocCopy } from './source.js'
import { SealedKey } from './sealed-key.js'
import type { SealedOptions } from './sealed-key.js'
import { asyncGuard, runAsyncWindow } from './async-window.js'
import type { AsyncWindow, AsyncWindowOptions } from './async-window.js'
import type { SyncResult } from './sync-result.js'
import { refuseBytes } from './misuse.js'
import { keyEquals } from './key-equals.js'
import os = require('@tarsjs/os-memlock')
import { escapedView, keepKeyWindow, releaseKeyWindow, retireKeyWindow } from './window-buffers.js'
import { windowBufferAllocator } from './sealed-allocators.js'

/** Options of every ProtKey constructor. */
export interface KeyOptions {
  /** An allocator whose allocations own their pages (`capabilities.protect`). Default: the per-thread page allocator. */
  allocator?: Allocator
}

/** Options of the readers (`fromFd`, `fromFile`, `fromStream`). */
export interface KeyReadOptions extends KeyOptions {
  /** Longest secret accepted, in bytes. Default 65536. */
  maxLength?: number
}

/** What a ProtKey's memory has: its own pages (`access` stays `'none'`, windows included), and an open window's copy. */
export interface KeyProtections extends Protections {
  /** The memory of the open window's copy of the key (locked, no-dump, wipe-on-fork window memory), else null. */
  window: Protections | null
}

/** A window opened by `reader()` or `writer()`: `bytes` is valid until it is closed. */
export interface Window {
  /** A copy of the key's bytes in window memory (for a reader, writing changes only the copy). */
  readonly bytes: Uint8Array
  /** True once closed. */
  readonly closed: boolean
  /** Closes the window; idempotent. */
  close(): void
  [Symbol.dispose](): void
}

/**
 * Keys up to half a page get their window memory when they are made: a slot in
 * shared window pages, a few dozen bytes. A larger key would need pages of its
 * own, as many as the key's: it gets them at its first window (and keeps them),
 * so keys that are never read do not lock twice their size.
 */
const EAGER_WINDOW_MAX = PAGE_SIZE / 2

function keyAllocator(value: unknown): Allocator {
  const allocator = pickAllocator(value, defaultKeyAllocator)
  if (!allocator.capabilities?.protect) {
    throw new ContainerError('ERR_NOT_ISOLATED', 'A ProtKey needs an allocator whose allocations own their pages (capabilities.protect)')
  }
  return allocator
}

/**
 * A key in protected memory with no access: its pages are never readable (a memory protection key, else PROT_NONE); `read` and `write` (and the `reader()`/`writer()` windows) hand out a copy in locked window memory, wiped when the window closes, and `write` copies it back; no view of the copy outlives its window.
 * @example
 * ```js
 * import { ProtKey } from '@tarsjs/prot-containers'
 * const key = ProtKey.random(32)
 * const first = key.read((bytes) => bytes[0])
 * console.log(typeof first, key.protections().access) // number none
 * key.dispose()
 * ```
 */
export class ProtKey extends Container {
  #readers = 0
  #writer = false
  #retire = false
  /** This key's window memory: a slot of its length, wiped between windows, kept for the key's life (window-buffers.ts). */
  #slot: Allocation | null = null
  /** The open window's view of it, shared by nested readers. */
  #bytes: Uint8Array | null = null

  private constructor(token: unknown, allocator: Allocator, allocation: Allocation) {
    super(token, allocator, allocation)
    allocator.protect(allocation, 'none')
    if (allocation.byteLength > EAGER_WINDOW_MAX) return
    try {
      // A slot taken now, not at the first window: a key that exists can always be read (no mapping needed later).
      this.#slot = keepKeyWindow(this, allocation.byteLength)
    } catch (err) {
      this.dispose()
      throw err
    }
  }

  /**
   * A zero-filled key of `length` bytes, no access.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for a length that is not an integer from 1 to 2^30, or bad options; `ERR_NOT_ISOLATED` for an allocator that cannot protect; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.alloc(32)
   * key.write((bytes) => bytes.fill(7))
   * console.log(key.read((bytes) => bytes[31])) // 7
   * key.dispose()
   * ```
   */
  static alloc(length: number, options?: KeyOptions): ProtKey {
    checkLength(length)
    const allocator = keyAllocator(allocOptions(options).allocator)
    return new ProtKey(CONSTRUCT, allocator, allocator.alloc(length))
  }

  /**
   * `length` bytes from the CSPRNG, written directly into the key's pages.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for a length that is not an integer from 1 to 2^30, or bad options; `ERR_NOT_ISOLATED` for an allocator that cannot protect; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.random(32)
   * console.log(String(key)) // ProtKey(32 bytes, no access)
   * key.dispose()
   * ```
   */
  static random(length: number, options?: KeyOptions): ProtKey {
    checkLength(length)
    const allocator = keyAllocator(allocOptions(options).allocator)
    const allocation = allocator.alloc(length)
    randomFillSync(new Uint8Array(allocator.view(allocation)))
    return new ProtKey(CONSTRUCT, allocator, allocation)
  }

  /**
   * A copy of `source`; with `wipeSource: true` the source is wiped afterwards.
   * The options are read first (each once); the source's bytes are taken after.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a source that is not bytes (a string is refused) or a `wipeSource` that is not a boolean; `ERR_OUT_OF_RANGE` for an empty source; `ERR_SOURCE_CHANGED` when the source is resized or detached while it is copied; `ERR_NOT_ISOLATED` for an allocator that cannot protect; allocator errors pass through
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const raw = Buffer.from('00112233445566778899aabbccddeeff', 'hex')
   * const key = ProtKey.from(raw, { wipeSource: true })
   * console.log(key.byteLength, raw[0]) // 16 0
   * key.dispose()
   * ```
   */
  static from(source: ArrayBufferView | ArrayBuffer, options?: KeyOptions & { wipeSource?: boolean }): ProtKey {
    const opts = fromOptions(options)
    const allocator = keyAllocator(opts.allocator)
    return new ProtKey(CONSTRUCT, allocator, allocCopy(allocator, source, opts.wipeSource))
  }

  /**
   * Reads a file descriptor to its end straight into the key's pages.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for an `fd` that is not a non-negative integer, `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_OUT_OF_RANGE` for a `maxLength` that is not an integer from 1 to 2^30; `ERR_NOT_ISOLATED` for an allocator that cannot protect; `ERR_SECRET_TOO_LONG` past `maxLength` (default 65536); `ERR_OUT_OF_RANGE` for an empty secret; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through; nothing read stays in memory when it throws
   * @throws {Error} the OS error of `read(2)` (`EBADF`, `EISDIR`, `EAGAIN` on a non-blocking descriptor), with `code` and `errno`
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs'
   * import { tmpdir } from 'node:os'
   * import { join } from 'node:path'
   * const path = join(mkdtempSync(join(tmpdir(), 'secret-')), 'api-key')
   * writeFileSync(path, 'example-api-key')
   * const fd = openSync(path, 'r')
   * const key = ProtKey.fromFd(fd)
   * closeSync(fd)
   * console.log(`${key}`) // ProtKey(15 bytes, no access)
   * key.dispose()
   * ```
   */
  static fromFd(fd: number, options?: KeyReadOptions): ProtKey {
    const opts = readOptions(options)
    const allocator = keyAllocator(opts.allocator)
    return new ProtKey(CONSTRUCT, allocator, readFd(allocator, fd, opts.maxLength))
  }

  /**
   * Reads a whole file straight into the key's pages.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a `path` that is not a string or URL, `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_OUT_OF_RANGE` for a `maxLength` that is not an integer from 1 to 2^30; `ERR_NOT_ISOLATED` for an allocator that cannot protect; `ERR_SECRET_TOO_LONG` past `maxLength` (default 65536); `ERR_OUT_OF_RANGE` for an empty secret; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through; nothing read stays in memory when it throws
   * @throws {Error} the OS error of `open(2)` or `read(2)` (`ENOENT`, `EACCES`, `EISDIR`), with `code` and `errno`
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * import { mkdtempSync, writeFileSync } from 'node:fs'
   * import { tmpdir } from 'node:os'
   * import { join } from 'node:path'
   * const path = join(mkdtempSync(join(tmpdir(), 'secret-')), 'api-key')
   * writeFileSync(path, 'example-api-key')
   * const key = ProtKey.fromFile(path, { maxLength: 64 })
   * console.log(key.read((bytes) => Buffer.from(bytes).toString())) // example-api-key
   * key.dispose()
   * ```
   */
  static fromFile(path: string | URL, options?: KeyReadOptions): ProtKey {
    const opts = readOptions(options)
    const allocator = keyAllocator(opts.allocator)
    return new ProtKey(CONSTRUCT, allocator, readFile(allocator, path, opts.maxLength))
  }

  /**
   * Consumes a byte stream into the key's pages; each chunk is wiped once copied.
   * @throws {ContainerError} rejects with `ERR_INVALID_ARG_TYPE` for something that is not a readable stream or async iterable, or a chunk that is not bytes (a stream with an encoding); `ERR_INVALID_ARG_VALUE` for an `fs.ReadStream` (its read buffer keeps copies: use `fromFile`) or a stream that already has a consumer; `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_OUT_OF_RANGE` for a `maxLength` that is not an integer from 1 to 2^30; `ERR_NOT_ISOLATED` for an allocator that cannot protect; `ERR_SECRET_TOO_LONG` past `maxLength` (default 65536); `ERR_OUT_OF_RANGE` for an empty secret; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through; nothing read stays in memory when it throws; the stream's own error
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * import { Readable } from 'node:stream'
   * const key = await ProtKey.fromStream(Readable.from([Buffer.alloc(16, 1), Buffer.alloc(16, 2)]))
   * console.log(key.byteLength) // 32
   * key.dispose()
   * ```
   */
  static async fromStream(stream: Readable | AsyncIterable<Uint8Array>, options?: KeyReadOptions): Promise<ProtKey> {
    const opts = readOptions(options)
    const allocator = keyAllocator(opts.allocator)
    return new ProtKey(CONSTRUCT, allocator, await readStream(allocator, stream, opts.maxLength))
  }

  /**
   * Reads a descriptor or a stream up to a delimiter (default: a line feed) into a new ProtKey,
   * without the delimiter. A descriptor is read one byte at a time, so nothing after the
   * delimiter is taken from it; a stream gets the bytes after the delimiter back (`unshift`)
   * and is left paused. The end of the input before any delimiter ends the secret too, unless
   * `requireDelimiter` is set. Every chunk a stream hands over is wiped once copied.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a source that is neither a descriptor nor a Node.js readable stream, a bad delimiter type or bad options, or a stream with an encoding or a string chunk; `ERR_INVALID_ARG_VALUE` for an empty or longer than 256 bytes delimiter, an `fs.ReadStream`, or a stream that already has a consumer; `ERR_OUT_OF_RANGE` for a byte delimiter outside 0 to 255, a bad `maxLength`, or an empty secret; `ERR_SECRET_TOO_LONG` past `maxLength` bytes; `ERR_UNEXPECTED_EOF` when the input ends before the delimiter under `requireDelimiter`; `ERR_NOT_ISOLATED` for an allocator that cannot protect; read errors of the descriptor (`EBADF`...) and stream errors pass through
   * @example
   * ```js
   * import { PassThrough } from 'node:stream'
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const input = new PassThrough()
   * input.end(Buffer.from('hunter2\nnext line\n'))
   * const secret = await ProtKey.fromReaderUntil(input)
   * console.log(secret.byteLength) // 7
   * console.log(String(input.read())) // next line
   * secret.dispose()
   * ```
   */
  static async fromReaderUntil(source: number | Readable, delimiter?: Delimiter, options?: ReadUntilOptions): Promise<ProtKey> {
    const opts = readUntilOptions(options)
    const bytes = delimiterBytes(delimiter)
    const allocator = keyAllocator(opts.allocator)
    return new ProtKey(CONSTRUCT, allocator, await readUntil(allocator, source, bytes, opts))
  }

  /**
   * Prompts on a terminal (echo off) and reads a password into a new ProtKey; the password never
   * becomes a string. Enter ends it, Backspace and Ctrl-U edit it, Ctrl-C cancels; the terminal's
   * mode is restored before the promise settles. An input that is not a terminal is refused unless
   * `allowNonTty` is set (it is then read up to a line feed).
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for bad options (an `input` that is not a readable stream, an `output` that is not writable); `ERR_NOT_A_TTY` for an input that is not a terminal without `allowNonTty`; `ERR_PROMPT_CANCELLED` on Ctrl-C; `ERR_UNEXPECTED_EOF` when the input ends before Enter; `ERR_SECRET_TOO_LONG` past `maxLength` bytes; `ERR_OUT_OF_RANGE` for an empty password or a bad `maxLength`; `ERR_NOT_ISOLATED` for an allocator that cannot protect; errors of the stream pass through
   * @example
   * ```js
   * import { PassThrough } from 'node:stream'
   * import { ProtKey } from '@tarsjs/prot-containers'
   * // On a terminal: `await ProtKey.fromPrompt()` prompts on stderr and reads stdin with echo off.
   * const input = new PassThrough()
   * input.end(Buffer.from('correct horse\n'))
   * const password = await ProtKey.fromPrompt({ input, output: null, allowNonTty: true })
   * console.log(password.byteLength) // 13
   * password.dispose()
   * ```
   */
  static async fromPrompt(options?: PromptOptions): Promise<ProtKey> {
    const opts = promptOptions(options)
    const allocator = keyAllocator(opts.allocator)
    return new ProtKey(CONSTRUCT, allocator, await readPassword(allocator, opts))
  }

  /**
   * Runs `fn` with the key readable; nested reads share the window. Returns what `fn` returns.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` when `fn` is not a function; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT` inside a write window; `ERR_ASYNC_CALLBACK` when `fn` returns a Promise (the window is closed first); whatever `fn` throws (the window is closed first)
   * @throws {AllocError} the window memory's allocator errors (`ERR_MAP_LIMIT`, `ENOMEM`), only when the key has none yet: at the first window of a key above half a page, or after a deadline or an escaped view retired its window memory (nothing changes; a key up to half a page gets its window memory when it is made)
   * @example
   * ```js
   * import { createHmac } from 'node:crypto'
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.random(32)
   * const mac = key.read((bytes) => createHmac('sha256', bytes).update('message').digest())
   * console.log(mac.length, key.protections().access) // 32 none
   * key.dispose()
   * ```
   */
  read<R>(fn: (bytes: Uint8Array) => SyncResult<R>): R {
    return runSyncWindow(fn, () => this.openRead(), () => this.closeRead())
  }

  /**
   * Runs `fn` with the key writable (no other window may be open). Returns what `fn` returns.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` when `fn` is not a function; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT` while any window is open; `ERR_ASYNC_CALLBACK` when `fn` returns a Promise; whatever `fn` throws (the window is closed first, and what `fn` wrote until then is written into the key)
   * @throws {AllocError} the window memory's allocator errors, as for `read`
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.alloc(4)
   * key.write((bytes) => bytes.set([1, 2, 3, 4]))
   * console.log(key.read((bytes) => Array.from(bytes))) // [ 1, 2, 3, 4 ]
   * key.dispose()
   * ```
   */
  write<R>(fn: (bytes: Uint8Array) => SyncResult<R>): R {
    return runSyncWindow(fn, () => this.openWrite(), () => this.closeWrite())
  }

  /**
   * A read window to close by hand or with `using`.
   * @throws {ContainerError} `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT` while a write window is open
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.random(16)
   * const window = key.reader() // or `using window = key.reader()` where `using` is supported
   * console.log(window.bytes.length, key.windows.readers) // 16 1
   * window.close()
   * console.log(key.windows.readers) // 0
   * key.dispose()
   * ```
   */
  reader(): Window {
    return this.guard(this.openRead(), 'read')
  }

  /**
   * A write window to close by hand or with `using`.
   * @throws {ContainerError} `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT` while any window is open
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.alloc(16)
   * const window = key.writer()
   * window.bytes.fill(9)
   * window.close()
   * console.log(key.read((bytes) => bytes[0])) // 9
   * key.dispose()
   * ```
   */
  writer(): Window {
    return this.guard(this.openWrite(), 'write')
  }

  /**
   * Runs `fn` with the key readable until the promise it returns settles (or
   * `options.timeout` ms pass: then the window is closed and the promise
   * rejects with `ERR_WINDOW_TIMEOUT`). Readers are counted across awaits and
   * share the window with sync readers; a write window is refused meanwhile.
   * Never throws: every error is a rejection.
   * @throws {ContainerError} (as rejections) `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for a bad `fn` or timeout; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT` inside a write window; `ERR_WINDOW_TIMEOUT`; whatever `fn` throws or rejects with (the window is closed first)
   * @example
   * ```js
   * import { scrypt } from 'node:crypto'
   * import { promisify } from 'node:util'
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const password = ProtKey.from(Buffer.from('correct horse'), { wipeSource: true })
   * const derived = await password.readAsync((bytes) => promisify(scrypt)(bytes, 'salt', 32), { timeout: 5000 })
   * console.log(derived.length, password.protections().access) // 32 none
   * derived.fill(0)
   * password.dispose()
   * ```
   */
  readAsync<R>(fn: (bytes: Uint8Array) => R | PromiseLike<R>, options?: AsyncWindowOptions): Promise<R> {
    return runAsyncWindow(() => this.reader(), 'read', fn, options, () => this.retireAtClose())
  }

  /**
   * Runs `fn` with the key writable until the promise it returns settles (or the timeout closes the window). No other window may be open: a write window is refused, not queued.
   * @throws {ContainerError} (as rejections) `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE`; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT` while any window is open; `ERR_WINDOW_TIMEOUT`; whatever `fn` throws or rejects with
   * @example
   * ```js
   * import { randomFillSync } from 'node:crypto'
   * import { setTimeout as sleep } from 'node:timers/promises'
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.alloc(32)
   * await key.writeAsync(async (bytes) => {
   *   await sleep(1) // e.g. fetch what to write
   *   randomFillSync(bytes)
   * })
   * console.log(key.read((bytes) => bytes.some((b) => b !== 0))) // true
   * key.dispose()
   * ```
   */
  writeAsync<R>(fn: (bytes: Uint8Array) => R | PromiseLike<R>, options?: AsyncWindowOptions): Promise<R> {
    return runAsyncWindow(() => this.writer(), 'write', fn, options, () => this.retireAtClose())
  }

  /**
   * A read window for `await using`: open until disposed or until `options.timeout` ms pass (then its view is detached, and disposing it rejects with `ERR_WINDOW_TIMEOUT`).
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for a bad timeout; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT` inside a write window
   * @example
   * ```ts
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.random(32)
   * {
   *   await using window = key.readerAsync({ timeout: 1000 })
   *   await Promise.resolve()
   *   console.log(window.bytes.length) // 32
   * }
   * console.log(key.windows.readers) // 0
   * key.dispose()
   * ```
   */
  readerAsync(options?: AsyncWindowOptions): AsyncWindow {
    return asyncGuard(() => this.reader(), 'read', options, () => this.retireAtClose())
  }

  /**
   * A write window for `await using`, with the same deadline as {@link ProtKey.readerAsync}.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for a bad timeout; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT` while any window is open
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.alloc(4)
   * const window = key.writerAsync({ timeout: 1000 })
   * await Promise.resolve() // the window stays open across awaits
   * window.bytes.set([1, 2, 3, 4])
   * window.close()
   * console.log(key.read((bytes) => Array.from(bytes)), key.windows.writer) // [ 1, 2, 3, 4 ] false
   * key.dispose()
   * ```
   */
  writerAsync(options?: AsyncWindowOptions): AsyncWindow {
    return asyncGuard(() => this.writer(), 'write', options, () => this.retireAtClose())
  }

  /**
   * Constant-time comparison with another ProtKey or bytes (a length mismatch returns false at once).
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for something that is not a ProtKey or an ArrayBufferView; `ERR_DISPOSED` when either key is disposed; `ERR_WINDOW_CONFLICT` while either has a write window open
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const a = ProtKey.from(Buffer.alloc(32, 1))
   * const b = ProtKey.from(Buffer.alloc(32, 1))
   * console.log(a.equals(b), a.equals(Buffer.alloc(32))) // true false
   * b.dispose()
   * a.dispose()
   * ```
   */
  equals(other: ProtKey | ArrayBufferView): boolean {
    return keyEquals(this, other, other instanceof ProtKey, 'a ProtKey or an ArrayBufferView')
  }

  /**
   * What the key's memory actually has: its own pages (no access, windows included: a window works on a copy)
   * and, while a window is open, the window memory holding that copy.
   * @throws {ContainerError} `ERR_DISPOSED`
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.random(32)
   * console.log(key.protections().access, key.protections().window) // none null
   * key.read(() => console.log(key.protections().window.locked)) // true
   * key.dispose()
   * ```
   */
  override protections(): KeyProtections {
    const own = super.protections()
    const slot = this.#slot
    const window = this.#bytes === null || slot === null || slot.freed ? null : windowBufferAllocator().protections(slot)
    return { ...own, window }
  }

  /** Open windows: readers and whether a writer is open. */
  get windows(): { readers: number; writer: boolean } {
    return { readers: this.#readers, writer: this.#writer }
  }

  /**
   * Moves the key into a new SealedKey (encrypted straight from its pages) and disposes this ProtKey.
   * @throws {ContainerError} `ERR_DISPOSED`; `ERR_WINDOW_OPEN` while a window is open; `ERR_INVALID_ARG_TYPE` for bad options; `ERR_SODIUM_UNAVAILABLE` when no sodium backend can be loaded; allocator errors pass through (the key is then left as it was)
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.random(32)
   * const sealed = key.seal()
   * console.log(key.disposed, `${sealed}`) // true SealedKey(32 bytes, sealed)
   * sealed.dispose()
   * ```
   */
  seal(options?: SealedOptions): SealedKey {
    const sealed = SealedKey.fromKey(this, options)
    this.dispose()
    return sealed
  }

  /**
   * Wipes and frees the key's pages and its window memory; every view given out is detached. Idempotent.
   * @throws {ContainerError} `ERR_WINDOW_OPEN` while a window is open (nothing is freed; close it and dispose again); a corrupted canary ends the process (or throws the allocator's `ERR_INTEGRITY` under `integrity: 'throw'`)
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.random(32)
   * key.dispose()
   * key.dispose() // idempotent
   * console.log(key.disposed) // true
   * ```
   */
  override dispose(): void {
    super.dispose()
    if (this.disposed && this.#slot !== null) {
      releaseKeyWindow(this.#slot)
      this.#slot = null
    }
  }

  protected override beforeDispose(): void {
    if (this.#readers > 0 || this.#writer) {
      throw new ContainerError('ERR_WINDOW_OPEN', 'A ProtKey cannot be disposed while a window is open')
    }
  }

  protected describeState(): string {
    if (this.#writer) return 'read-write window'
    if (this.#readers > 0) return 'read window'
    return 'no access'
  }

  /** A guard of the window just opened (the key's window memory has a backstop of its own: keepKeyWindow). */
  private guard(bytes: Uint8Array, kind: 'read' | 'write'): Window {
    const close = kind === 'read' ? () => this.closeRead() : () => this.closeWrite()
    return new WindowGuard('ProtKey', bytes, kind, close)
  }

  private openRead(): Uint8Array {
    const allocation = this.live()
    if (this.#writer) throw new ContainerError('ERR_WINDOW_CONFLICT', 'Cannot open a read window inside a write window')
    if (this.#readers === 0) this.openWindow(allocation)
    this.#readers++
    return this.#bytes as Uint8Array
  }

  private closeRead(): void {
    if (--this.#readers === 0) this.closeWindow(false)
  }

  private openWrite(): Uint8Array {
    const allocation = this.live()
    if (this.#writer || this.#readers > 0) {
      throw new ContainerError('ERR_WINDOW_CONFLICT', this.#writer ? 'A write window is already open' : 'Cannot open a write window inside a read window')
    }
    const bytes = this.openWindow(allocation)
    this.#writer = true
    return bytes
  }

  private closeWrite(): void {
    this.#writer = false
    this.closeWindow(true)
  }

  /** A view of this key's window memory with the key copied in (the key's pages stay no access). */
  private openWindow(allocation: Allocation): Uint8Array {
    this.#slot ??= keepKeyWindow(this, allocation.byteLength)
    const bytes = new Uint8Array(windowBufferAllocator().view(this.#slot))
    try {
      copyOut(this.allocator, allocation, bytes)
    } catch (err) {
      this.endWindow(bytes, false)
      throw err
    }
    this.#bytes = bytes
    return bytes
  }

  /**
   * An async window ran out of time: native work that `fn` started may still
   * hold the window's bytes. The window memory is then retired rather than
   * reused (wiped, still mapped, never reused; see window-buffers.ts), and a
   * write window writes nothing back.
   */
  private retireAtClose(): void {
    this.#retire = true
  }

  /**
   * Closes the window: a write window's bytes go back into the key's pages
   * first (not after a deadline: native work may still be writing them); then
   * the window memory is wiped and the view detached. A view detached or moved
   * out by someone else (transfer()) cannot be read back: nothing is written,
   * and it throws.
   */
  private closeWindow(writeBack: boolean): void {
    const bytes = this.#bytes as Uint8Array
    const retire = this.#retire
    this.#bytes = null
    this.#retire = false
    // After purge() the key's pages and the window memory are already freed (the view detached): nothing to write back.
    const purged = this.disposed || this.#slot === null || this.#slot.freed
    const escaped = !purged && escapedView(bytes)
    try {
      if (writeBack && !retire && !escaped && !purged) {
        copyIn(this.allocator, this.live(), bytes)
      }
    } finally {
      this.endWindow(bytes, retire || escaped)
    }
    if (writeBack && escaped) {
      throw new ContainerError(
        'ERR_VIEW_ESCAPED',
        "The write window's view was detached or moved out (transfer()) before it closed: nothing was written, the key keeps its previous content"
      )
    }
  }

  /** Wipes the window memory and detaches its view; or retires it for good (a deadline, an escaped view). */
  private endWindow(bytes: Uint8Array, retire: boolean): void {
    const slot = this.#slot
    if (slot === null || slot.freed) return
    if (!retire) {
      os.wipe(bytes)
      if (windowBufferAllocator().dropView(slot)) return
    }
    retireKeyWindow(slot, bytes)
    this.#slot = null
  }
}

/** Copies the key's bytes into `target`: natively where the allocator can (`copyOut`), else through a short-lived view. */
function copyOut(allocator: Allocator, allocation: Allocation, target: Uint8Array): void {
  if (typeof allocator.copyOut === 'function') {
    allocator.copyOut(allocation, target)
    return
  }
  allocator.protect(allocation, 'read')
  try {
    target.set(new Uint8Array(allocator.view(allocation)))
  } finally {
    allocator.protect(allocation, 'none')
  }
}

/** Copies `source` into the key's pages, as `copyOut` reads them. */
function copyIn(allocator: Allocator, allocation: Allocation, source: Uint8Array): void {
  if (typeof allocator.copyIn === 'function') {
    allocator.copyIn(allocation, source)
    return
  }
  allocator.protect(allocation, 'readwrite')
  try {
    new Uint8Array(allocator.view(allocation)).set(source)
  } finally {
    allocator.protect(allocation, 'none')
  }
}

refuseBytes(ProtKey.prototype)
