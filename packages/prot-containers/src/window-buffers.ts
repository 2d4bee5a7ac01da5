/**
 * Plaintext buffers for SealedKey windows. Each buffer is a page-allocator
 * allocation of exactly the key's length (its own guarded, locked, no-dump,
 * wipe-on-fork pages), so a window's view is an ArrayBuffer of exactly the
 * key. When a window closes, its buffer is wiped, the view detached and the
 * buffer freed at once.
 *
 * Freed, not kept for the next window: native work given a window's bytes
 * (`fs.write`, `crypto.randomFill` with a callback) can still hold the pointer
 * after the close, and must meet zeros, not the next key's plaintext. The page
 * allocator's quarantine keeps the freed buffer mapped, read-write and out of
 * reuse for its bound (see windowPageAllocator), and its cache makes the next
 * allocation of that size cheap.
 *
 * A view found already detached when its window closes was detached by
 * someone else: `ArrayBuffer.prototype.transfer()` (Node 22+) moves the
 * backing store into an ArrayBuffer nobody tracks. Such a buffer is freed: the
 * page allocator wipes it natively and keeps its pages mapped and out of reuse
 * for good, so the escaped ArrayBuffer reads zeros from then on.
 */
import type { Allocation } from '@tarsjs/page-alloc'
import { windowPageAllocator } from './sealed-allocators.js'

/** A window buffer of `length` bytes and a fresh view of it. */
export function takeWindow(length: number): { allocation: Allocation; bytes: Uint8Array } {
  const pages = windowPageAllocator()
  const allocation = pages.alloc(length)
  return { allocation, bytes: new Uint8Array(pages.view(allocation)) }
}

/** How many window buffers were retired because their view escaped. */
let escapedCount = 0

/** True when `bytes` was detached by someone else while its window was open. */
export function escapedView(bytes: Uint8Array): boolean {
  return bytes.buffer.byteLength === 0
}

/** Retires a buffer whose view escaped: free wipes it and the allocator never reuses it. */
export function retireEscaped(allocation: Allocation): void {
  windowPageAllocator().free(allocation)
  escapedCount++
}

/** How many window buffers were retired because their view escaped. */
export function escapedWindows(): number {
  return escapedCount
}

/** Wipes the buffer, detaches `bytes` and frees the buffer (into the page allocator's quarantine). */
export function returnWindow(allocation: Allocation, bytes: Uint8Array): void {
  if (allocation.freed) return
  if (escapedView(bytes)) {
    retireEscaped(allocation)
    return
  }
  const pages = windowPageAllocator()
  // A store to external memory: the compiler cannot drop it.
  bytes.fill(0)
  // The allocator's own detach; false only if the view escaped after the check above.
  if (!pages.dropView(allocation)) {
    retireEscaped(allocation)
    return
  }
  pages.free(allocation)
}
