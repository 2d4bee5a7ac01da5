/**
 * The counters every page-backed allocator reports the same way: its page
 * counts turned into the byte counts of `AllocatorStats`.
 */
import type { AllocatorStats } from './allocator.js'
import { PAGE_SIZE } from './guarded-mapping.js'

/** What an allocator counts: live allocations and their bytes, pages mapped and pages charged to RLIMIT_MEMLOCK. */
export interface PageCounts {
  readonly allocations: number
  readonly bytes: number
  readonly mappedPages: number
  readonly lockedPages: number
}

/**
 * The first four fields of `AllocatorStats` (`allocations`, `bytes`, `mappedBytes`, `lockedBytes`) from an allocator's page counts. For backends' `stats()`.
 * @throws nothing
 * @example
 * ```js
 * import { PAGE_SIZE, pageStats } from '@tarsjs/page-alloc'
 * const s = pageStats({ allocations: 2, bytes: 48, mappedPages: 6, lockedPages: 2 })
 * console.log(s.mappedBytes === 6 * PAGE_SIZE, s.lockedBytes === 2 * PAGE_SIZE) // true true
 * ```
 */
export function pageStats(c: PageCounts): Pick<AllocatorStats, 'allocations' | 'bytes' | 'mappedBytes' | 'lockedBytes'> {
  return { allocations: c.allocations, bytes: c.bytes, mappedBytes: c.mappedPages * PAGE_SIZE, lockedBytes: c.lockedPages * PAGE_SIZE }
}
