/**
 * SealedKey: a key kept encrypted at rest. The at-rest memory holds only
 * `nonce | ciphertext | tag` of XChaCha20-Poly1305 under this thread's
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
import { ContainerError, checkFunction, checkLength } from './errors.js'
import { allocOptions, fromOptions, readOptions } from './options.js'
import { sourceBytes } from './source.js'
import { ProtKey } from './prot-key.js'
import type { KeyOptions, Window } from './prot-key.js'
import { onPurge } from './purge.js'
import { readFd, readFile, readStream } from './read-secret.js'
import { atRestAllocator, windowAllocator, windowPageAllocator } from './sealed-allocators.js'
import { SEAL_OVERHEAD, SealingKey, currentSealingKey, replaceSealingKey } from './sealing-key.js'
import type { SealingKeyProtections } from './sealing-key.js'
import { aead } from './sodium.js'
import { escapedView, retireEscaped, returnWindow, takeWindow } from './window-buffers.js'
import { WindowGuard, notThenable } from './window-guard.js'

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

/** Ciphertexts of this thread's live SealedKeys, for rekey(). Freed ones (keys the backstop reclaimed) are swept as the set grows. */
const sealedLive = new Set<Allocation>()
let sweepSealedAt = 1024

function rememberSealed(allocation: Allocation): void {
  if (sealedLive.size >= sweepSealedAt) {
    for (const a of sealedLive) if (a.freed) sealedLive.delete(a)
    sweepSealedAt = Math.max(1024, 2 * sealedLive.size)
  }
  sealedLive.add(allocation)
}
/** Plaintext allocations of open windows and their views, for purge(). */
const openWindows = new Map<Allocation, Uint8Array>()

/**
 * The backstop for a key collected while a guard (`reader()`/`writer()`) was
 * never closed: its window's plaintext is wiped and freed. Each guard
 * registers the key, and unregisters when it is closed.
 */
const abandonedWindows = new FinalizationRegistry<Allocation>((window) => {
  const bytes = openWindows.get(window)
  if (window.freed || bytes === undefined) return
  openWindows.delete(window)
  if (escapedView(bytes)) retireEscaped(window)
  else windowPageAllocator().free(window)
})

onPurge(() => {
  const pages = windowPageAllocator()
  for (const [a, bytes] of openWindows) {
    if (a.freed) continue
    if (escapedView(bytes)) retireEscaped(a)
    else pages.free(a)
  }
  openWindows.clear()
  sealedLive.clear()
})

function tampered(): ContainerError {
  return new ContainerError('ERR_SEALED_KEY_TAMPERED', 'The sealed key does not authenticate: its ciphertext was modified (or sealed under a discarded sealing key)')
}

/** A plaintext slot of `length` bytes in window memory, and its view. */
function plaintextSlot(length: number): { allocation: Allocation; bytes: Uint8Array } {
  const plain = windowAllocator()
  const allocation = plain.alloc(length)
  return { allocation, bytes: new Uint8Array(plain.view(allocation)) }
}

export class SealedKey {
  readonly #allocator: Allocator
  readonly #allocation: Allocation
  readonly #length: number
  #readers = 0
  #writer = false
  #window: Allocation | null = null
  #bytes: Uint8Array | null = null
  #disposed = false

  /** Seals `plaintext` into a new at-rest allocation. */
  private constructor(allocator: Allocator, plaintext: Uint8Array) {
    const sealing = currentSealingKey()
    const allocation = allocator.alloc(plaintext.byteLength + SEAL_OVERHEAD)
    try {
      sealing.seal(plaintext, allocator.view(allocation))
    } catch (err) {
      allocator.free(allocation)
      throw err
    }
    this.#allocator = allocator
    this.#allocation = allocation
    this.#length = plaintext.byteLength
    rememberSealed(allocation)
    track(this, allocation)
  }

  /** `length` random bytes, generated in window memory and sealed at once. */
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

  /** Seals `source` (read in place: no copy is made); with `wipeSource: true` the source is wiped afterwards. */
  static from(source: ArrayBufferView | ArrayBuffer, options?: SealedOptions & { wipeSource?: boolean }): SealedKey {
    // Options first (their getters run once), then the source as it is after them.
    const opts = fromOptions(options)
    const from = sourceBytes(source)
    checkLength(from.byteLength, 'source.byteLength')
    const key = new SealedKey(sealedAllocator(opts.allocator), from)
    try {
      // Throws ERR_REGION_PROTECTED for a read-only source (a ProtKey read window, say).
      if (opts.wipeSource) os.wipe(from)
    } catch (err) {
      key.dispose()
      throw err
    }
    return key
  }

