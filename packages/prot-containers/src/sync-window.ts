/**
 * The sync window of a ProtKey or SealedKey (`read(fn)`, `write(fn)`): the
 * window is open while `fn` runs, closed however it ends, and a callback that
 * returns a Promise is refused, as the key must not stay open across an await.
 */
import { ContainerError, checkFunction } from './errors.js'
import type { SyncResult } from './sync-result.js'

/**
 * Checks `fn`, opens the window, runs `fn` on its bytes and closes the window
 * (also when `fn` throws). A thenable result is refused once the window is closed.
 */
export function runSyncWindow<R>(fn: (bytes: Uint8Array) => SyncResult<R>, open: () => Uint8Array, close: () => void): R {
  checkFunction(fn, 'fn')
  const bytes = open()
  let result: R
  try {
    result = fn(bytes) as R
  } finally {
    close()
  }
  return notThenable(result)
}

/** A window must not stay open across an await: a thenable result is refused (the window is already closed). */
export function notThenable<R>(result: R): R {
  const then = (typeof result === 'object' || typeof result === 'function') && result !== null ? (result as { then?: unknown }).then : undefined
  if (typeof then === 'function') {
    Promise.resolve(result).then(undefined, () => undefined)
    throw new ContainerError('ERR_ASYNC_CALLBACK', 'The window callback returned a Promise; a key must not stay readable across an await. Do the async work outside the window.')
  }
  return result
}
