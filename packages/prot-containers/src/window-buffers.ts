/**
 * Plaintext buffers for the windows of ProtKey and SealedKey. A window's bytes
 * are a copy in this memory, never a view of the key's own pages (which stay
 * no-access for ProtKey, ciphertext for SealedKey). Each buffer is an allocation of
 * exactly the key's length from an allocator used for nothing else (see
 * windowBufferAllocator), so a window's view is an ArrayBuffer of exactly the
 * key. When a window closes, its buffer is freed at once: wiped natively and
 * its view detached (on Node.js 22+ taken back with transfer() and kept for
 * the slot's next window; page-alloc's "Recycled slot views").
 *
 * Native work given a window's bytes (`fs.write`, `crypto.randomFill` with a
 * callback) can still hold the pointer after the close. A ProtKey keeps one
 * buffer for its life (`keepKeyWindow`): late work on it only ever meets that
 * key's own bytes. A SealedKey, of which there may be thousands, keeps its
 * buffer only while it is among the `KEPT_SEALED` most recently opened keys
 * of the thread (`sealedWindow`), and only when it fits a slot (half a page):
 * a buffer pushed out of that list, or a larger key's at every close, is
 * freed into the allocator's quarantine, which keeps it mapped, read-write,
 * zeros and out of reuse for its bound (one turn and 4 later frees); work
 * that outlives that can meet another key's plaintext (docs/threat-model.md).
 *
 * A view found already detached when its window closes was detached by
 * someone else: `ArrayBuffer.prototype.transfer()` (Node 22+) moves the
 * backing store into an ArrayBuffer nobody tracks. Such a buffer is freed: the
 * allocator wipes it natively and keeps its memory mapped and out of reuse
 * for good, so the escaped ArrayBuffer reads zeros from then on. So is a
 * buffer whose async window ran out of time (`retireWindow`): native work
 * that `fn` started may hold it for longer than any quarantine.
 *
 * Every open buffer is known here, for `purge()` (which wipes them all) and
 * for the backstop of a key collected with a guard (`reader()`) never closed.
 */
import os = require('@tarsjs/os-memlock')
import { PAGE_SIZE } from '@tarsjs/page-alloc'
import type { Allocation } from '@tarsjs/page-alloc'
import { windowBufferAllocator } from './sealed-allocators.js'
import { onPurge } from './purge.js'

/** An open window's buffer and its view. */
export interface WindowBuffer {
  readonly allocation: Allocation
  readonly bytes: Uint8Array
}

/** Buffers of open windows (with their views) and ProtKeys' window memory (null), for purge() and the backstop. */
const openWindows = new Map<Allocation, Uint8Array | null>()

/**
 * The backstop for a key collected while a guard (`reader()`/`writer()`) was
 * never closed: its window's plaintext is wiped and freed. Each guard
 * registers its key (`watchAbandoned`) and unregisters when it is closed.
 */
const abandonedWindows = new FinalizationRegistry<Allocation>((allocation) => {
  const bytes = openWindows.get(allocation)
  if (bytes !== undefined) returnWindow(allocation, bytes)
})

/**
 * A ProtKey's own window memory, kept for the key's life and wiped between
 * its windows: a native holder of one window's bytes (an `fs.write` queued in
 * the window) can then only ever meet this key's bytes, never another key's,
 * however late it runs. Freed with `releaseKeyWindow` (dispose), by purge(),
 * or by the backstop when `owner` is collected undisposed.
 */
export function keepKeyWindow(owner: object, length: number): Allocation {
  const allocation = windowBufferAllocator().alloc(length)
  openWindows.set(allocation, null)
  abandonedWindows.register(owner, allocation, allocation)
  return allocation
}

/** Frees a key's window memory (into the allocator's quarantine): wiped natively, its view detached. */
export function releaseKeyWindow(allocation: Allocation): void {
  abandonedWindows.unregister(allocation)
  returnWindow(allocation, null)
}

/** Retires a key's window memory for good (see `retireWindow`): after a deadline, or once its view escaped. */
export function retireKeyWindow(allocation: Allocation, bytes: Uint8Array): void {
  abandonedWindows.unregister(allocation)
  retireWindow(allocation, bytes)
}

onPurge(() => {
  for (const [allocation, bytes] of openWindows) returnWindow(allocation, bytes)
  openWindows.clear()
})

/** How many SealedKeys keep their window buffer between windows (the most recently opened ones). */
export const KEPT_SEALED = 16

/** The kept SealedKey window buffers, least recently opened first. */
let keptSealed: Allocation[] = []

/**
 * The window buffer for a SealedKey window of `length` bytes: `kept` (the
 * key's buffer from an earlier window) while it is live, else a new one. A
 * buffer of up to half a page joins the kept list as its most recent entry; the
 * oldest entries beyond `KEPT_SEALED` are freed unless their window is open
 * (the new one is about to be: never it). With more than `KEPT_SEALED` windows
 * open at once the list grows with them, and shrinks back as they close. The
 * caller makes the view and calls `openedWindow`.
 */
