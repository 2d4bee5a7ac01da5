/**
 * Plaintext buffers for SealedKey windows. Each buffer is a page-allocator
 * allocation of exactly the key's length (its own guarded, locked, no-dump,
 * wipe-on-fork pages), so a window's view is an ArrayBuffer of exactly the
 * key. When a window closes, its buffer is wiped and the view detached at
 * once; the wiped buffer is kept for the next window of the same length (a
 * few per length), which saves an allocation and a free on every window.
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

/** Wipes the buffer and detaches `bytes`; keeps the buffer for reuse or frees it. */
export function returnWindow(allocation: Allocation, bytes: Uint8Array): void {
  if (allocation.freed) return
  const pages = windowPageAllocator()
  // A store to external memory: the compiler cannot drop it.
  bytes.fill(0)
  // A view moved out by transfer() cannot be detached or wiped through `bytes`:
  // free wipes the memory natively and keeps it out of reuse.
  if (!pages.dropView(allocation)) {
    pages.free(allocation)
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
