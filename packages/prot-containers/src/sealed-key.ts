/**
 * SealedKey: a key kept encrypted at rest. The at-rest memory holds only
 * `nonce | ciphertext | tag` of ChaCha20-Poly1305 (IETF) under this thread's
 * sealing key (see sealing-key.ts), in an unlocked slot: a few dozen bytes per
 * key, so thousands of keys cost no locked memory.
 *
 * A window decrypts into a slot of locked, no-dump, wipe-on-fork memory of
 * its own and hands out a view of it. Readers nest and share one plaintext;
 * a writer is alone. When the last reader closes, the plaintext is wiped and
 * its view detached (a view kept past its window has length 0); when a writer
 * closes, the key is sealed again under a fresh random nonce first.
 * A ciphertext that does not authenticate throws `ERR_SEALED_KEY_TAMPERED`
 * and no plaintext is handed out.
 */
import type { Readable } from 'node:stream'
import { inspect } from 'node:util'
import { setInterval } from 'node:timers'
import os = require('@tarsjs/os-memlock')
import type { Allocation, Allocator, Protections } from '@tarsjs/page-alloc'
import { track } from './backstop.js'
import { pickAllocator } from './default-allocators.js'
import { ContainerError, checkLength } from './errors.js'
import { allocOptions, fromOptions, readOptions, readUntilOptions } from './options.js'
import { sourceBytes } from './source.js'
import { keyEquals } from './key-equals.js'
import { ProtKey } from './prot-key.js'
import type { KeyOptions, Window } from './prot-key.js'
import { onPurge } from './purge.js'
import { readFd, readFile, readStream } from './read-secret.js'
import { delimiterBytes, readUntil } from './read-until.js'
import type { Delimiter, ReadUntilOptions } from './read-until.js'
import { promptOptions, readPassword } from './password-prompt.js'
import type { PromptOptions } from './password-prompt.js'
import { atRestAllocator, windowAllocator, windowBufferAllocator } from './sealed-allocators.js'
import { SEAL_OVERHEAD, SealingKey, currentSealingKey, replaceSealingKey } from './sealing-key.js'
import type { SealingKeyProtections } from './sealing-key.js'
import { aead } from './sodium.js'
import { stage } from './sealed-stage.js'
import {
  closeSealedWindow,
  escapedView,
  openedWindow,
  releaseSealedWindow,
  retireWindow,
  returnWindow,
  sealedWindow,
  takeWindow,
  unwatchAbandoned,
  watchAbandoned
} from './window-buffers.js'
import { WindowGuard } from './window-guard.js'
import { runSyncWindow } from './sync-window.js'
import { asyncGuard, runAsyncWindow } from './async-window.js'
import type { AsyncWindow, AsyncWindowOptions } from './async-window.js'
import type { SyncResult } from './sync-result.js'
import { redactContainer, refuseBytes } from './misuse.js'

/** Options of every SealedKey constructor. */
export interface SealedOptions {
  /** Where the ciphertext lives. Default: the per-thread at-rest slot allocator (not locked). */
  allocator?: Allocator
}

/** Options of the readers (`fromFd`, `fromFile`, `fromStream`). */
export interface SealedReadOptions extends SealedOptions {
  /** Longest secret accepted, in bytes. Default 65536. */
  maxLength?: number
}

/** What a SealedKey's memory actually has. The base fields describe the at-rest ciphertext's memory. */
export interface SealedProtections extends Protections {
  /** No plaintext of this key exists: no window is open. */
  sealed: boolean
  /** The plaintext's memory while a window is open, else null. */
  window: Protections | null
  /** The sealing key's memory. */
  sealingKey: SealingKeyProtections
}

/** What `SealedKey.rekey()` did. */
export interface RekeyResult {
  /** Keys sealed again under the new sealing key. */
  rekeyed: number
  /** Keys whose ciphertext did not authenticate: left as they were (opening them throws ERR_SEALED_KEY_TAMPERED). */
  tampered: number
}

/** Warning code emitted when a timed rekey (`rekeyEvery`) fails. */
export const WARN_REKEY_FAILED = 'TARSJS_REKEY_FAILED'

/**
 * Ciphertexts of this thread's live SealedKeys, for rekey(): an array (one
 * pointer per key, where a Set costs several), from which freed ones (keys
 * disposed, or reclaimed by the backstop) are swept as it grows.
 */
let sealedLive: Allocation[] = []
let sweepSealedAt = 1024
/** A rekey is walking `sealedLive`: keys made meanwhile are appended (no sweep) so that it reaches them too. */
let rekeying = false

function rememberSealed(allocation: Allocation): void {
  if (sealedLive.length >= sweepSealedAt && !rekeying) {
    sealedLive = sealedLive.filter((a) => !a.freed)
    sweepSealedAt = Math.max(1024, 2 * sealedLive.length)
  }
  sealedLive.push(allocation)
}
/**
 * This thread's sealing key, for a new sealing: a key that has sealed as
 * often as one key should (2^31 times, see sealing-key.ts) is first replaced
 * by SealedKey.rekey(), which seals every live key again under a new one.
 */