export function sealedWindow(kept: Allocation | null, length: number): Allocation {
  if (kept !== null && !kept.freed) {
    const at = keptSealed.lastIndexOf(kept)
    if (at >= 0 && at !== keptSealed.length - 1) {
      keptSealed.splice(at, 1)
      keptSealed.push(kept)
    }
    return kept
  }
  const allocation = windowBufferAllocator().alloc(length)
  if (length <= PAGE_SIZE / 2) {
    keptSealed.push(allocation)
    if (keptSealed.length > KEPT_SEALED) pushOutSealed(allocation)
  }
  return allocation
}

/** Frees the oldest kept buffers until at most KEPT_SEALED are left; one whose window is open, and `opening`, stay. */
function pushOutSealed(opening: Allocation | null): void {
  const stay: Allocation[] = []
  let excess = keptSealed.length - KEPT_SEALED
  for (const allocation of keptSealed) {
    if (allocation.freed) {
      excess--
    } else if (excess > 0 && allocation !== opening && !openWindows.has(allocation)) {
      excess--
      windowBufferAllocator().free(allocation)
    } else {
      stay.push(allocation)
    }
  }
  keptSealed = stay
}

/** @internal For tests: the kept SealedKey window buffers, least recently opened first. */
export function keptSealedWindows(): readonly Allocation[] {
  return keptSealed.slice()
}

/** Records an open window's buffer and view (for purge() and the backstop). */
export function openedWindow(allocation: Allocation, bytes: Uint8Array): void {
  openWindows.set(allocation, bytes)
}

/**
 * Closes a SealedKey window on its buffer: wiped natively and its view
 * detached, the buffer left to the key when it is a kept one. Returns false
 * when the buffer is gone (freed: not a kept one, or its view escaped; see
 * `returnWindow`), so the key takes a new one next time.
 */
export function closeSealedWindow(allocation: Allocation, bytes: Uint8Array): boolean {
  if (allocation.freed || escapedView(bytes) || !keptSealed.includes(allocation)) {
    returnWindow(allocation, bytes)
    return false
  }
  openWindows.delete(allocation)
  os.wipe(bytes)
  if (windowBufferAllocator().dropView(allocation)) {
    // Back to the bound once the windows that held the list above it close.
    if (keptSealed.length > KEPT_SEALED) pushOutSealed(null)
    return !allocation.freed
  }
  // Detached by someone else between the check and now: the allocator counts it as escaped; freed as such.
  returnWindow(allocation, null)
  escapedCount++
  return false
}

/** Frees a SealedKey's kept buffer (the key is disposed): wiped natively, out of the kept list. */
export function releaseSealedWindow(allocation: Allocation): void {
  keptSealed = keptSealed.filter((a) => a !== allocation)
  returnWindow(allocation, null)
}

onPurge(() => {
  for (const allocation of keptSealed) if (!allocation.freed) windowBufferAllocator().free(allocation)
  keptSealed = []
})

/** A window buffer of `length` bytes and a fresh view of it. */
export function takeWindow(length: number): WindowBuffer {
  const buffers = windowBufferAllocator()
  const allocation = buffers.alloc(length)
  const bytes = new Uint8Array(buffers.view(allocation))
  openWindows.set(allocation, bytes)
  return { allocation, bytes }
}

/** Frees `window` when `owner` is collected with it still open; `token` unregisters (see FinalizationRegistry). */
export function watchAbandoned(owner: object, window: Allocation, token: object): void {
  abandonedWindows.register(owner, window, token)
}

/** Forgets a `watchAbandoned` registration. */
export function unwatchAbandoned(token: object): void {
  abandonedWindows.unregister(token)
}

/** How many window buffers were retired because their view escaped. */
let escapedCount = 0

/** True when `bytes` was detached by someone else while its window was open. */
export function escapedView(bytes: Uint8Array): boolean {
  return bytes.buffer.byteLength === 0
}

/** How many window buffers were retired because their view escaped. */
export function escapedWindows(): number {
  return escapedCount
}

/** Frees the buffer (into the allocator's quarantine): wiped natively, `bytes` detached. */
export function returnWindow(allocation: Allocation, bytes: Uint8Array | null): void {
  openWindows.delete(allocation)
  if (allocation.freed) return
  if (bytes !== null && escapedView(bytes)) escapedCount++
  windowBufferAllocator().free(allocation)
}

/**
 * Frees a buffer for good: wiped natively and never reused (its memory stays
 * mapped, locked, zeros), for a window closed while native work may still
 * hold its bytes (an async window past its deadline).
 */
export function retireWindow(allocation: Allocation, bytes: Uint8Array): void {
  openWindows.delete(allocation)
  if (allocation.freed) return
  if (escapedView(bytes)) escapedCount++
  windowBufferAllocator().retire(allocation)
}
