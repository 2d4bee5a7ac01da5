/**
 * The three per-thread allocators behind SealedKey (each worker loads its
 * own copy of this module):
 *
 * - at rest: a slot allocator for the ciphertexts, not locked (a ciphertext
 *   may be swapped; it is worthless without the sealing key), so thousands of
 *   keys cost no locked memory at all;
 * - windows: a slot allocator for the plaintexts of open windows (see
 *   window-buffers.ts), and another for the combined sealing key
 *   during one AEAD call and for plaintexts being read or rekeyed: both
 *   locked, no-dump, wipe-on-fork, wiped on free;
 * - sealing key: a page allocator backed by memfd_secret where the kernel
 *   has it (otherwise locked, no-dump, kept no-access between uses), one
 *   mapping per half of the sealing key, no cache (freed halves are unmapped).
 */
import { PAGE_SIZE, PageAllocator, SlotAllocator } from '@tarsjs/page-alloc'

let atRest: SlotAllocator | undefined
let windows: SlotAllocator | undefined
let windowBuffers: SlotAllocator | undefined
let halves: PageAllocator | undefined

/** Ciphertexts: packed slots, not locked. 64 pages per mapping: 100,000 sealed 32-byte keys fit in 31 mappings. */
export function atRestAllocator(): SlotAllocator {
  atRest ??= new SlotAllocator({ mlock: 'off', pagesPerMapping: 64 })
  return atRest
}

/** The combined sealing key and plaintexts being read in or rekeyed: locked (best effort, reported), no-dump, wipe-on-fork. */
export function windowAllocator(): SlotAllocator {
  windows ??= new SlotAllocator({ pagesPerMapping: 4, cacheLimit: 4 })
  return windows
}

/**
 * The window memory of this thread's ProtKeys and SealedKeys (exported for its
 * `stats()` and `protections()`; never free what you did not allocate from it).
 * @throws nothing: created on first use with fixed options, which are valid
 * @example
 * ```js
 * import { ProtKey, windowBufferAllocator } from '@tarsjs/prot-containers'
 * const key = ProtKey.random(32) // keeps a 32-byte slot of window memory
 * console.log(windowBufferAllocator().stats().allocations >= 1) // true
 * key.dispose()
 * ```
 *
 * Plaintexts of open windows: a slot allocator of their own (not shared with
 * ProtBufs, ciphertexts or the sealing key), locked, no-dump, wipe-on-fork,
 * guard pages around each group of pages and a canary after a key shorter than
 * its slot; keys above half a page get a guarded page mapping each (never
 * secretmem, which cannot wipe on fork). A closed window's buffer waits in
 * quarantine for a turn and 4 later frees, but at most 8 KiB of slots (and
 * 8 KiB of larger buffers, in the page allocator behind them) wait: locked
 * memory stays flat however many windows one turn opens.
 */
export function windowBufferAllocator(): SlotAllocator {
  if (windowBuffers === undefined) {
    const quarantine = { frees: 4, bytes: 2 * PAGE_SIZE }
    const large = new PageAllocator({ secretmem: 'off', cacheLimit: 4, quarantine })
    windowBuffers = new SlotAllocator({ pagesPerMapping: 4, cacheLimit: 4, quarantine, large })
  }
  return windowBuffers
}

/** Halves of the sealing key: memfd_secret where available, one guarded mapping each. */
export function sealingKeyAllocator(): PageAllocator {
  halves ??= new PageAllocator({ secretmem: 'auto', cacheLimit: 0 })
  return halves
}