function freshSealingKey(): SealingKey {
  // Not from inside a rekey (an allocator's code making a key): that rekey replaces the key when it ends.
  if (currentSealingKey().worn && !rekeying) SealedKey.rekey()
  return currentSealingKey()
}

/**
 * Keys whose window is being opened: the decrypt may run an allocator's own
 * code (a custom at-rest allocator's copyOut), which must not open the same
 * key again into the buffer being filled.
 */
const opening = new Set<SealedKey>()

onPurge(() => {
  sealedLive = []
  sweepSealedAt = 1024
})

function tampered(): ContainerError {
  return new ContainerError('ERR_SEALED_KEY_TAMPERED', 'The sealed key does not authenticate: its ciphertext was modified (or sealed under a discarded sealing key)')
}

/**
 * A buffer for one key's ciphertext on its way to or from `allocator`: the
 * shared stage (see sealed-stage.ts) for this thread's own at-rest allocator
 * only. Any other allocator gets a buffer of its own each time, so that code
 * of an allocator given for one key never holds the buffer that every other
 * key's ciphertext passes through.
 */
function stageFor(allocator: Allocator, byteLength: number): Uint8Array {
  return allocator === atRestAllocator() ? stage(byteLength) : new Uint8Array(byteLength)
}

/** A key's ciphertext, for opening: copied out where the allocator can copy, else the allocator's view of it. */
function loadSealed(allocator: Allocator, allocation: Allocation): Uint8Array {
  if (allocator.copyOut === undefined || allocator.copyIn === undefined) return new Uint8Array(allocator.view(allocation))
  const sealed = stageFor(allocator, allocation.byteLength)
  allocator.copyOut(allocation, sealed)
  return sealed
}

/** Seals `plaintext` under `sealing` into a key's at-rest memory (through the stage where the allocator copies natively). */
function sealInto(sealing: SealingKey, plaintext: Uint8Array, allocator: Allocator, allocation: Allocation): void {
  if (allocator.copyOut === undefined || allocator.copyIn === undefined) {
    sealing.seal(plaintext, new Uint8Array(allocator.view(allocation)))
    return
  }
  const sealed = stageFor(allocator, allocation.byteLength)
  sealing.seal(plaintext, sealed)
  allocator.copyIn(allocation, sealed)
}

/** Puts a ciphertext back as it was (rekey's undo): a copy, which needs no nonce and no key. */
function restoreSealed(allocator: Allocator, allocation: Allocation, before: Uint8Array): void {
  if (allocator.copyIn === undefined) new Uint8Array(allocator.view(allocation)).set(before)
  else allocator.copyIn(allocation, before)
}

/** A plaintext slot of `length` bytes in window memory, and its view. */
function plaintextSlot(length: number): { allocation: Allocation; bytes: Uint8Array } {
  const plain = windowAllocator()
  const allocation = plain.alloc(length)
  return { allocation, bytes: new Uint8Array(plain.view(allocation)) }
}

/**
 * A key kept encrypted at rest (ChaCha20-Poly1305 under this thread's sealing key): a few dozen unlocked bytes per key, decrypted into locked window memory only inside `read` / `write` or a window.
 * @example
 * ```js
 * import { SealedKey } from '@tarsjs/prot-containers'
 * const key = SealedKey.random(32)
 * console.log(`${key}`, key.protections().sealed) // SealedKey(32 bytes, sealed) true
 * key.dispose()
 * ```
 */
export class SealedKey {
  // Few fields: thousands of keys live at once. The length is the
  // allocation's less SEAL_OVERHEAD; the key is disposed once its allocation
  // is freed. The allocator is the one given (a wrapper stays in the path).
  readonly #allocator: Allocator
  readonly #allocation: Allocation
  #readers = 0
  #writer = false
  #window: Allocation | null = null
  #bytes: Uint8Array | null = null
  #retire = false

  /** Seals `plaintext` into a new at-rest allocation. */
  private constructor(allocator: Allocator, plaintext: Uint8Array) {
    const sealing = freshSealingKey()
    const allocation = allocator.alloc(plaintext.byteLength + SEAL_OVERHEAD)
    try {
      sealInto(sealing, plaintext, allocator, allocation)
    } catch (err) {
      allocator.free(allocation)
      throw err
    }
    this.#allocator = allocator
    this.#allocation = allocation
    rememberSealed(allocation)
    track(this, allocation)
  }

  /**
   * `length` random bytes, generated in window memory and sealed at once.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for a length that is not an integer from 1 to 2^30, or bad options; `ERR_SODIUM_UNAVAILABLE` without sodium-native; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.random(32)
   * console.log(key.byteLength) // 32
   * key.dispose()
   * ```
   */
  static random(length: number, options?: SealedOptions): SealedKey {
    checkLength(length)
    const allocator = sealedAllocator(allocOptions(options).allocator)
    const plain = takeWindow(length)
    try {
      aead().randombytes_buf(plain.bytes)
      return new SealedKey(allocator, plain.bytes)
    } finally {
      returnWindow(plain.allocation, plain.bytes)
    }
  }

