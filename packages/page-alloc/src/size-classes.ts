/**
 * Size classes of the slot allocator: 16-byte steps up to 128, then four
 * classes per doubling up to half a page. A 32-byte key fills a 32-byte slot
 * exactly (no memory wasted); other sizes leave slack that holds a canary.
 */
import { PAGE_SIZE } from './guarded-mapping.js'

function buildClasses(max: number): number[] {
  const classes: number[] = []
  for (let size = 16; size <= Math.min(128, max); size += 16) classes.push(size)
  for (let base = 128; base < max; base *= 2) {
    const step = base / 4
    for (let size = base + step; size <= base * 2 && size <= max; size += step) classes.push(size)
  }
  return classes
}

/** Largest request the slot allocator serves itself: half a page. */
export const MAX_SLOT: number = PAGE_SIZE / 2

/** Slot sizes in ascending order. */
export const SLOT_SIZES: readonly number[] = buildClasses(MAX_SLOT)

const LOOKUP = new Uint8Array(MAX_SLOT / 16 + 1)
{
  let cls = 0
  for (let i = 0; i < LOOKUP.length; i++) {
    while ((SLOT_SIZES[cls] as number) < i * 16) cls++
    LOOKUP[i] = cls
  }
}

/** Index of the smallest class holding `n` bytes (1 <= n <= MAX_SLOT). */
export function classOf(n: number): number {
  let cls = LOOKUP[(n + 15) >>> 4] as number
  // Lookup is per 16 bytes; step up where a class boundary falls inside the step.
  while ((SLOT_SIZES[cls] as number) < n) cls++
  return cls
}
