/**
 * Async windows of a key (ProtKey, SealedKey): `readAsync(fn)`,
 * `writeAsync(fn)` and the `await using` guards `readerAsync()` /
 * `writerAsync()`.
 *
 * An async window is an ordinary window (same reader counting, same
 * exclusive writer, same conflicts: a write window is refused while any
 * window is open, never queued) that stays open until the promise of `fn`
 * settles — or until its maximum duration runs out. Then it is closed and
 * the promise rejects with `ERR_WINDOW_TIMEOUT`. Native work that `fn` started
 * may still hold the window's bytes at that moment (a `crypto.randomFill` or an
 * `fs.write` in the thread pool), so a timed-out window is closed without
 * pulling memory from under it: its window memory (a copy of the key; the
 * key's own pages are never readable) is wiped and *retired*: its view stays
 * attached and reads zeros, and the memory is never reused, so no later key's
 * plaintext can reach that work. A write window writes nothing back (native
 * work may still be writing): the key keeps its previous content.
 * Whatever `fn` still does afterwards meets zeros (or a detached view), never
 * the key.
 */
import { inspect } from 'node:util'
import { ContainerError, checkFunction } from './errors.js'
import type { Window } from './prot-key.js'
import { refuseCoercion } from './misuse.js'

/** Longest an async window stays open unless `timeout` says otherwise: 10 seconds. */
export const DEFAULT_WINDOW_TIMEOUT = 10_000

/** Largest `timeout` a timer can hold (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMEOUT = 2 ** 31 - 1

/** Options of the async windows. */
export interface AsyncWindowOptions {
  /** Milliseconds after which the window is closed and the promise rejects with `ERR_WINDOW_TIMEOUT`. Default {@link DEFAULT_WINDOW_TIMEOUT}. */
  timeout?: number
}

/** A window opened by `readerAsync()` / `writerAsync()`, closed by `await using` (or `close()`). */
export interface AsyncWindow {
  /** The key's bytes while the window is open; once it closed, length 0 (or, past its deadline, retired window memory that reads zeros). */
  readonly bytes: Uint8Array
  /** True once closed, by hand or by its timeout. */
  readonly closed: boolean
  /** True when the timeout closed the window before its owner did. */
  readonly expired: boolean
  /** Closes the window; idempotent. Never throws for an expired window. */
  close(): void
  /** Closes the window; rejects with `ERR_WINDOW_TIMEOUT` when the timeout closed it first. */
  [Symbol.asyncDispose](): Promise<void>
}

/** The validated `timeout` of an options object. */
export function windowTimeout(options: AsyncWindowOptions | undefined): number {
  if (options === undefined) return DEFAULT_WINDOW_TIMEOUT
  if (typeof options !== 'object' || options === null) {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be an object')
  }
  const timeout = options.timeout
  if (timeout === undefined) return DEFAULT_WINDOW_TIMEOUT
  if (typeof timeout !== 'number') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "options.timeout" property must be of type number')
  }
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_TIMEOUT) {
    throw new ContainerError('ERR_OUT_OF_RANGE', `The value of "options.timeout" must be an integer from 1 to ${MAX_TIMEOUT} (milliseconds). Received ${String(timeout)}`)
  }
  return timeout
}

function timeoutError(kind: 'read' | 'write', timeout: number): ContainerError {
  return new ContainerError(
    'ERR_WINDOW_TIMEOUT',
    `The async ${kind} window was still open after ${timeout} ms: it was closed (the window's bytes no longer hold the key` +
      (kind === 'write' ? '; nothing was written back, the key keeps its previous content). ' : '). ') +
      'Finish the work within the window or pass a longer { timeout }.'
  )
}

/**
 * An open window with a deadline. When the deadline passes first, the inner
 * window is closed and `onExpire` gets the `ERR_WINDOW_TIMEOUT` error.
 */
class TimedWindow implements AsyncWindow {
  readonly #inner: Window
  readonly #kind: 'read' | 'write'
  readonly #timeout: number
  readonly #timer: ReturnType<typeof setTimeout>
  #expired: unknown = null

  constructor(
    inner: Window,
    kind: 'read' | 'write',
    timeout: number,
    keepAlive: boolean,
    beforeExpire: () => void,
    onExpire: (err: unknown) => void
  ) {
    this.#inner = inner
    this.#kind = kind
    this.#timeout = timeout
    this.#timer = setTimeout(() => {
      if (this.#inner.closed) return
      let err: unknown = timeoutError(this.#kind, this.#timeout)
      try {
        // fn may still have native work in flight on the window's bytes: the owner closes this
        // window so that such work sees zeros instead of a page it can no longer access.
        beforeExpire()
        this.#inner.close()
      } catch (closeErr) {
        // A SealedKey writer whose view escaped: nothing was sealed, which is the error to report.
        err = closeErr
      }
      this.#expired = err
      onExpire(err)
    }, timeout)
    // readAsync's promise always settles, so its timer keeps the process alive until then; a
    // forgotten guard must not keep the process alive (at exit the memory goes with it).
    if (!keepAlive) this.#timer.unref()
  }

  get bytes(): Uint8Array {
    return this.#inner.bytes
  }

  get closed(): boolean {
    return this.#inner.closed
  }

  get expired(): boolean {
    return this.#expired !== null
  }

  close(): void {
    clearTimeout(this.#timer)
    this.#inner.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
    if (this.#expired !== null) throw this.#expired
  }

  toString(): string {
    return `async ${String(this.#inner)}`
  }

  toJSON(): string {
    return this.toString()
  }

  [inspect.custom](): string {
    return this.toString()
  }
}

refuseCoercion(TimedWindow.prototype)

/**
 * Opens `open()` with a deadline, for `await using`.
 * @internal used by ProtKey and SealedKey
 */
export function asyncGuard(
  open: () => Window,
  kind: 'read' | 'write',
  options: AsyncWindowOptions | undefined,
  beforeExpire: () => void = noop
): AsyncWindow {
  const timeout = windowTimeout(options)
  return new TimedWindow(open(), kind, timeout, false, beforeExpire, noop)
}

function noop(): void {}

/**
 * Runs `fn` in a window that stays open until its promise settles (or the
 * timeout closes it). Never throws: every error is a rejection.
 * @internal used by ProtKey and SealedKey
 */
export function runAsyncWindow<R>(
  open: () => Window,
  kind: 'read' | 'write',
  fn: (bytes: Uint8Array) => R | PromiseLike<R>,
  options: AsyncWindowOptions | undefined,
  beforeExpire: () => void = noop
): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    checkFunction(fn, 'fn')
    const timeout = windowTimeout(options)
    let settled = false
    const window = new TimedWindow(open(), kind, timeout, true, beforeExpire, (err) => {
      settled = true
      reject(err)
    })
    const finish = (ok: boolean, value: unknown): void => {
      if (settled) return
      settled = true
      try {
        window.close()
      } catch (err) {
        // Closing failed (a SealedKey writer whose view escaped): that is the error to report.
        reject(err)
        return
      }
      if (ok) resolve(value as R)
      else reject(value)
    }
    let result: R | PromiseLike<R>
    try {
      result = fn(window.bytes)
    } catch (err) {
      finish(false, err)
      return
    }
    Promise.resolve(result).then(
      (value) => finish(true, value),
      (err: unknown) => finish(false, err)
    )
  })
}
