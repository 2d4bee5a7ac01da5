/**
 * A protected buffer that grows as a secret is read into it, so that what a
 * read costs follows the secret's length, not `maxLength`.
 *
 * It starts at `INITIAL_CAPACITY` bytes (or `maxLength`, when smaller). When a
 * write needs more room it moves to a new allocation of twice the capacity (or
 * what the write needs, at most `maxLength`): the bytes go from the old
 * allocation to the new one in native code (os-memlock `copy`, never through
 * the JavaScript heap) and the old allocation is freed, which wipes it.
 *
 * `finish()` hands over an allocation of exactly the content's length: the
 * buffer itself when it is exactly full, else a new one (the rest is freed).
 * Every other exit must call `discard()`, which frees (and wipes) what is held.
 */
import os = require('@tarsjs/os-memlock')
import type { Allocation, Allocator } from '@tarsjs/page-alloc'
import { ContainerError } from './errors.js'
import { copyInto } from './source.js'

/** First capacity: a 32-byte key costs one slot or one page, never `maxLength`. */
export const INITIAL_CAPACITY = 1024

/** The error for input longer than `maxLength`. */
export function tooLong(maxLength: number): ContainerError {
  return new ContainerError('ERR_SECRET_TOO_LONG', `The secret is longer than maxLength (${maxLength} bytes)`)
}

export class GrowingBuffer {
  readonly #allocator: Allocator
  readonly #maxLength: number
  #allocation: Allocation | null
  #length = 0

  constructor(allocator: Allocator, maxLength: number) {
    this.#allocator = allocator
    this.#maxLength = maxLength
    this.#allocation = allocator.alloc(Math.min(INITIAL_CAPACITY, maxLength))
  }

  /** Bytes held so far. */
  get length(): number {
    return this.#length
  }

  /**
   * The free room after the content, to read into; grown first when full.
   * Empty once `maxLength` bytes are held. Call `advance(n)` after writing.
   */
  room(): Uint8Array {
    if (this.#length === this.held().byteLength && this.#length < this.#maxLength) this.grow(this.#length + 1)
    return this.bytes().subarray(this.#length)
  }

  /** Counts `n` bytes just written into `room()`. */
  advance(n: number): void {
    this.#length += n
  }

  /** Copies `chunk` after the content; more than `maxLength` bytes in all is `ERR_SECRET_TOO_LONG`. */
  append(chunk: Uint8Array): void {
    const n = chunk.byteLength
    const needed = this.#length + n
    if (needed > this.#maxLength) throw tooLong(this.#maxLength)
    if (needed > this.held().byteLength) this.grow(needed)
    // Growing ran the allocator's code: copyInto refuses a chunk that changed length meanwhile.
    copyInto(chunk, this.bytes().subarray(this.#length, needed), n)
    this.#length = needed
  }

  /** The content's byte at `index` (a number, read from the protected memory). */
  at(index: number): number {
    return this.bytes()[index] as number
  }

  /**
   * Where `needle` first starts in the content at or after `from`, or -1. Searched in native
   * code over a Buffer view of the protected memory (no copy).
   */
  indexOf(needle: Uint8Array, from: number): number {
    const bytes = this.bytes()
    return Buffer.from(bytes.buffer, bytes.byteOffset, this.#length).indexOf(needle, from)
  }

  /** Keeps the first `length` bytes of the content; the bytes after them are wiped. */
  truncate(length: number): void {
    if (length >= this.#length) return
    os.wipe(this.bytes().subarray(length, this.#length))
    this.#length = length
  }

  /** The content in an allocation of exactly its length. Empty content is `ERR_OUT_OF_RANGE`. */
  finish(): Allocation {
    const scratch = this.held()
    if (this.#length === 0) throw new ContainerError('ERR_OUT_OF_RANGE', 'The secret is empty')
    if (this.#length === scratch.byteLength) {
      this.#allocation = null
      return scratch
    }
    const exact = this.moveTo(this.#length)
    this.#allocation = null
    this.#allocator.free(scratch)
    return exact
  }

  /** Frees (and so wipes) what is held, unless `finish()` handed it over. Idempotent. */
  discard(): void {
    const held = this.#allocation
    this.#allocation = null
    if (held !== null) this.#allocator.free(held)
  }

  /** Moves to a new allocation of at least `needed` bytes: twice the capacity, at most `maxLength`. */
  private grow(needed: number): void {
    const old = this.held()
    const next = this.moveTo(Math.min(this.#maxLength, Math.max(needed, old.byteLength * 2)))
    this.#allocation = next
    this.#allocator.free(old)
  }

  /** A new allocation of `capacity` bytes holding a native copy of the content. */
  private moveTo(capacity: number): Allocation {
    const next = this.#allocator.alloc(capacity)
    try {
      if (this.#length > 0) os.copy(this.bytes(), 0, new Uint8Array(this.#allocator.view(next)), 0, this.#length)
    } catch (err) {
      this.#allocator.free(next)
      throw err
    }
    return next
  }

  private bytes(): Uint8Array {
    return new Uint8Array(this.#allocator.view(this.held()))
  }

  private held(): Allocation {
    if (this.#allocation === null) throw new ContainerError('ERR_DISPOSED', 'The read buffer was already handed over or freed')
    return this.#allocation
  }
}
