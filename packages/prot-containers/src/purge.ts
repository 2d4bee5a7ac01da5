/**
 * purge(): wipe and free every live container of this thread at once, and
 * catchSignals(): do so when the process is about to end.
 *
 * Every container's allocation is remembered here when it is made (the GC
 * backstop's `track` calls `remember`). Entries already freed are swept out
 * as the set grows, so remembering costs one Set entry per live container.
 * After a purge each container's allocation is freed, and the container
 * throws `ERR_DISPOSED` like a disposed one.
 *
 * Scope: the calling thread. Each worker thread loads its own copy of this
 * module with its own allocators; a worker's memory can be purged only by
 * that worker (call `purge()` there, or `catchSignals()` in the worker to
 * purge on its `exit`).
 */
import type { Allocation } from '@tarsjs/page-alloc'

const live = new Set<Allocation>()
let sweepAt = 1024
const hooks: Array<() => void> = []

/** Remembers a container's allocation for `purge()`. */
export function remember(allocation: Allocation): void {
  if (live.size >= sweepAt) {
    for (const a of live) if (a.freed) live.delete(a)
    sweepAt = Math.max(1024, 2 * live.size)
  }
  live.add(allocation)
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
 */
export function purge(): PurgeResult {
  const result: PurgeResult = { freed: 0, failed: 0, errors: [] }
  for (const allocation of live) {
    if (allocation.freed) continue
    try {
      allocation.allocator.free(allocation)
      result.freed++
    } catch (err) {
      result.failed++
      if (result.errors.length < 8) result.errors.push(err)
    }
  }
  live.clear()
  sweepAt = 1024
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

let catching: { stop(): void } | undefined

function onSignal(signal: NodeJS.Signals): void {
  purge()
  // Ending the process as it would have without us: if nobody else listens,
  // the default action (death by this signal) is taken by re-raising it.
  process.removeListener(signal, onSignal)
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
}

function onUncaught(): void {
  // Only when the exception will end the process (no 'uncaughtException' handler).
  if (process.listenerCount('uncaughtException') === 0) purge()
}

function onExit(): void {
  purge()
}

/**
 * Purges on SIGINT, SIGTERM and SIGHUP (then re-raises the signal with its
 * default action when no other listener handles it, so the process ends as it
 * would have), before an uncaught exception ends the process (the exception
 * is still printed and the exit code is still 1), and on `exit`. Idempotent;
 * returns a handle whose `stop()` removes every listener again.
 */
export function catchSignals(): { stop(): void } {
  if (catching !== undefined) return catching
  for (const signal of CAUGHT_SIGNALS) process.on(signal, onSignal)
  process.on('uncaughtExceptionMonitor', onUncaught)
  process.on('exit', onExit)
  const handle = {
    stop(): void {
      for (const signal of CAUGHT_SIGNALS) process.removeListener(signal, onSignal)
      process.removeListener('uncaughtExceptionMonitor', onUncaught)
      process.removeListener('exit', onExit)
      catching = undefined
    }
  }
  catching = handle
  return handle
}

/** @internal For tests: how many allocations are remembered (freed ones not yet swept included). */
export function rememberedCount(): number {
  return live.size
}

