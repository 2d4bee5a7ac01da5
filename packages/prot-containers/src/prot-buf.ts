/**
 * ProtBuf: a fixed-length protected buffer, read-write while alive.
 * Packed in the slot allocator by default (locked, no-dump, wipe-on-fork,
 * canary); any `Allocator` by option. `bytes` is valid until `dispose()`,
 * after which every view given out has length 0.
 */
import { randomFillSync } from 'node:crypto'
import type { Readable } from 'node:stream'
import os = require('@tarsjs/os-memlock')
import type { Allocation, Allocator } from '@tarsjs/page-alloc'
import { CONSTRUCT, Container } from './container.js'
import { defaultBufAllocator, pickAllocator } from './default-allocators.js'
import { ContainerError, checkLength } from './errors.js'
import { allocOptions, fromOptions, readOptions, readUntilOptions } from './options.js'
import { readFd, readFile, readStream } from './read-secret.js'
import { delimiterBytes, readUntil } from './read-until.js'
import type { Delimiter, ReadUntilOptions } from './read-until.js'
import { promptOptions, readPassword } from './password-prompt.js'
import type { PromptOptions } from './password-prompt.js'
import { allocCopy, sourceBytes } from './source.js'
import { ProtKey } from './prot-key.js'
import type { KeyOptions } from './prot-key.js'

/** Options of every ProtBuf constructor. */
export interface BufOptions {
  /** Where the secret lives. Default: the per-thread slot allocator. */
  allocator?: Allocator
}

/** Options of the readers (`fromFd`, `fromFile`, `fromStream`). */
export interface ReadOptions extends BufOptions {
  /** Longest secret accepted, in bytes. Default 65536. */
  maxLength?: number
}

/** Typed array constructors a ProtBuf can be viewed as. */
export type TypedArrayConstructor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Uint32ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor

const TYPED: readonly TypedArrayConstructor[] = [
  Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array
]

/**
 * A secret in protected memory that stays readable and writable: locked, guarded, no-dump, wiped when disposed (or, as a backstop, when collected). Use `ProtKey` for a secret that should be inaccessible between uses.
 * @example
 * ```js
 * import { ProtBuf } from '@tarsjs/prot-containers'
 * const buf = ProtBuf.alloc(16)
 * buf.bytes.set([1, 2, 3])
 * console.log(buf.bytes[2], `${buf}`) // 3 ProtBuf(16 bytes, read-write)
 * buf.dispose()
 * ```
 */
export class ProtBuf extends Container {
  #bytes: Uint8Array | null = null

  private constructor(token: unknown, allocator: Allocator, allocation: Allocation) {
    super(token, allocator, allocation)
  }

  /**
   * A zero-filled buffer of `length` bytes.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for a length that is not an integer from 1 to 2^30, or bad options; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through
   * @example
   * ```js
   * import { ProtBuf } from '@tarsjs/prot-containers'
   * const buf = ProtBuf.alloc(16)
   * console.log(String(buf)) // ProtBuf(16 bytes, read-write)
   * buf.dispose()
   * ```
   */
  static alloc(length: number, options?: BufOptions): ProtBuf {
    checkLength(length)
    const allocator = pickAllocator(allocOptions(options).allocator, defaultBufAllocator)
    return new ProtBuf(CONSTRUCT, allocator, allocator.alloc(length))
  }

  /**
   * `length` bytes from the CSPRNG, written directly into protected memory.
   * @throws {ContainerError} as `alloc`: `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for a bad length or options; allocator errors pass through
   * @example
   * ```js
   * import { ProtBuf } from '@tarsjs/prot-containers'
   * const token = ProtBuf.random(32)
   * console.log(token.byteLength) // 32
   * token.dispose()
   * ```
   */
  static random(length: number, options?: BufOptions): ProtBuf {
    const buf = ProtBuf.alloc(length, options)
    randomFillSync(buf.bytes)
    return buf
  }

