// Finds the mapping of a Region in what the kernel says about this process's
// mappings (read by @tarsjs/test-kit's smaps reader). JavaScript never sees a
// region's address, so a region is located by what changed: the address space
// newly covered after map() (a snapshot before, one after), narrowed, for
// anonymous regions, to the page where a random marker written through a view
// is found in /proc/self/mem. Secret (memfd_secret) pages cannot be read
// through /proc/self/mem, but their mapping is a file mapping named /secretmem
// that never merges with another, so its exact size among the new /secretmem
// mappings identifies it.
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { newlyCovered, peek, smaps } from '@tarsjs/test-kit/smaps'

export { covered, mappingsOver, smaps as readMappings } from '@tarsjs/test-kit/smaps'

// Loaded directly (not through helpers.mjs) so child fixtures can import this file.
const m = createRequire(import.meta.url)('../index.js')

/** The 32 bytes at `address`, or null where /proc/self/mem cannot read them (PROT_NONE, secretmem). */
function bytesAt (address) {
  try {
    return peek(address, 32)
  } catch {
    return null
  }
}

/**
 * Finds where `region` is mapped, given a snapshot taken before map(). The
 * region must be fresh (readable, writable). Returns { start, end } (BigInt).
 * Throws unless exactly one address fits.
 */
export function locate (region, before) {
  const after = smaps()
  const len = BigInt(region.byteLength)
  const fresh = newlyCovered(before, after)
  if (region.secret) {
    const hits = after.filter((v) => v.path.startsWith('/secretmem') && v.end - v.start === len &&
      fresh.some(([s, e]) => s <= v.start && v.end <= e))
    if (hits.length !== 1) throw new Error(`expected one new /secretmem mapping of ${len} bytes, found ${hits.length}`)
    return { start: hits[0].start, end: hits[0].end }
  }
  const marker = randomBytes(32)
  const ab = m.view(region, 0, 32)
  new Uint8Array(ab).set(marker)
  const page = BigInt(m.pageSize())
  const found = []
  try {
    for (const [s, e] of fresh) {
      for (let a = s; a + len <= e; a += page) {
        if (bytesAt(a)?.equals(marker)) found.push(a)
      }
    }
  } finally {
    m.wipe(region, 0, 32)
    m.detach(ab)
  }
  if (found.length !== 1) throw new Error(`expected the marker at one new address, found ${found.length}`)
  return { start: found[0], end: found[0] + len }
}

/**
 * map() and locate() in one step. Another thread of this process (V8's GC,
 * for one) can unmap memory between the snapshot and map(), and the kernel may
 * then hand that very address to map(): it was covered before, so it is not
 * "new" and locate() finds nothing. Such a region is kept mapped (so the next
 * map() cannot land there again) and the whole step is tried again, up to five
 * times; every other error is thrown at once.
 */
export function mapLocated (byteLength, options) {
  const misses = []
  try {
    for (let attempt = 1; ; attempt++) {
      const before = smaps()
      const region = m.map(byteLength, options)
      try {
        return { region, range: locate(region, before) }
      } catch (err) {
        misses.push(region)
        if (attempt === 5 || !/found 0$/.test(err.message)) throw err
      }
    }
  } finally {
    for (const region of misses) m.unmap(region)
  }
}