  /**
   * Seals `source` (read in place: no copy is made); with `wipeSource: true` the source is wiped afterwards.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a source that is not bytes (a string is refused) or a `wipeSource` that is not a boolean; `ERR_OUT_OF_RANGE` for an empty source; `ERR_SODIUM_UNAVAILABLE` without sodium-native; allocator errors pass through
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const raw = Buffer.alloc(32, 5)
   * const key = SealedKey.from(raw, { wipeSource: true })
   * console.log(raw[0], key.read((bytes) => bytes[0])) // 0 5
   * key.dispose()
   * ```
   */
  static from(source: ArrayBufferView | ArrayBuffer, options?: SealedOptions & { wipeSource?: boolean }): SealedKey {
    // Options first (their getters run once), then the source as it is after them.
    const opts = fromOptions(options)
    const from = sourceBytes(source)
    checkLength(from.byteLength, 'source.byteLength')
    const key = new SealedKey(sealedAllocator(opts.allocator), from)
    try {
      // Throws ERR_REGION_PROTECTED for a read-only source (a view of an allocation protected 'read', say).
      if (opts.wipeSource) os.wipe(from)
    } catch (err) {
      key.dispose()
      throw err
    }
    return key
  }

  /**
   * Reads a file descriptor to its end into window memory, seals it and wipes the plaintext.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for an `fd` that is not a non-negative integer, `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_OUT_OF_RANGE` for a `maxLength` that is not an integer from 1 to 2^30; `ERR_SECRET_TOO_LONG` past `maxLength` (default 65536); `ERR_OUT_OF_RANGE` for an empty secret; `ERR_SODIUM_UNAVAILABLE` without sodium-native; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through; the plaintext read so far is wiped when it throws
   * @throws {Error} the OS error of `read(2)` (`EBADF`, `EISDIR`, `EAGAIN` on a non-blocking descriptor), with `code` and `errno`
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs'
   * import { tmpdir } from 'node:os'
   * import { join } from 'node:path'
   * const path = join(mkdtempSync(join(tmpdir(), 'secret-')), 'api-key')
   * writeFileSync(path, 'example-api-key')
   * const fd = openSync(path, 'r')
   * const key = SealedKey.fromFd(fd)
   * closeSync(fd)
   * console.log(`${key}`) // SealedKey(15 bytes, sealed)
   * key.dispose()
   * ```
   */
  static fromFd(fd: number, options?: SealedReadOptions): SealedKey {
    const opts = readOptions(options)
    const allocator = sealedAllocator(opts.allocator)
    return sealRead(allocator, readFd(windowAllocator(), fd, opts.maxLength))
  }

  /**
   * Reads a whole file into window memory, seals it and wipes the plaintext.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a `path` that is not a string or URL, `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_OUT_OF_RANGE` for a `maxLength` that is not an integer from 1 to 2^30; `ERR_SECRET_TOO_LONG` past `maxLength` (default 65536); `ERR_OUT_OF_RANGE` for an empty secret; `ERR_SODIUM_UNAVAILABLE` without sodium-native; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through; the plaintext read so far is wiped when it throws
   * @throws {Error} the OS error of `open(2)` or `read(2)` (`ENOENT`, `EACCES`, `EISDIR`), with `code` and `errno`
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * import { mkdtempSync, writeFileSync } from 'node:fs'
   * import { tmpdir } from 'node:os'
   * import { join } from 'node:path'
   * const path = join(mkdtempSync(join(tmpdir(), 'secret-')), 'api-key')
   * writeFileSync(path, 'example-api-key')
   * const key = SealedKey.fromFile(path)
   * console.log(key.read((bytes) => Buffer.from(bytes).toString())) // example-api-key
   * key.dispose()
   * ```
   */
  static fromFile(path: string | URL, options?: SealedReadOptions): SealedKey {
    const opts = readOptions(options)
    const allocator = sealedAllocator(opts.allocator)
    return sealRead(allocator, readFile(windowAllocator(), path, opts.maxLength))
  }

  /**
   * Consumes a byte stream into window memory (each chunk wiped once copied), then seals it.
   * @throws {ContainerError} rejects with `ERR_INVALID_ARG_TYPE` for something that is not a readable stream or async iterable, or a chunk that is not bytes; `ERR_INVALID_ARG_VALUE` for an `fs.ReadStream` or a stream that already has a consumer; `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_OUT_OF_RANGE` for a `maxLength` that is not an integer from 1 to 2^30; `ERR_SECRET_TOO_LONG` past `maxLength` (default 65536); `ERR_OUT_OF_RANGE` for an empty secret; `ERR_SODIUM_UNAVAILABLE` without sodium-native; allocator errors (`ERR_MLOCK_FAILED`, `ENOMEM`, ...) pass through; the plaintext read so far is wiped when it throws; the stream's own error
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * import { Readable } from 'node:stream'
   * const key = await SealedKey.fromStream(Readable.from([Buffer.alloc(32, 3)]))
   * console.log(key.byteLength) // 32
   * key.dispose()
   * ```
   */
  static async fromStream(stream: Readable | AsyncIterable<Uint8Array>, options?: SealedReadOptions): Promise<SealedKey> {
    const opts = readOptions(options)
    const allocator = sealedAllocator(opts.allocator)
    return sealRead(allocator, await readStream(windowAllocator(), stream, opts.maxLength))
  }

