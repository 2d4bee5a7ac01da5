/**
 * Plaintext buffers for SealedKey windows. Each buffer is an allocation of
 * exactly the key's length from an allocator used for nothing else (see
 * windowBufferAllocator), so a window's view is an ArrayBuffer of exactly the
 * key. When a window closes, its buffer is freed at once: wiped natively and
 * its view detached (on Node.js 22+ taken back with transfer() and kept for
 * the slot's next window; page-alloc's "Recycled slot views").
 *
 * Freed, not kept for the next window: native work given a window's bytes
 * (`fs.write`, `crypto.randomFill` with a callback) can still hold the pointer
 * after the close, and must meet zeros, not the next key's plaintext. The
 * allocator's quarantine keeps the freed buffer mapped, read-write and out of
 * reuse for its bound.
 *
 * A view found already detached when its window closes was detached by
 * someone else: `ArrayBuffer.prototype.transfer()` (Node 22+) moves the
 * backing store into an ArrayBuffer nobody tracks. Such a buffer is freed: the
 * allocator wipes it natively and keeps its memory mapped and out of reuse
 * for good, so the escaped ArrayBuffer reads zeros from then on.
 */
import type { Allocation } from '@tarsjs/page-alloc'
import { windowBufferAllocator } from './sealed-allocators.js'

/** A window buffer of `length` bytes and a fresh view of it. */
export function takeWindow(length: number): { allocation: Allocation; bytes: Uint8Array } {
  const buffers = windowBufferAllocator()
  const allocation = buffers.alloc(length)
  return { allocation, bytes: new Uint8Array(buffers.view(allocation)) }
}

/** How many window buffers were retired because their view escaped. */
let escapedCount = 0

/** True when `bytes` was detached by someone else while its window was open. */
export function escapedView(bytes: Uint8Array): boolean {
  return bytes.buffer.byteLength === 0
}

/** Retires a buffer whose view escaped: free wipes it and the allocator never reuses it. */
function retireEscaped(allocation: Allocation): void {
  windowBufferAllocator().free(allocation)
  escapedCount++
}

/** How many window buffers were retired because their view escaped. */
export function escapedWindows(): number {
  return escapedCount
}

/** Frees the buffer (into the allocator's quarantine): wiped natively, `bytes` detached. */
export function returnWindow(allocation: Allocation, bytes: Uint8Array): void {
  if (allocation.freed) return
  if (escapedView(bytes)) {
    retireEscaped(allocation)
    return
  }
  windowBufferAllocator().free(allocation)
}