  /**
   * A copy of `source`; with `wipeSource: true` the source is wiped afterwards.
   * The options are read first (each once); the source's bytes are taken after.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a source that is not bytes (a string is refused) or a `wipeSource` that is not a boolean; `ERR_OUT_OF_RANGE` for an empty source; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through
   * @example
   * ```js
   * import { ProtBuf } from '@tarsjs/prot-containers'
   * const input = Buffer.from('hunter2')
   * const secret = ProtBuf.from(input, { wipeSource: true })
   * console.log(input) // <Buffer 00 00 00 00 00 00 00>
   * secret.dispose()
   * ```
   */
  static from(source: ArrayBufferView | ArrayBuffer, options?: BufOptions & { wipeSource?: boolean }): ProtBuf {
    const opts = fromOptions(options)
    const allocator = pickAllocator(opts.allocator, defaultBufAllocator)
    return new ProtBuf(CONSTRUCT, allocator, allocCopy(allocator, source, opts.wipeSource))
  }

  /**
   * Reads a file descriptor to its end straight into protected memory.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for an `fd` that is not a non-negative integer, `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_OUT_OF_RANGE` for a `maxLength` that is not an integer from 1 to 2^30; `ERR_SECRET_TOO_LONG` past `maxLength` (default 65536); `ERR_OUT_OF_RANGE` for an empty secret; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through; nothing read stays in memory when it throws
   * @throws {Error} the OS error of `read(2)` (`EBADF`, `EISDIR`, `EAGAIN` on a non-blocking descriptor), with `code` and `errno`
   * @example
   * ```js
   * import { ProtBuf } from '@tarsjs/prot-containers'
   * import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs'
   * import { tmpdir } from 'node:os'
   * import { join } from 'node:path'
   * const path = join(mkdtempSync(join(tmpdir(), 'secret-')), 'api-key')
   * writeFileSync(path, 'example-api-key')
   * const fd = openSync(path, 'r')
   * const secret = ProtBuf.fromFd(fd, { maxLength: 1024 })
   * closeSync(fd)
   * console.log(secret.byteLength) // 15
   * secret.dispose()
   * ```
   */
  static fromFd(fd: number, options?: ReadOptions): ProtBuf {
    const opts = readOptions(options)
    const allocator = pickAllocator(opts.allocator, defaultBufAllocator)
    return new ProtBuf(CONSTRUCT, allocator, readFd(allocator, fd, opts.maxLength))
  }

  /**
   * Reads a whole file straight into protected memory.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a `path` that is not a string or URL, `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_OUT_OF_RANGE` for a `maxLength` that is not an integer from 1 to 2^30; `ERR_SECRET_TOO_LONG` past `maxLength` (default 65536); `ERR_OUT_OF_RANGE` for an empty secret; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through; nothing read stays in memory when it throws
   * @throws {Error} the OS error of `open(2)` or `read(2)` (`ENOENT`, `EACCES`, `EISDIR`), with `code` and `errno`
   * @example
   * ```js
   * import { ProtBuf } from '@tarsjs/prot-containers'
   * import { mkdtempSync, writeFileSync } from 'node:fs'
   * import { tmpdir } from 'node:os'
   * import { join } from 'node:path'
   * const path = join(mkdtempSync(join(tmpdir(), 'secret-')), 'api-key')
   * writeFileSync(path, 'example-api-key')
   * const secret = ProtBuf.fromFile(path)
   * console.log(Buffer.from(secret.bytes).toString()) // example-api-key
   * secret.dispose()
   * ```
   */
  static fromFile(path: string | URL, options?: ReadOptions): ProtBuf {
    const opts = readOptions(options)
    const allocator = pickAllocator(opts.allocator, defaultBufAllocator)
    return new ProtBuf(CONSTRUCT, allocator, readFile(allocator, path, opts.maxLength))
  }

  /**
   * Consumes a byte stream into protected memory; each chunk is wiped once copied.
   * @throws {ContainerError} rejects with `ERR_INVALID_ARG_TYPE` for something that is not a readable stream or async iterable, or a chunk that is not bytes (a stream with an encoding); `ERR_INVALID_ARG_VALUE` for an `fs.ReadStream` (its read buffer keeps copies: use `fromFile`) or a stream that already has a consumer; `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_OUT_OF_RANGE` for a `maxLength` that is not an integer from 1 to 2^30; `ERR_SECRET_TOO_LONG` past `maxLength` (default 65536); `ERR_OUT_OF_RANGE` for an empty secret; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through; nothing read stays in memory when it throws; the stream's own error
   * @example
   * ```js
   * import { ProtBuf } from '@tarsjs/prot-containers'
   * import { Readable } from 'node:stream'
   * const secret = await ProtBuf.fromStream(Readable.from([Buffer.from('part one, '), Buffer.from('part two')]))
   * console.log(secret.byteLength) // 18
   * secret.dispose()
   * ```
   */
  static async fromStream(stream: Readable | AsyncIterable<Uint8Array>, options?: ReadOptions): Promise<ProtBuf> {
    const opts = readOptions(options)
    const allocator = pickAllocator(opts.allocator, defaultBufAllocator)
    return new ProtBuf(CONSTRUCT, allocator, await readStream(allocator, stream, opts.maxLength))
  }