  /**
   * Reads a descriptor or a stream up to a delimiter (default: a line feed) into a new SealedKey,
   * without the delimiter. A descriptor is read one byte at a time, so nothing after the
   * delimiter is taken from it; a stream gets the bytes after the delimiter back (`unshift`)
   * and is left paused. The end of the input before any delimiter ends the secret too, unless
   * `requireDelimiter` is set. Every chunk a stream hands over is wiped once copied.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a source that is neither a descriptor nor a Node.js readable stream, a bad delimiter type or bad options, or a stream with an encoding or a string chunk; `ERR_INVALID_ARG_VALUE` for an empty or longer than 256 bytes delimiter, an `fs.ReadStream`, or a stream that already has a consumer; `ERR_OUT_OF_RANGE` for a byte delimiter outside 0 to 255, a bad `maxLength`, or an empty secret; `ERR_SECRET_TOO_LONG` past `maxLength` bytes; `ERR_UNEXPECTED_EOF` when the input ends before the delimiter under `requireDelimiter`; `ERR_SODIUM_UNAVAILABLE` without sodium-native; read errors of the descriptor (`EBADF`...) and stream errors pass through
   * @example
   * ```js
   * import { PassThrough } from 'node:stream'
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const input = new PassThrough()
   * input.end(Buffer.from('hunter2\nnext line\n'))
   * const secret = await SealedKey.fromReaderUntil(input)
   * console.log(secret.byteLength) // 7
   * console.log(String(input.read())) // next line
   * secret.dispose()
   * ```
   */
  static async fromReaderUntil(source: number | Readable, delimiter?: Delimiter, options?: ReadUntilOptions): Promise<SealedKey> {
    const opts = readUntilOptions(options)
    const bytes = delimiterBytes(delimiter)
    const allocator = sealedAllocator(opts.allocator)
    return sealRead(allocator, await readUntil(windowAllocator(), source, bytes, opts))
  }

  /**
   * Prompts on a terminal (echo off) and reads a password into a new SealedKey; the password never
   * becomes a string. Enter ends it, Backspace and Ctrl-U edit it, Ctrl-C cancels; the terminal's
   * mode is restored before the promise settles. An input that is not a terminal is refused unless
   * `allowNonTty` is set (it is then read up to a line feed).
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for bad options (an `input` that is not a readable stream, an `output` that is not writable); `ERR_NOT_A_TTY` for an input that is not a terminal without `allowNonTty`; `ERR_PROMPT_CANCELLED` on Ctrl-C; `ERR_UNEXPECTED_EOF` when the input ends before Enter; `ERR_SECRET_TOO_LONG` past `maxLength` bytes; `ERR_OUT_OF_RANGE` for an empty password or a bad `maxLength`; `ERR_SODIUM_UNAVAILABLE` without sodium-native; errors of the stream pass through
   * @example
   * ```js
   * import { PassThrough } from 'node:stream'
   * import { SealedKey } from '@tarsjs/prot-containers'
   * // On a terminal: `await SealedKey.fromPrompt()` prompts on stderr and reads stdin with echo off.
   * const input = new PassThrough()
   * input.end(Buffer.from('correct horse\n'))
   * const password = await SealedKey.fromPrompt({ input, output: null, allowNonTty: true })
   * console.log(password.byteLength) // 13
   * password.dispose()
   * ```
   */
  static async fromPrompt(options?: PromptOptions): Promise<SealedKey> {
    const opts = promptOptions(options)
    const allocator = sealedAllocator(opts.allocator)
    return sealRead(allocator, await readPassword(windowAllocator(), opts))
  }

  /** @internal Seals the content of a ProtKey (read in place, in its read window). */
  static fromKey(key: ProtKey, options?: SealedOptions): SealedKey {
    if (key.windows.readers > 0 || key.windows.writer) {
      throw new ContainerError('ERR_WINDOW_OPEN', 'A ProtKey cannot be sealed while a window is open')
    }
    const allocator = sealedAllocator(allocOptions(options).allocator)
    return key.read((bytes) => new SealedKey(allocator, bytes))
  }