  /** Reads a file descriptor to its end into window memory, seals it and wipes the plaintext. */
  static fromFd(fd: number, options?: SealedReadOptions): SealedKey {
    const opts = readOptions(options)
    const allocator = sealedAllocator(opts.allocator)
    return sealRead(allocator, readFd(windowAllocator(), fd, opts.maxLength))
  }

  /** Reads a whole file into window memory, seals it and wipes the plaintext. */
  static fromFile(path: string | URL, options?: SealedReadOptions): SealedKey {
    const opts = readOptions(options)
    const allocator = sealedAllocator(opts.allocator)
    return sealRead(allocator, readFile(windowAllocator(), path, opts.maxLength))
  }

  /** Consumes a byte stream into window memory (each chunk wiped once copied), then seals it. */
  static async fromStream(stream: Readable, options?: SealedReadOptions): Promise<SealedKey> {
    const opts = readOptions(options)
    const allocator = sealedAllocator(opts.allocator)
    return sealRead(allocator, await readStream(windowAllocator(), stream, opts.maxLength))
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
   */
  static rekey(): RekeyResult {
    const previous = currentSealingKey()
    let longest = 0
    for (const allocation of sealedLive) {
      if (allocation.freed) sealedLive.delete(allocation)
      else longest = Math.max(longest, allocation.byteLength - SEAL_OVERHEAD)
    }
    const next = SealingKey.create()
    const result: RekeyResult = { rekeyed: 0, tampered: 0 }
    if (longest === 0) {
      replaceSealingKey(next)
      return result
    }
    // One plaintext slot for all keys, allocated up front: nothing in the loop allocates.
    const plain = plaintextSlot(longest)
    const done: Allocation[] = []
    try {
      for (const allocation of sealedLive) {
        const sealed = allocation.allocator.view(allocation)
        const bytes = plain.bytes.subarray(0, allocation.byteLength - SEAL_OVERHEAD)
        if (previous.open(sealed, bytes)) {
          next.seal(bytes, sealed)
          done.push(allocation)
        } else {
          result.tampered++
        }
      }
    } catch (err) {
      // Back under the previous key, so that no key is lost, then report.
      for (const allocation of done) {
        const sealed = allocation.allocator.view(allocation)
        const bytes = plain.bytes.subarray(0, allocation.byteLength - SEAL_OVERHEAD)
        if (next.open(sealed, bytes)) previous.seal(bytes, sealed)
      }
      next.dispose()
      throw err
    } finally {
      windowAllocator().free(plain.allocation)
    }
    result.rekeyed = done.length
    replaceSealingKey(next)
    return result
  }

  /**
   * Calls `SealedKey.rekey()` every `ms` milliseconds (the timer does not keep
   * the process alive). Returns a handle whose `stop()` ends it.
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

  /** Length of the secret in bytes (the ciphertext adds 40). */
  get byteLength(): number {
    return this.#length
  }

  /** True once disposed (or purged). */
  get disposed(): boolean {
    return this.#disposed || this.#allocation.freed
  }

  /** The allocator that holds the ciphertext. */
  get allocator(): Allocator {
    return this.#allocator
  }

  /** Open windows: readers and whether a writer is open. */
  get windows(): { readers: number; writer: boolean } {
    return { readers: this.#readers, writer: this.#writer }
  }

  /** Runs `fn` with the plaintext readable; nested reads share the window. Returns what `fn` returns. */
  read<R>(fn: (bytes: Uint8Array) => R): R {
    checkFunction(fn, 'fn')
    const bytes = this.openRead()
    let result: R
    try {
      result = fn(bytes)
    } finally {
      this.closeRead()
    }
    return notThenable(result)
  }

  /** Runs `fn` with the plaintext writable; on return the key is sealed again under a fresh nonce. */
  write<R>(fn: (bytes: Uint8Array) => R): R {
    checkFunction(fn, 'fn')
    const bytes = this.openWrite()
    let result: R
    try {
      result = fn(bytes)
    } finally {
      this.closeWrite()
    }
    return notThenable(result)
  }

  /** A read window to close by hand or with `using`. */
  reader(): Window {
    return this.guard(this.openRead(), 'read')
  }

  /** A write window to close by hand or with `using`; closing it seals the key again. */
  writer(): Window {
    return this.guard(this.openWrite(), 'write')
  }

  /** Constant-time comparison with another SealedKey, a ProtKey or bytes (a length mismatch returns false at once). */
  equals(other: SealedKey | ProtKey | ArrayBufferView): boolean {
    if (other instanceof SealedKey || other instanceof ProtKey) {
      if (other === this) return this.read(() => true)
      return this.read((mine) => other.read((theirs) => mine.byteLength === theirs.byteLength && os.equals(mine, 0, theirs, 0, mine.byteLength)))
    }
    if (!ArrayBuffer.isView(other)) {
      throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "other" argument must be a SealedKey, a ProtKey or an ArrayBufferView')
    }
    const theirs = sourceBytes(other)
    return this.read((mine) => mine.byteLength === theirs.byteLength && os.equals(mine, 0, theirs, 0, mine.byteLength))
  }

  /** Moves the key into a new ProtKey (decrypted straight into its pages) and disposes this SealedKey. */
  unseal(options?: KeyOptions): ProtKey {
    this.live()
    if (this.#readers > 0 || this.#writer) throw new ContainerError('ERR_WINDOW_OPEN', 'A SealedKey cannot be unsealed while a window is open')
    const key = ProtKey.alloc(this.#length, options)
    try {
      key.write((bytes) => this.decryptInto(bytes))
    } catch (err) {
      key.dispose()
      throw err
    }
    this.dispose()
    return key
  }

  /** What the memory actually has: the ciphertext's memory, the open window's, the sealing key's. */
  protections(): SealedProtections {
    const allocation = this.live()
    const window = this.#window === null ? null : windowPageAllocator().protections(this.#window)
    return {
      ...this.#allocator.protections(allocation),
      sealed: this.#window === null,
      window,
      sealingKey: currentSealingKey().protections()
    }
  }

  /** Wipes and frees the ciphertext now. Idempotent; refused while a window is open. */
  dispose(): void {
    if (this.#allocation.freed) this.#disposed = true
    if (this.#disposed) return
    if (this.#readers > 0 || this.#writer) {
      throw new ContainerError('ERR_WINDOW_OPEN', 'A SealedKey cannot be disposed while a window is open')
    }
    this.#allocator.free(this.#allocation)
    this.#disposed = true
    sealedLive.delete(this.#allocation)
  }

  [Symbol.dispose](): void {
    this.dispose()
  }

  /** A redacted description such as `SealedKey(32 bytes, sealed)`. */
  toString(): string {
    const state = this.disposed ? 'disposed' : this.#writer ? 'read-write window' : this.#readers > 0 ? 'read window' : 'sealed'
    return `SealedKey(${this.#length} bytes, ${state})`
  }

  toJSON(): string {
    return this.toString()
  }

  [Symbol.toPrimitive](): string {
    return this.toString()
  }

  [inspect.custom](): string {
    return this.toString()
  }

  /** A guard over the open window; the key is registered so that an abandoned window is wiped when the key is collected. */
  private guard(bytes: Uint8Array, kind: 'read' | 'write'): Window {
    const token = {}
    const close = kind === 'read' ? () => this.closeRead() : () => this.closeWrite()
    abandonedWindows.register(this, this.#window as Allocation, token)
    return new WindowGuard('SealedKey', bytes, kind, () => {
      abandonedWindows.unregister(token)
      close()
    })
  }

  private live(): Allocation {
    if (this.#disposed || this.#allocation.freed) throw new ContainerError('ERR_DISPOSED', 'SealedKey has been disposed')
    return this.#allocation
  }

  /** Decrypts the at-rest ciphertext into `into` (exactly byteLength bytes). */
  private decryptInto(into: Uint8Array): void {
    const sealed = this.#allocator.view(this.live())
    if (!currentSealingKey().open(sealed, into)) throw tampered()
  }

  /** A plaintext window: window memory, decrypted into. */
  private openWindow(): Uint8Array {
    const plain = takeWindow(this.#length)
    try {
      this.decryptInto(plain.bytes)
    } catch (err) {
      returnWindow(plain.allocation, plain.bytes)
      throw err
    }
    this.#window = plain.allocation
    openWindows.set(plain.allocation, plain.bytes)
    this.#bytes = plain.bytes
    return plain.bytes
  }

  /** Wipes the plaintext and detaches its view. */
  private closeWindow(): void {
    const window = this.#window
    const bytes = this.#bytes
    this.#window = null
    this.#bytes = null
    if (window === null || bytes === null) return
    openWindows.delete(window)
    returnWindow(window, bytes)
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
      if (window !== null && !window.freed && !this.#allocation.freed) {
        // A view detached or moved out by someone else (transfer()): what was
        // written cannot be read back through the allocator, so nothing is
        // sealed and the key keeps its previous content; write() then throws.
        if (escapedView(bytes)) escaped = true
        else currentSealingKey().seal(bytes, this.#allocator.view(this.#allocation))
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
