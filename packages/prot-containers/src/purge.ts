/**
 * purge(): wipe and free every live container of this thread at once, and
 * catchSignals(): do so when the process is about to end.
 *
 * Every container's allocation is remembered here (the GC backstop calls
 * `remember` when it promotes a young container, see backstop.ts; `purge()`
 * first asks it to promote the young ones, so none is missed). A container
 * disposed in the turn it was made is never remembered at all. Entries
 * already freed are swept out as the list grows, so remembering costs one
 * array element (a pointer) per live container.
 * After a purge each container's allocation is freed, and the container
 * throws `ERR_DISPOSED` like a disposed one.
 *
 * Scope: the calling thread. Each worker thread loads its own copy of this
 * module with its own allocators; a worker's memory can be purged only by
 * that worker. A worker that called `catchSignals()` listens on a
 * BroadcastChannel: when the main thread purges on a signal, an uncaught
 * exception or exit, it asks those workers to purge and waits (bounded) for
 * each to confirm through a shared counter.
 */
import { BroadcastChannel, isMainThread } from 'node:worker_threads'
import type { Allocation } from '@tarsjs/page-alloc'
import { ContainerError } from './errors.js'

let live: Allocation[] = []
let sweepAt = 1024
const hooks: Array<() => void> = []
/** Hands the young containers' allocations to `remember` (set by the backstop). */
let flushYoung: () => void = () => {}

/** @internal Set once by the backstop: `purge()` calls it before it looks at what is remembered. */
export function setYoungFlush(flush: () => void): void {
  flushYoung = flush
}

/** Remembers a container's allocation for `purge()`. */
export function remember(allocation: Allocation): void {
  if (live.length >= sweepAt) {
    live = live.filter((a) => !a.freed)
    sweepAt = Math.max(1024, 2 * live.length)
  }
  live.push(allocation)
}

/** Registers cleanup that `purge()` runs after the containers are freed (sealing keys, open window memory). */
export function onPurge(hook: () => void): void {
  hooks.push(hook)
}

/** What a purge did. */
export interface PurgeResult {
  /** Allocations wiped and freed. */
  freed: number
  /** Allocations whose free threw (their allocator refused); the first error is in `errors`. */
  failed: number
  errors: unknown[]
}

/**
 * Wipes and frees every live ProtBuf, ProtKey and SealedKey of this thread,
 * open windows included, and this thread's sealing key. Never throws: a
 * failure is counted and the purge goes on.
 * @throws nothing: a failure is counted in `failed` and kept in `errors`, and the purge goes on
 * @example
 * ```js
 * import { ProtBuf, ProtKey, purge } from '@tarsjs/prot-containers'
 * const buf = ProtBuf.random(16)
 * const key = ProtKey.random(32)
 * const { freed, failed } = purge() // e.g. in a fatal-error handler
 * console.log(freed >= 2, failed, buf.disposed, key.disposed) // true 0 true true
 * ```
 */
export function purge(): PurgeResult {
  const result: PurgeResult = { freed: 0, failed: 0, errors: [] }
  // Taken out of the list before the frees: an allocator's free that makes a
  // container (still young: flushed at the next round) lands in the next list,
  // purged in turn (a few rounds at most: a free that always makes another
  // cannot hang it).
  for (let round = 0; round < 4; round++) {
    flushYoung()
    if (live.length === 0) break
    const list = live
    live = []
    sweepAt = 1024
    for (const allocation of list) {
      if (allocation.freed) continue
      try {
        allocation.allocator.free(allocation)
        result.freed++
      } catch (err) {
        result.failed++
        if (result.errors.length < 8) result.errors.push(err)
      }
    }
  }
  for (const hook of hooks) {
    try {
      hook()
    } catch (err) {
      result.failed++
      if (result.errors.length < 8) result.errors.push(err)
    }
  }
  return result
}

/** Signals that `catchSignals()` handles. */
export const CAUGHT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/** Options of `catchSignals()`. */
export interface CatchOptions {
  /** Main thread only: how long to wait for listening workers to confirm their purge, in ms. Default 1000. */
  workerTimeoutMs?: number
}

const CHANNEL = 'tarsjs:purge'
let catching: { stop(): void } | undefined
let channel: BroadcastChannel | undefined
let workersListening = 0
let workerTimeoutMs = 1000

interface PurgeRequest {
  type: 'hello' | 'bye' | 'who' | 'purge'
  acks?: SharedArrayBuffer
}