  /**
   * Seals every live SealedKey of this thread again under a new random
   * sealing key, then wipes the old one. No key is lost: each is decrypted
   * into window memory and sealed again in place before the old key goes.
   * @throws {ContainerError} `ERR_SODIUM_UNAVAILABLE` without sodium-native; allocator errors (`ENOMEM`, ...) for the new sealing key or the plaintext slot, in which case every key stays sealed under the previous sealing key. A key that does not authenticate is counted in `tampered`, not thrown
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.random(32)
   * const before = key.read((bytes) => Buffer.from(bytes).toString('hex'))
   * const { rekeyed, tampered } = SealedKey.rekey()
   * console.log(rekeyed >= 1, tampered) // true 0
   * console.log(key.read((bytes) => Buffer.from(bytes).toString('hex')) === before) // true: same key, new sealing key
   * key.dispose()
   * ```
   */
  static rekey(): RekeyResult {
    const previous = currentSealingKey()
    sealedLive = sealedLive.filter((a) => !a.freed)
    sweepSealedAt = Math.max(1024, 2 * sealedLive.length)
    let longest = 0
    for (const allocation of sealedLive) longest = Math.max(longest, allocation.byteLength - SEAL_OVERHEAD)
    const next = SealingKey.create()
    const result: RekeyResult = { rekeyed: 0, tampered: 0 }
    if (longest === 0) {
      replaceSealingKey(next)
      return result
    }
    // Each key's ciphertext under the previous key, kept until the end: a
    // failure halfway puts these bytes back (a copy, which draws no nonce and
    // needs no key), so every key stays sealed under the previous key. A
    // ciphertext is no secret (the at-rest slots are not locked either).
    const done: { allocation: Allocation; before: Uint8Array }[] = []
    let plain: { allocation: Allocation; bytes: Uint8Array } | undefined
    rekeying = true
    try {
      // One plaintext slot for all keys, allocated before the loop.
      plain = plaintextSlot(longest)
      // By index: a key made while the loop runs (by an allocator's own code)
      // is appended, sealed under the previous key, and reached here too.
      for (let i = 0; i < sealedLive.length; i++) {
        const allocation = sealedLive[i] as Allocation
        if (allocation.freed) continue
        const length = allocation.byteLength - SEAL_OVERHEAD
        if (length > plain.bytes.byteLength) {
          windowAllocator().free(plain.allocation)
          plain = undefined // freed: if the next alloc throws, `finally` has nothing to free
          plain = plaintextSlot(length)
        }
        const sealed = loadSealed(allocation.allocator, allocation)
        const bytes = plain.bytes.subarray(0, length)
        if (previous.open(sealed, bytes)) {
          done.push({ allocation, before: sealed.slice() })
          sealInto(next, bytes, allocation.allocator, allocation)
        } else {
          result.tampered++
        }
      }
    } catch (err) {
      // Back under the previous key, so that no key is lost, then report. A
      // key freed meanwhile needs nothing; one whose allocator refuses the
      // copy back (only a custom allocator can) stays under the discarded
      // key and throws ERR_SEALED_KEY_TAMPERED from then on. The others are
      // put back whatever happens to one of them.
      for (const { allocation, before } of done) {
        if (allocation.freed) continue
        try {
          restoreSealed(allocation.allocator, allocation, before)
        } catch {
          // Reported by the key itself when it is next opened (above).
        }
      }
      next.dispose()
      throw err
    } finally {
      rekeying = false
      if (plain !== undefined) windowAllocator().free(plain.allocation)
    }
    result.rekeyed = done.length
    replaceSealingKey(next)
    return result
  }