  /**
   * Reads a descriptor or a stream up to a delimiter (default: a line feed) into a new ProtBuf,
   * without the delimiter. A descriptor is read one byte at a time, so nothing after the
   * delimiter is taken from it; a stream gets the bytes after the delimiter back (`unshift`)
   * and is left paused. The end of the input before any delimiter ends the secret too, unless
   * `requireDelimiter` is set. Every chunk a stream hands over is wiped once copied.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a source that is neither a descriptor nor a Node.js readable stream, a bad delimiter type or bad options, or a stream with an encoding or a string chunk; `ERR_INVALID_ARG_VALUE` for an empty or longer than 256 bytes delimiter, an `fs.ReadStream`, or a stream that already has a consumer; `ERR_OUT_OF_RANGE` for a byte delimiter outside 0 to 255, a bad `maxLength`, or an empty secret; `ERR_SECRET_TOO_LONG` past `maxLength` bytes; `ERR_UNEXPECTED_EOF` when the input ends before the delimiter under `requireDelimiter`; read errors of the descriptor (`EBADF`...) and stream errors pass through
   * @example
   * ```js
   * import { PassThrough } from 'node:stream'
   * import { ProtBuf } from '@tarsjs/prot-containers'
   * const input = new PassThrough()
   * input.end(Buffer.from('hunter2\nnext line\n'))
   * const secret = await ProtBuf.fromReaderUntil(input)
   * console.log(secret.byteLength) // 7
   * console.log(String(input.read())) // next line
   * secret.dispose()
   * ```
   */
  static async fromReaderUntil(source: number | Readable, delimiter?: Delimiter, options?: ReadUntilOptions): Promise<ProtBuf> {
    const opts = readUntilOptions(options)
    const bytes = delimiterBytes(delimiter)
    const allocator = pickAllocator(opts.allocator, defaultBufAllocator)
    return new ProtBuf(CONSTRUCT, allocator, await readUntil(allocator, source, bytes, opts))
  }

  /**
   * Prompts on a terminal (echo off) and reads a password into a new ProtBuf; the password never
   * becomes a string. Enter ends it, Backspace and Ctrl-U edit it, Ctrl-C cancels; the terminal's
   * mode is restored before the promise settles. An input that is not a terminal is refused unless
   * `allowNonTty` is set (it is then read up to a line feed).
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for bad options (an `input` that is not a readable stream, an `output` that is not writable); `ERR_NOT_A_TTY` for an input that is not a terminal without `allowNonTty`; `ERR_PROMPT_CANCELLED` on Ctrl-C; `ERR_UNEXPECTED_EOF` when the input ends before Enter; `ERR_SECRET_TOO_LONG` past `maxLength` bytes; `ERR_OUT_OF_RANGE` for an empty password or a bad `maxLength`; errors of the stream pass through
   * @example
   * ```js
   * import { PassThrough } from 'node:stream'
   * import { ProtBuf } from '@tarsjs/prot-containers'
   * // On a terminal: `await ProtBuf.fromPrompt()` prompts on stderr and reads stdin with echo off.
   * const input = new PassThrough()
   * input.end(Buffer.from('correct horse\n'))
   * const password = await ProtBuf.fromPrompt({ input, output: null, allowNonTty: true })
   * console.log(password.byteLength) // 13
   * password.dispose()
   * ```
   */
  static async fromPrompt(options?: PromptOptions): Promise<ProtBuf> {
    const opts = promptOptions(options)
    const allocator = pickAllocator(opts.allocator, defaultBufAllocator)
    return new ProtBuf(CONSTRUCT, allocator, await readPassword(allocator, opts))
  }

