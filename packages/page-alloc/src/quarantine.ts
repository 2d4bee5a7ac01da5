/**
 * Quarantine of freed memory: a first-in first-out queue that keeps wiped
 * memory away from new secrets for a while, so that a holder the allocator
 * cannot detach (a thread-pool request, a native call still running) reads and
 * writes zeros instead of the next secret.
 *
 * An entry leaves the queue (and is handed to `release`, which makes it
 * reusable) once both hold:
 * - at least one turn of the event loop has passed since it was freed, and
 * - at least `frees` later frees have entered the queue after it.
 * When the queue holds more than `bytes`, the oldest entries leave at once,
 * in the same turn, so a synchronous free loop cannot grow memory without
 * limit. With `freesFirst` that bound waives only the turn: an entry still
 * waits for `frees` later frees, so at most `max(bytes, frees entries)` is
 * held (the slot allocator's, whose entries are at most 2 KiB); without it
 * (the page allocator's, whose entries can be any size) it waives both.
 */
// node:timers, not the global: fake timers in a user's tests replace only the global.
import { setImmediate } from 'node:timers'
import { AllocError } from './errors.js'
import { intOption } from './policy.js'

/** The bounds of a quarantine (see `Quarantine`). */
export interface QuarantineOptions {
  /** Later frees an entry waits for (besides one event-loop turn). */
  frees?: number
  /** Most bytes held; beyond it the oldest entries are released at once. */
  bytes?: number
}

export interface QuarantineLimits {
  readonly frees: number
  readonly bytes: number
}

/**
 * Reads a `quarantine` option once: undefined, or a frozen copy of its two
 * bounds as given (each getter runs once), so that an allocator and the one
 * it builds inside see the same values. Not an object: `ERR_INVALID_ARG_TYPE`.
 */
export function quarantineOption(value: unknown): QuarantineOptions | undefined {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object') {
    throw new AllocError('ERR_INVALID_ARG_TYPE', 'The "quarantine" option must be of type object')
  }
  const o = value as QuarantineOptions
  const frees = o.frees
  const bytes = o.bytes
  return Object.freeze({ frees, bytes })
}

/** Validates a `quarantine` option: an object or undefined, each bound an integer. */
export function quarantineLimits(value: unknown, fallback: QuarantineLimits): QuarantineLimits {
  const o = quarantineOption(value)
  if (o === undefined) return fallback
  return {
    frees: intOption('quarantine.frees', o.frees, 0, 1 << 20, fallback.frees),
    bytes: intOption('quarantine.bytes', o.bytes, 0, 2 ** 30, fallback.bytes)
  }
}

export class Quarantine<T> {
  readonly #limits: QuarantineLimits
  readonly #release: (entry: T) => void
  readonly #freesFirst: boolean
  #entries: T[] = []
  #sizes: number[] = []
  #turns: number[] = []
  #head = 0
  #bytes = 0
  #turn = 0
  #tickPending = false
  readonly #onTick = (): void => {
    this.#tickPending = false
    this.#turn++
    this.#drain()
  }

  /** `release` makes an entry reusable; it must not throw. */
  constructor(limits: QuarantineLimits, release: (entry: T) => void, freesFirst = false) {
    this.#limits = limits
    this.#release = release
    this.#freesFirst = freesFirst
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes
  }

  /** Entries held now. */
  get length(): number {
    return this.#entries.length - this.#head
  }

  /** Calls `fn` on every entry held, oldest first (the entries stay held). */
  forEach(fn: (entry: T) => void): void {
    for (let i = this.#head; i < this.#entries.length; i++) fn(this.#entries[i] as T)
  }

  /** Queues a freed (already wiped) entry of `size` bytes, then releases what is due. */
  add(entry: T, size: number): void {
    this.#entries.push(entry)
    this.#sizes.push(size)
    this.#turns.push(this.#turn)
    this.#bytes += size
    if (!this.#tickPending) {
      this.#tickPending = true
      setImmediate(this.#onTick).unref()
    }
    this.#drain()
  }

  #drain(): void {
    const { frees, bytes } = this.#limits
    while (this.#head < this.#entries.length) {
      const enough = this.#entries.length - this.#head - 1 >= frees
      const turned = (this.#turns[this.#head] as number) < this.#turn
      const over = this.#bytes > bytes
      const due = this.#freesFirst ? enough && (turned || over) : (enough && turned) || over
      if (!due) break
      const entry = this.#entries[this.#head] as T
      this.#bytes -= this.#sizes[this.#head] as number
      this.#entries[this.#head] = undefined as T
      this.#head++
      this.#release(entry)
    }
    if (this.#head > 256 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head)
      this.#sizes = this.#sizes.slice(this.#head)
      this.#turns = this.#turns.slice(this.#head)
      this.#head = 0
    }
  }
}