  /**
   * Calls `SealedKey.rekey()` every `ms` milliseconds (the timer does not keep
   * the process alive). Returns a handle whose `stop()` ends it.
   * @throws {ContainerError} `ERR_OUT_OF_RANGE` for an `ms` that is not an integer from 1 to 2^31-1. A failed timed rekey does not throw: it emits a `TARSJS_REKEY_FAILED` warning
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const timer = SealedKey.rekeyEvery(60 * 60 * 1000) // hourly; never keeps the process alive
   * timer.stop()
   * ```
   */
  static rekeyEvery(ms: number): { stop(): void } {
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1 || ms > 2 ** 31 - 1) {
      throw new ContainerError('ERR_OUT_OF_RANGE', `The value of "ms" must be an integer from 1 to 2^31-1. Received ${String(ms)}`)
    }
    const timer = setInterval(() => {
      try {
        SealedKey.rekey()
      } catch (err) {
        // An exception here would be uncaught; the keys stay under the previous sealing key.
        const code = (err as { code?: string }).code ?? 'unknown'
        process.emitWarning(`tarsjs: a timed rekey failed (${code}); the keys stay sealed under the previous sealing key`, {
          type: 'TarsjsWarning',
          code: WARN_REKEY_FAILED
        })
      }
    }, ms)
    timer.unref()
    return { stop: () => clearInterval(timer) }
  }

  /** Length of the secret in bytes (the ciphertext adds 28: a 12-byte nonce and a 16-byte tag). */
  get byteLength(): number {
    return this.#allocation.byteLength - SEAL_OVERHEAD
  }

  /** True once disposed (or purged). */
  get disposed(): boolean {
    return this.#allocation.freed
  }

  /** The allocator that holds the ciphertext. */
  get allocator(): Allocator {
    return this.#allocator
  }

  /** Open windows: readers and whether a writer is open. */
  get windows(): { readers: number; writer: boolean } {
    return { readers: this.#readers, writer: this.#writer }
  }

  /**
   * Runs `fn` with the plaintext readable; nested reads share the window. Returns what `fn` returns.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` when `fn` is not a function; `ERR_DISPOSED`; `ERR_SEALED_KEY_TAMPERED` when the ciphertext does not authenticate; `ERR_WINDOW_CONFLICT` inside a write window; `ERR_ASYNC_CALLBACK` when `fn` returns a Promise; whatever `fn` throws (the window is wiped and closed first)
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * import { createHmac } from 'node:crypto'
   * const key = SealedKey.random(32)
   * const mac = key.read((bytes) => createHmac('sha256', bytes).update('message').digest())
   * console.log(mac.length, key.protections().sealed) // 32 true: decrypted only inside read
   * key.dispose()
   * ```
   */
  read<R>(fn: (bytes: Uint8Array) => SyncResult<R>): R {
    return runSyncWindow(fn, () => this.openRead(), () => this.closeRead())
  }

  /**
   * Runs `fn` with the plaintext writable; on return the key is sealed again under a fresh nonce.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` when `fn` is not a function; `ERR_DISPOSED`; `ERR_SEALED_KEY_TAMPERED` when the ciphertext does not authenticate; `ERR_WINDOW_CONFLICT` while any window is open; `ERR_ASYNC_CALLBACK` when `fn` returns a Promise; whatever `fn` throws (the window is wiped and closed first)
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.from(Buffer.alloc(4))
   * key.write((bytes) => bytes.set([1, 2, 3, 4])) // sealed again under a fresh nonce on return
   * console.log(key.read((bytes) => Array.from(bytes))) // [ 1, 2, 3, 4 ]
   * key.dispose()
   * ```
   */
  write<R>(fn: (bytes: Uint8Array) => SyncResult<R>): R {
    return runSyncWindow(fn, () => this.openWrite(), () => this.closeWrite())
  }

  /**
   * Runs `fn` with the plaintext readable until the promise it returns settles (or `options.timeout` ms pass: the window is then closed, the plaintext wiped, and the promise rejects with `ERR_WINDOW_TIMEOUT`). The rules are ProtKey's `readAsync`.
   * @throws {ContainerError} (as rejections) `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE`; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT`; `ERR_SEALED_KEY_TAMPERED`; `ERR_WINDOW_TIMEOUT`; whatever `fn` throws or rejects with
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.random(32)
   * const first = await key.readAsync(async (bytes) => bytes.length)
   * console.log(first, key.protections().sealed) // 32 true
   * key.dispose()
   * ```
   */
  readAsync<R>(fn: (bytes: Uint8Array) => R | PromiseLike<R>, options?: AsyncWindowOptions): Promise<R> {
    return runAsyncWindow(() => this.reader(), 'read', fn, options, () => this.retireAtClose())
  }

  /**
   * Runs `fn` with the plaintext writable until its promise settles; the key is sealed again when the window closes.
   * @throws {ContainerError} (as rejections) `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE`; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT`; `ERR_WINDOW_TIMEOUT`; `ERR_VIEW_ESCAPED`; whatever `fn` throws or rejects with
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.from(Buffer.alloc(4))
   * await key.writeAsync(async (bytes) => {
   *   await Promise.resolve()
   *   bytes.set([5, 6, 7, 8])
   * })
   * console.log(key.read((bytes) => Array.from(bytes)), key.protections().sealed) // [ 5, 6, 7, 8 ] true
   * key.dispose()
   * ```
   */
  writeAsync<R>(fn: (bytes: Uint8Array) => R | PromiseLike<R>, options?: AsyncWindowOptions): Promise<R> {
    return runAsyncWindow(() => this.writer(), 'write', fn, options, () => this.retireAtClose())
  }

  /**
   * A read window for `await using`, closed (plaintext wiped) when disposed or after `options.timeout` ms.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE`; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT`; `ERR_SEALED_KEY_TAMPERED`
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.random(32)
   * const window = key.readerAsync({ timeout: 1000 })
   * await Promise.resolve()
   * console.log(window.bytes.length, key.windows.readers) // 32 1
   * window.close() // the plaintext is wiped
   * console.log(window.bytes.length, key.windows.readers) // 0 0
   * key.dispose()
   * ```
   */
  readerAsync(options?: AsyncWindowOptions): AsyncWindow {
    return asyncGuard(() => this.reader(), 'read', options, () => this.retireAtClose())
  }

  /**
   * A write window for `await using`; closing it seals the key again.
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE`; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT`
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.from(Buffer.alloc(2))
   * const window = key.writerAsync({ timeout: 1000 })
   * await Promise.resolve()
   * window.bytes.set([9, 9])
   * window.close() // sealed again under a fresh nonce
   * console.log(key.read((bytes) => Array.from(bytes))) // [ 9, 9 ]
   * key.dispose()
   * ```
   */
  writerAsync(options?: AsyncWindowOptions): AsyncWindow {
    return asyncGuard(() => this.writer(), 'write', options, () => this.retireAtClose())
  }

  /**
   * A read window to close by hand or with `using`.
   * @throws {ContainerError} `ERR_DISPOSED`; `ERR_SEALED_KEY_TAMPERED`; `ERR_WINDOW_CONFLICT` while a write window is open
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.random(16)
   * const window = key.reader()
   * console.log(window.bytes.length, key.protections().sealed) // 16 false
   * window.close() // the plaintext is wiped
   * key.dispose()
   * ```
   */
  reader(): Window {
    return this.guard(this.openRead(), 'read')
  }

  /**
   * A write window to close by hand or with `using`; closing it seals the key again.
   * @throws {ContainerError} `ERR_DISPOSED`; `ERR_SEALED_KEY_TAMPERED`; `ERR_WINDOW_CONFLICT` while any window is open
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.from(Buffer.alloc(16))
   * const window = key.writer()
   * window.bytes.fill(9)
   * window.close() // sealed again
   * console.log(key.read((bytes) => bytes[15])) // 9
   * key.dispose()
   * ```
   */
  writer(): Window {
    return this.guard(this.openWrite(), 'write')
  }

  /**
   * Constant-time comparison with another SealedKey, a ProtKey or bytes (a length mismatch returns false at once).
   * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for something that is not a SealedKey, a ProtKey or an ArrayBufferView; `ERR_DISPOSED` when either key is disposed; `ERR_SEALED_KEY_TAMPERED`; `ERR_WINDOW_CONFLICT` while either has a write window open
   * @example
   * ```js
   * import { ProtKey, SealedKey } from '@tarsjs/prot-containers'
   * const sealed = SealedKey.from(Buffer.alloc(32, 1))
   * const plain = ProtKey.from(Buffer.alloc(32, 1))
   * console.log(sealed.equals(plain), sealed.equals(Buffer.alloc(32))) // true false
   * sealed.dispose()
   * plain.dispose()
   * ```
   */
  equals(other: SealedKey | ProtKey | ArrayBufferView): boolean {
    return keyEquals(this, other, other instanceof SealedKey || other instanceof ProtKey, 'a SealedKey, a ProtKey or an ArrayBufferView')
  }

  /**
   * Moves the key into a new ProtKey (decrypted straight into its pages) and disposes this SealedKey.
   * @throws {ContainerError} `ERR_DISPOSED`; `ERR_WINDOW_OPEN` while a window is open; `ERR_SEALED_KEY_TAMPERED`; `ERR_INVALID_ARG_TYPE` for bad options; `ERR_NOT_ISOLATED` for an allocator that cannot protect; allocator errors pass through (this key is then left as it was)
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const sealed = SealedKey.random(32)
   * const key = sealed.unseal()
   * console.log(sealed.disposed, `${key}`) // true ProtKey(32 bytes, no access)
   * key.dispose()
   * ```
   */
  unseal(options?: KeyOptions): ProtKey {
    this.live()
    if (this.#readers > 0 || this.#writer) throw new ContainerError('ERR_WINDOW_OPEN', 'A SealedKey cannot be unsealed while a window is open')
    const key = ProtKey.alloc(this.byteLength, options)
    try {
      key.write((bytes) => this.decryptInto(bytes))
    } catch (err) {
      key.dispose()
      throw err
    }
    this.dispose()
    return key
  }

  /**
   * What the memory actually has: the ciphertext's memory, the open window's, the sealing key's.
   * @throws {ContainerError} `ERR_DISPOSED`
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.random(32)
   * const p = key.protections()
   * console.log(p.sealed, p.window, p.sealingKey.split) // true null true
   * key.dispose()
   * ```
   */
  protections(): SealedProtections {
    const allocation = this.live()
    const open = this.#bytes !== null && this.#window !== null
    const window = open ? windowBufferAllocator().protections(this.#window as Allocation) : null
    return {
      ...this.#allocator.protections(allocation),
      sealed: !open,
      window,
      sealingKey: currentSealingKey().protections()
    }
  }

  /**
   * Wipes and frees the ciphertext now. Idempotent; refused while a window is open.
   * @throws {ContainerError} `ERR_WINDOW_OPEN` while a window is open (nothing is freed; close it and dispose again)
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.random(32)
   * key.dispose()
   * key.dispose() // idempotent
   * console.log(`${key}`) // SealedKey(32 bytes, disposed)
   * ```
   */
  dispose(): void {
    // Disposed once the allocation is freed (by this, or by a purge): if free throws, dispose() can be retried.
    if (this.#allocation.freed) return
    if (this.#readers > 0 || this.#writer) {
      throw new ContainerError('ERR_WINDOW_OPEN', 'A SealedKey cannot be disposed while a window is open')
    }
    this.#allocator.free(this.#allocation)
    // The kept window buffer (zeros between windows) goes with the key.
    if (this.#window !== null) releaseSealedWindow(this.#window)
    this.#window = null
  }

  [Symbol.dispose](): void {
    this.dispose()
  }

  /**
   * A redacted description such as `SealedKey(32 bytes, sealed)`.
   * @throws nothing, disposed or not
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.random(32)
   * console.log(`${key}`) // SealedKey(32 bytes, sealed): never the bytes
   * key.dispose()
   * ```
   */
  toString(): string {
    const state = this.disposed ? 'disposed' : this.#writer ? 'read-write window' : this.#readers > 0 ? 'read window' : 'sealed'
    return `SealedKey(${this.byteLength} bytes, ${state})`
  }

  /**
   * JSON shows the redacted description only.
   * @throws nothing
   * @example
   * ```js
   * import { SealedKey } from '@tarsjs/prot-containers'
   * const key = SealedKey.random(16)
   * console.log(JSON.stringify({ key })) // {"key":"SealedKey(16 bytes, sealed)"}
   * key.dispose()
   * ```
   */
  toJSON(): string {
    return this.toString()
  }

  /** The redacted description for hint 'string' (template literals, `String()`); `ERR_SECRET_COERCION` for 'number' and 'default' (installed by `redactContainer`). */
  declare [Symbol.toPrimitive]: (hint: string) => string
  /** The redacted description (installed by `redactContainer`). */
  declare [inspect.custom]: () => string

  /** A guard over the open window; the key is registered so that an abandoned window is wiped when the key is collected. */
  private guard(bytes: Uint8Array, kind: 'read' | 'write'): Window {
    const token = {}
    const close = kind === 'read' ? () => this.closeRead() : () => this.closeWrite()
    watchAbandoned(this, this.#window as Allocation, token)
    return new WindowGuard('SealedKey', bytes, kind, () => {
      unwatchAbandoned(token)
      close()
    })
  }

  private live(): Allocation {
    if (this.#allocation.freed) throw new ContainerError('ERR_DISPOSED', 'SealedKey has been disposed')
    return this.#allocation
  }

  /** Decrypts the at-rest ciphertext into `into` (exactly byteLength bytes). */
  private decryptInto(into: Uint8Array): void {
    const sealed = loadSealed(this.#allocator, this.live())
    if (!currentSealingKey().open(sealed, into)) throw tampered()
  }

  /**
   * A plaintext window: window memory, decrypted into. The memory is the
   * key's kept buffer when it still has one (see `sealedWindow`), else a new
   * one; `#window` holds it while the window is open and, kept, after.
   */
  private openWindow(): Uint8Array {
    if (opening.has(this)) {
      throw new ContainerError('ERR_WINDOW_CONFLICT', 'This SealedKey is opening a window: its allocator cannot open another one of it meanwhile')
    }
    const slot = sealedWindow(this.#window, this.byteLength)
    this.#window = slot
    const bytes = new Uint8Array(windowBufferAllocator().view(slot))
    openedWindow(slot, bytes)
    opening.add(this)
    try {
      this.decryptInto(bytes)
    } catch (err) {
      this.endWindow(slot, bytes, false)
      throw err
    } finally {
      opening.delete(this)
    }
    this.#bytes = bytes
    return bytes
  }

  /**
   * An async window ran out of time: native work that `fn` started may still
   * hold the plaintext buffer, which is then retired rather than freed (wiped,
   * still mapped, never reused; see window-buffers.ts).
   */
  private retireAtClose(): void {
    this.#retire = true
  }

  /** Wipes the plaintext and detaches its view (or, past an async deadline, retires the buffer). */
  private closeWindow(): void {
    const slot = this.#window
    const bytes = this.#bytes
    const retire = this.#retire
    this.#bytes = null
    this.#retire = false
    if (slot === null || bytes === null) return
    this.endWindow(slot, bytes, retire)
  }

  /** Ends a window on `slot`: wiped and its view detached, kept for the next window if it may be; or retired for good. */
  private endWindow(slot: Allocation, bytes: Uint8Array, retire: boolean): void {
    if (retire) {
      retireWindow(slot, bytes)
      this.#window = null
    } else if (!closeSealedWindow(slot, bytes)) {
      this.#window = null
    }
  }

  private openRead(): Uint8Array {
    this.live()
    if (this.#writer) throw new ContainerError('ERR_WINDOW_CONFLICT', 'Cannot open a read window inside a write window')
    if (this.#readers === 0) this.openWindow()
    this.#readers++
    return this.#bytes as Uint8Array
  }

  private closeRead(): void {
    if (--this.#readers === 0) this.closeWindow()
  }

  private openWrite(): Uint8Array {
    this.live()
    if (this.#writer || this.#readers > 0) {
      throw new ContainerError('ERR_WINDOW_CONFLICT', this.#writer ? 'A write window is already open' : 'Cannot open a write window inside a read window')
    }
    const bytes = this.openWindow()
    this.#writer = true
    return bytes
  }

  /** Seals the new content under a fresh nonce, then wipes the plaintext. */
  private closeWrite(): void {
    this.#writer = false
    let escaped = false
    try {
      const window = this.#window
      const bytes = this.#bytes as Uint8Array
      // After a deadline nothing is sealed: native work may still be writing the plaintext (the key keeps its content).
      if (window !== null && !window.freed && !this.#allocation.freed && !this.#retire) {
        // A view detached or moved out by someone else (transfer()): what was
        // written cannot be read back through the allocator, so nothing is
        // sealed and the key keeps its previous content; write() then throws.
        if (escapedView(bytes)) escaped = true
        else sealInto(freshSealingKey(), bytes, this.#allocator, this.#allocation)
      }
    } finally {
      this.closeWindow()
    }
    if (escaped) {
      throw new ContainerError(
        'ERR_VIEW_ESCAPED',
        "The write window's view was detached or moved out (transfer()) before it closed: nothing was sealed, the key keeps its previous content"
      )
    }
  }
}

function sealedAllocator(value: unknown): Allocator {
  return pickAllocator(value, atRestAllocator)
}

/** Seals a plaintext read into window memory, then frees (wipes) it. */
function sealRead(allocator: Allocator, plaintext: Allocation): SealedKey {
  const plain = windowAllocator()
  try {
    return SealedKey.from(plain.view(plaintext), { allocator })
  } finally {
    plain.free(plaintext)
  }
}

redactContainer(SealedKey.prototype)
refuseBytes(SealedKey.prototype)