  /** The bytes, read-write. The same view every time; length 0 after dispose. */
  get bytes(): Uint8Array {
    const allocation = this.live()
    if (this.#bytes === null || this.#bytes.byteLength === 0) {
      this.#bytes = new Uint8Array(this.allocator.view(allocation))
    }
    return this.#bytes
  }

  /**
   * The memory as another element type. The length must be a multiple of the
   * element size and the allocator must guarantee a matching alignment.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for something that is not a typed array constructor; `ERR_ALIGNMENT` when the length is not a whole number of elements or the allocator does not align to the element size; `ERR_DISPOSED`
   * @example
   * ```js
   * import { ProtBuf } from '@tarsjs/prot-containers'
   * const buf = ProtBuf.alloc(16)
   * const words = buf.view(Uint32Array)
   * console.log(words.length) // 4
   * buf.dispose()
   * ```
   */
  view<T extends TypedArrayConstructor>(type: T): InstanceType<T> {
    if (!TYPED.includes(type)) {
      throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "type" argument must be a typed array constructor')
    }
    const allocation = this.live()
    const size = type.BYTES_PER_ELEMENT
    if (allocation.byteLength % size !== 0) {
      throw new ContainerError('ERR_ALIGNMENT', `${allocation.byteLength} bytes is not a whole number of ${type.name} elements`)
    }
    if ((this.allocator.capabilities.alignment ?? 1) % size !== 0) {
      throw new ContainerError('ERR_ALIGNMENT', `The allocator does not align data to ${size} bytes`)
    }
    return new type(this.allocator.view(allocation)) as InstanceType<T>
  }

  /**
   * Constant-time comparison with another ProtBuf or bytes (a length mismatch returns false at once).
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for something that is not a ProtBuf or an ArrayBufferView; `ERR_DISPOSED` when either buffer is disposed
   * @example
   * ```js
   * import { ProtBuf } from '@tarsjs/prot-containers'
   * const token = ProtBuf.from(Buffer.from('expected-token'))
   * console.log(token.equals(Buffer.from('expected-token')), token.equals(Buffer.from('guess'))) // true false
   * token.dispose()
   * ```
   */
  equals(other: ProtBuf | ArrayBufferView): boolean {
    const mine = this.bytes
    const theirs = other instanceof ProtBuf ? other.bytes : ArrayBuffer.isView(other) ? sourceBytes(other) : null
    if (theirs === null) {
      throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "other" argument must be a ProtBuf or an ArrayBufferView')
    }
    if (theirs.byteLength !== mine.byteLength) return false
    return os.equals(mine, 0, theirs, 0, mine.byteLength)
  }

  /**
   * A new ProtBuf with the same content, from the same allocator.
   * @throws {ContainerError} `ERR_DISPOSED`; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through
   * @example
   * ```js
   * import { ProtBuf } from '@tarsjs/prot-containers'
   * const a = ProtBuf.from(Buffer.from('secret'))
   * const b = a.clone()
   * console.log(b.equals(a), b.bytes === a.bytes) // true false
   * b.dispose()
   * a.dispose()
   * ```
   */
  clone(): ProtBuf {
    // The source first: a disposed buffer must throw before anything is allocated.
    const source = this.bytes
    const copy = ProtBuf.alloc(source.byteLength, { allocator: this.allocator })
    copy.bytes.set(source)
    return copy
  }

  /**
   * Moves the content into a new ProtKey (no access by default) and disposes this buffer.
   * @throws {ContainerError} `ERR_DISPOSED`; `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_NOT_ISOLATED` for an allocator that cannot protect; allocator errors pass through (this buffer is then left as it was)
   * @example
   * ```js
   * import { ProtBuf } from '@tarsjs/prot-containers'
   * const buf = ProtBuf.random(32)
   * const key = buf.toKey()
   * console.log(buf.disposed, `${key}`) // true ProtKey(32 bytes, no access)
   * key.dispose()
   * ```
   */
  toKey(options?: KeyOptions): ProtKey {
    // Only `allocator` is read (once); the bytes are taken after it, inside ProtKey.from.
    const key = ProtKey.from(this.bytes, { allocator: allocOptions(options).allocator as Allocator | undefined })
    this.dispose()
    return key
  }

  protected describeState(): string {
    return 'read-write'
  }
}
