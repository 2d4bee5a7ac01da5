/**
 * Plaintext buffers for SealedKey windows. Each buffer is a page-allocator
 * allocation of exactly the key's length (its own guarded, locked, no-dump,
 * wipe-on-fork pages), so a window's view is an ArrayBuffer of exactly the
 * key. When a window closes, its buffer is wiped and the view detached at
 * once; the wiped buffer is kept for the next window of the same length (a
 * few per length), which saves an allocation and a free on every window.
 *
 * A view found already detached when its window closes was detached by
 * someone else: `ArrayBuffer.prototype.transfer()` (Node 22+) moves the
 * backing store into an ArrayBuffer nobody tracks. Such a buffer is freed: the
 * page allocator wipes it natively and keeps its pages mapped and out of reuse
 * for good, so the escaped ArrayBuffer reads zeros from then on.
 */
import type { Allocation } from '@tarsjs/page-alloc'
import { windowPageAllocator } from './sealed-allocators.js'

/** Wiped buffers with no view, by length. */
const spare = new Map<number, Allocation[]>()
const SPARE_PER_LENGTH = 2

/** A window buffer of `length` bytes and a fresh view of it. */
export function takeWindow(length: number): { allocation: Allocation; bytes: Uint8Array } {
  const pages = windowPageAllocator()
  const allocation = spare.get(length)?.pop() ?? pages.alloc(length)
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

/** Wipes the buffer and detaches `bytes`; keeps the buffer for reuse or frees it. */
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
  let list = spare.get(allocation.byteLength)
  if (list === undefined) {
    list = []
    spare.set(allocation.byteLength, list)
  }
  if (list.length < SPARE_PER_LENGTH) list.push(allocation)
  else pages.free(allocation)
}

/** Frees every spare buffer (after a purge). */
export function dropSpareWindows(): void {
  const pages = windowPageAllocator()
  for (const list of spare.values()) for (const a of list) if (!a.freed) pages.free(a)
  spare.clear()
}