/**
 * Main thread: asks every worker that called `catchSignals()` to purge, and
 * waits until each has confirmed or the timeout has passed. Returns how many
 * confirmed. A worker busy in synchronous code cannot answer in time.
 */
function purgeWorkers(): number {
  if (channel === undefined || workersListening <= 0) return 0
  const acks = new Int32Array(new SharedArrayBuffer(4))
  channel.postMessage({ type: 'purge', acks: acks.buffer } satisfies PurgeRequest)
  const deadline = Date.now() + workerTimeoutMs
  for (;;) {
    const done = Atomics.load(acks, 0)
    const left = deadline - Date.now()
    if (done >= workersListening || left <= 0) return done
    Atomics.wait(acks, 0, done, left)
  }
}

function onMessage(event: unknown): void {
  const request = (event as { data?: PurgeRequest }).data
  if (isMainThread) {
    if (request?.type === 'hello') workersListening++
    else if (request?.type === 'bye') workersListening--
    return
  }
  if (request?.type === 'who') {
    channel?.postMessage({ type: 'hello' } satisfies PurgeRequest)
    return
  }
  if (request?.type !== 'purge' || !(request.acks instanceof SharedArrayBuffer)) return
  purge()
  const acks = new Int32Array(request.acks)
  Atomics.add(acks, 0, 1)
  Atomics.notify(acks, 0)
}

function purgeEverything(): void {
  purge()
  if (isMainThread) purgeWorkers()
}

function onSignal(signal: NodeJS.Signals): void {
  purgeEverything()
  // Ending the process as it would have without us: if nobody else listens,
  // the default action (death by this signal) is taken by re-raising it.
  process.removeListener(signal, onSignal)
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
}

function onUncaught(): void {
  // Only when the exception will end the process (no 'uncaughtException' handler).
  if (process.listenerCount('uncaughtException') === 0) purgeEverything()
}

function onExit(): void {
  purgeEverything()
  if (!isMainThread) channel?.postMessage({ type: 'bye' } satisfies PurgeRequest)
}

/**
 * Purges on SIGINT, SIGTERM and SIGHUP (then re-raises the signal with its
 * default action when no other listener handles it, so the process ends as it
 * would have), before an uncaught exception ends the process (the exception
 * is still printed and the exit code is still 1), and on `exit`. In the main
 * thread each of these also purges the workers that called `catchSignals()`.
 * Idempotent; returns a handle whose `stop()` removes every listener again.
 * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_OUT_OF_RANGE` for a `workerTimeoutMs` that is not an integer from 0 to 60000
 * @example
 * ```js
 * import { catchSignals } from '@tarsjs/prot-containers'
 * const handle = catchSignals({ workerTimeoutMs: 500 }) // once, at startup
 * console.log(process.listenerCount('SIGTERM') >= 1) // true
 * handle.stop()
 * ```
 */
export function catchSignals(options?: CatchOptions): { stop(): void } {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object')
  }
  const timeout = options?.workerTimeoutMs
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0 || timeout > 60000)) {
    throw new ContainerError('ERR_OUT_OF_RANGE', `The "workerTimeoutMs" option must be an integer from 0 to 60000. Received ${String(timeout)}`)
  }
  if (timeout !== undefined) workerTimeoutMs = timeout
  if (catching !== undefined) return catching
  // Signals are delivered to the main thread only; a worker purges on request and on its exit.
  if (isMainThread) for (const signal of CAUGHT_SIGNALS) process.on(signal, onSignal)
  process.on('uncaughtExceptionMonitor', onUncaught)
  process.on('exit', onExit)
  channel = new BroadcastChannel(CHANNEL)
  channel.unref()
  channel.onmessage = onMessage
  // Workers announce themselves; the main thread asks those that started listening before it did.
  channel.postMessage({ type: isMainThread ? 'who' : 'hello' } satisfies PurgeRequest)
  const handle = {
    stop(): void {
      for (const signal of CAUGHT_SIGNALS) process.removeListener(signal, onSignal)
      process.removeListener('uncaughtExceptionMonitor', onUncaught)
      process.removeListener('exit', onExit)
      if (!isMainThread) channel?.postMessage({ type: 'bye' } satisfies PurgeRequest)
      channel?.close()
      channel = undefined
      workersListening = 0
      catching = undefined
    }
  }
  catching = handle
  return handle
}

/** @internal For tests: how many allocations are remembered (freed ones not yet swept included). */
export function rememberedCount(): number {
  return live.length
}
