// What the kernel says about this process's mappings (/proc/self/smaps), and
// how to find a container's data pages in it. JavaScript never sees an
// address, so the pages are found by what changed: the mappings newly covered
// after the container was made, narrowed to the one that is accessible and
// excluded from dumps (the `dd` flag: only our allocators set it here).
import { readFileSync } from 'node:fs'

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) (\S+) (\S+) (\d+)\s*(.*)$/

/** Every mapping: { start, end (BigInt, end exclusive), perms, name, kB: { Rss, Locked, ... }, flags: Set }. */
export function readMappings (pid = 'self') {
  const out = []
  let cur = null
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
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

function overlaps (a, s, e) {
  return a.start < e && s < a.end
}

/**
 * The data pages of a container made between the two snapshots: `after` must
 * be taken while they are accessible. Throws unless exactly one mapping fits.
 */
export function locateData (before, after) {
  const fresh = after.filter((v) => v.perms[0] === 'r' && v.flags.has('dd') &&
    !before.some((b) => b.start === v.start && b.end === v.end && b.perms === v.perms))
  if (fresh.length !== 1) {
    throw new Error(`expected one new readable no-dump mapping, found ${fresh.length}`)
  }
  return { start: fresh[0].start, end: fresh[0].end }
}

/** The mappings (from a fresh snapshot) overlapping the range. */
export function mappingsOver (range) {
  return readMappings().filter((v) => overlaps(v, range.start, range.end))
}

/**
 * The single mapping that exactly covers the range right now, with the
 * mappings holding the page just before and just after it.
 */
export function dataMapping (range, pageSize) {
  const all = readMappings()
  const over = all.filter((v) => overlaps(v, range.start, range.end))
  if (over.length !== 1 || over[0].start !== range.start || over[0].end !== range.end) {
    throw new Error(`expected one mapping exactly over the data, found ${over.length}`)
  }
  const ps = BigInt(pageSize)
  const at = (addr) => all.find((v) => v.start <= addr && addr < v.end) ?? null
  return { data: over[0], before: at(range.start - ps), after: at(range.end) }
}
