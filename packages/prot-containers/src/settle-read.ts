/**
 * The last step of every read of a secret into a GrowingBuffer: hand over
 * exactly what was read, or free and wipe it and report the first failure.
 */
import type { Allocation } from '@tarsjs/page-alloc'
import type { GrowingBuffer } from './growing-buffer.js'

/**
 * With no failure, resolves with the allocation of exactly what was read;
 * otherwise (or when handing it over fails) frees and wipes what was read,
 * runs `onFailure` (for example to destroy the source) and rejects with the
 * first failure.
 */
export function settleRead(
  buffer: GrowingBuffer,
  failure: unknown,
  resolve: (allocation: Allocation) => void,
  reject: (err: unknown) => void,
  onFailure?: () => void
): void {
  if (failure === null) {
    try {
      resolve(buffer.finish())
      return
    } catch (e) {
      failure = e
    }
  }
  buffer.discard()
  onFailure?.()
  reject(failure)
}
