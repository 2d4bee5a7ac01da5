/**
 * ProtKey: a key in pages of its own, with no access by default.
 *
 * `read(fn)` opens a read-only window and `write(fn)` a read-write one; both
 * return what `fn` returns. Windows nest as in TARS: many readers, or one
 * writer, never both. When the last window closes the view is detached and
 * the pages go back to PROT_NONE, so a view kept past its window has length 0
 * — reading it gives `undefined`, never a crash.
 *
 * A callback that returns a Promise (or any thenable) is refused: the window
 * is closed before the error is thrown, so the key is never readable across
 * an `await`. Writing through a read-only window is a programming error that
 * the kernel turns into SIGSEGV.
 */
import { randomFillSync } from 'node:crypto'
import type { Readable } from 'node:stream'
import { PageAllocator } from '@tarsjs/page-alloc'
import type { Allocation, Allocator } from '@tarsjs/page-alloc'
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

/** A window opened by `reader()` or `writer()`: `bytes` is valid until it is closed. */
export interface Window {
  /** The key's bytes (read-only memory for a reader: writing faults). */
  readonly bytes: Uint8Array
  /** True once closed. */
  readonly closed: boolean
  /** Closes the window; idempotent. */
  close(): void
  [Symbol.dispose](): void
}

function keyAllocator(value: unknown): Allocator {
  const allocator = pickAllocator(value, defaultKeyAllocator)
  if (!allocator.capabilities?.protect) {
    throw new ContainerError('ERR_NOT_ISOLATED', 'A ProtKey needs an allocator whose allocations own their pages (capabilities.protect)')
  }
  return allocator
}

/**
 * A key in protected memory with no access between uses: its pages are readable only inside `read` (or a `reader()` window) and writable only inside `write`; otherwise touching them is impossible from JavaScript (every view is detached).
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
  #relocate = false
  #writer = false
  #bytes: Uint8Array | null = null

  private constructor(token: unknown, allocator: Allocator, allocation: Allocation) {
    super(token, allocator, allocation)
    allocator.protect(allocation, 'none')
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
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` when `fn` is not a function; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT` while any window is open; `ERR_ASYNC_CALLBACK` when `fn` returns a Promise; whatever `fn` throws (the window is closed first)
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
    return new WindowGuard('ProtKey', this.openRead(), 'read', () => this.closeRead())
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
    return new WindowGuard('ProtKey', this.openWrite(), 'write', () => this.closeWrite())
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
    return runAsyncWindow(() => this.reader(), 'read', fn, options, () => this.relocateAtClose())
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
    return runAsyncWindow(() => this.writer(), 'write', fn, options, () => this.relocateAtClose())
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
    return asyncGuard(() => this.reader(), 'read', options, () => this.relocateAtClose())
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
    return asyncGuard(() => this.writer(), 'write', options, () => this.relocateAtClose())
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

  private openRead(): Uint8Array {
    const allocation = this.live()
    if (this.#writer) throw new ContainerError('ERR_WINDOW_CONFLICT', 'Cannot open a read window inside a write window')
    if (this.#readers === 0) {
      this.allocator.protect(allocation, 'read')
      this.#bytes = new Uint8Array(this.allocator.view(allocation))
    }
    this.#readers++
    return this.#bytes as Uint8Array
  }

  private closeRead(): void {
    if (--this.#readers === 0) this.shut()
  }

  private openWrite(): Uint8Array {
    const allocation = this.live()
    if (this.#writer || this.#readers > 0) {
      throw new ContainerError('ERR_WINDOW_CONFLICT', this.#writer ? 'A write window is already open' : 'Cannot open a write window inside a read window')
    }
    this.allocator.protect(allocation, 'readwrite')
    this.#bytes = new Uint8Array(this.allocator.view(allocation))
    this.#writer = true
    return this.#bytes
  }

  private closeWrite(): void {
    this.#writer = false
    this.shut()
  }

  /**
   * An async window ran out of time: native work that `fn` started may still
   * hold the view. When this key's memory next goes back to no access, the key
   * moves to fresh pages instead, and the old ones stay mapped as zeros until
   * that work lets go of the view (see `ProtectOptions.relocate`).
   */
  private relocateAtClose(): void {
    this.#relocate = true
  }

  /** Back to no access; protect('none') detaches the view (or, after a timeout, moves the key away from it). */
  private shut(): void {
    this.#bytes = null
    const allocation = this.live()
    const relocate = this.#relocate
    this.#relocate = false
    if (relocate && this.allocator instanceof PageAllocator) {
      try {
        this.allocator.protect(allocation, 'none', { relocate: true })
        return
      } catch {
        // No fresh mapping (memlock or map limit): protecting the key comes first, so close in place.
      }
    }
    this.allocator.protect(allocation, 'none')
  }
}

refuseBytes(ProtKey.prototype)
