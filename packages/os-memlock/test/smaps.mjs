// Reads what the kernel says about this process's mappings (/proc/self/smaps)
// and finds the mapping of a Region. JavaScript never sees a region's address,
// so a region is located by what changed: the address space newly covered after
// map() (a snapshot before, one after), narrowed, for anonymous regions, to the
// page where a random marker written through a view is found in /proc/self/mem.
// Secret (memfd_secret) pages cannot be read through /proc/self/mem, but their
// mapping is a file mapping named /secretmem that never merges with another, so
// its exact size among the new /secretmem mappings identifies it.
import { randomBytes } from 'node:crypto'
import { closeSync, openSync, readFileSync, readSync } from 'node:fs'
import { createRequire } from 'node:module'

// Loaded directly (not through helpers.mjs) so child fixtures can import this file.
const m = createRequire(import.meta.url)('../index.js')

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) (\S+) (\S+) (\d+)\s*(.*)$/

/** Every mapping of this process: { start, end (BigInt, end exclusive), perms, name, kB: {Locked, Rss, ...}, flags: Set }. */
export function readMappings () {
  const text = readFileSync('/proc/self/smaps', 'utf8')
  const out = []
  let cur = null
  for (const line of text.split('\n')) {
    const h = HEADER.exec(line)
    if (h) {
      cur = { start: BigInt('0x' + h[1]), end: BigInt('0x' + h[2]), perms: h[3], name: h[7].trim(), kB: {}, flags: new Set() }
      out.push(cur)
      continue
    }
    if (cur === null) continue
    const kv = /^(\w+):\s+(.*)$/.exec(line)
    if (!kv) continue
    if (kv[1] === 'VmFlags') cur.flags = new Set(kv[2].trim().split(/\s+/))
    else if (/ kB$/.test(kv[2])) cur.kB[kv[1]] = Number(kv[2].slice(0, -3))
  }
  if (out.length === 0) throw new Error('/proc/self/smaps listed no mapping')
  return out
}

/** Address intervals covered in `after` and not in `before`, merged where contiguous. */
export function newlyCovered (before, after) {
  const old = before.map((v) => [v.start, v.end]).sort((a, b) => (a[0] < b[0] ? -1 : 1))
  const pieces = []
  for (const v of after) {
    let parts = [[v.start, v.end]]
    for (const [s, e] of old) {
      const next = []
      for (const [ps, pe] of parts) {
        if (e <= ps || s >= pe) { next.push([ps, pe]); continue }
        if (ps < s) next.push([ps, s])
        if (e < pe) next.push([e, pe])
      }
      parts = next
      if (parts.length === 0) break
    }
    pieces.push(...parts)
  }
  pieces.sort((a, b) => (a[0] < b[0] ? -1 : 1))
  const merged = []
  for (const p of pieces) {
    const last = merged[merged.length - 1]
    if (last && last[1] === p[0]) last[1] = p[1]
    else merged.push([p[0], p[1]])
  }
  return merged
}

function readMem (fd, address, length) {
  const buf = Buffer.alloc(length)
  try {
    const n = readSync(fd, buf, 0, length, address)
    return n === length ? buf : null
  } catch {
    return null // not readable (e.g. PROT_NONE or secretmem)
  }
}

/**
 * Finds where `region` is mapped, given a snapshot taken before map(). The
 * region must be fresh (readable, writable). Returns { start, end } (BigInt).
 * Throws unless exactly one address fits.
 */
export function locate (region, before) {
  const after = readMappings()
  const len = BigInt(region.byteLength)
  const fresh = newlyCovered(before, after)
  if (region.secret) {
    const hits = after.filter((v) => v.name.startsWith('/secretmem') && v.end - v.start === len &&
      fresh.some(([s, e]) => s <= v.start && v.end <= e))
    if (hits.length !== 1) throw new Error(`expected one new /secretmem mapping of ${len} bytes, found ${hits.length}`)
    return { start: hits[0].start, end: hits[0].end }
  }
  const marker = randomBytes(32)
  const ab = m.view(region, 0, 32)
  new Uint8Array(ab).set(marker)
  const page = BigInt(m.pageSize())
  const found = []
  const fd = openSync('/proc/self/mem', 'r')
  try {
    for (const [s, e] of fresh) {
      for (let a = s; a + len <= e; a += page) {
        const got = readMem(fd, a, 32)
        if (got && got.equals(marker)) found.push(a)
      }
    }
  } finally {
    closeSync(fd)
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
      const before = readMappings()
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

/**
 * The mappings (from a fresh snapshot) overlapping [start + offset, start + offset + length).
 * Each one is whole, so a neighbour merged into the same VMA shares its flags.
 */
export function mappingsOver (range, offset = 0, length = Number(range.end - range.start) - offset) {
  const s = range.start + BigInt(offset)
  const e = s + BigInt(length)
  return readMappings().filter((v) => v.start < e && s < v.end)
}

/** True when every byte of the range is covered by mappings in the snapshot `maps`. */
export function covered (maps, range) {
  let at = range.start
  for (const v of [...maps].sort((a, b) => (a.start < b.start ? -1 : 1))) {
    if (v.start <= at && at < v.end) at = v.end
  }
  return at >= range.end
}
