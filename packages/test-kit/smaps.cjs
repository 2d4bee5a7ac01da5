'use strict'
// What the kernel says about a process's memory: /proc/<pid>/smaps, maps,
// status and auxv, and this process's own bytes through /proc/self/mem. The
// one reader of these files for the tests of every package. Plain CommonJS
// with no dependency, so that vitest files (ESM or TypeScript) and the
// child-process fixtures (CommonJS) load the same code.
//
// JavaScript never sees an address, so a test finds its memory by what
// changed: the mappings newly covered after it was made (`newlyCovered`,
// `locateData`), or a random marker written into it (`findBytes`).
const fs = require('node:fs')

/**
 * One VMA (a line of /proc/<pid>/maps with its smaps fields).
 * @typedef {object} Vma
 * @property {bigint} start first address
 * @property {bigint} end address after the last byte
 * @property {number} pages length in pages of `PAGE` bytes
 * @property {string} perms 'rw-p', '---p', 'rw-s'...
 * @property {string} path the mapped file ('/secretmem (deleted)'...), '' for anonymous memory
 * @property {Record<string, number>} kB every field given in kB (Rss, Locked, Swap...)
 * @property {number} locked the Locked field, in kB
 * @property {number} rss the Rss field, in kB
 * @property {number} protectionKey the ProtectionKey field (x86-64 memory protection keys), 0 when absent
 * @property {Set<string>} flags the VmFlags ('lo', 'dd', 'wf'...)
 */

/** An address range, end exclusive. @typedef {{ start: bigint, end: bigint }} Range */

const AT_PAGESZ = 6n

/**
 * The page size of this process, from the kernel's auxiliary vector (AT_PAGESZ),
 * so that no addon is needed to know it.
 * @returns {number}
 */
function pageSize () {
  const auxv = fs.readFileSync('/proc/self/auxv')
  for (let i = 0; i + 16 <= auxv.length; i += 16) {
    const type = auxv.readBigUInt64LE(i)
    if (type === 0n) break
    if (type === AT_PAGESZ) return Number(auxv.readBigUInt64LE(i + 8))
  }
  throw new Error('no AT_PAGESZ in /proc/self/auxv')
}

const PAGE = pageSize()
const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$/

/**
 * Every VMA of a process, in address order.
 * @param {number | 'self'} [pid]
 * @returns {Vma[]}
 */
function smaps (pid = 'self') {
  /** @type {Vma[]} */
  const out = []
  /** @type {Vma | null} */
  let cur = null
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = HEADER.exec(line)
    if (head !== null) {
      const start = BigInt('0x' + head[1])
      const end = BigInt('0x' + head[2])
      cur = { start, end, pages: Number(end - start) / PAGE, perms: String(head[3]), path: String(head[4]).trim(), kB: {}, locked: 0, rss: 0, protectionKey: 0, flags: new Set() }
      out.push(cur)
      continue
    }
    if (cur === null) continue
    const field = /^(\w+):\s+(.*)$/.exec(line)
    if (field === null) continue
    const [, key, value] = /** @type {[string, string, string]} */ (/** @type {unknown} */ (field))
    if (key === 'VmFlags') {
      cur.flags = new Set(value.trim().split(/\s+/))
    } else if (key === 'ProtectionKey') {
      cur.protectionKey = Number(value.trim())
    } else if (value.endsWith(' kB')) {
      const kb = Number(value.slice(0, -3))
      cur.kB[key] = kb
      if (key === 'Locked') cur.locked = kb
      else if (key === 'Rss') cur.rss = kb
    }
  }
  if (out.length === 0) throw new Error(`/proc/${pid}/smaps listed no mapping`)
  return out
}

/**
 * The VMA containing `address`, or undefined.
 * @param {bigint} address
 * @param {Vma[]} [vmas]
 * @returns {Vma | undefined}
 */
function vmaAt (address, vmas = smaps()) {
  return vmas.find((v) => v.start <= address && address < v.end)
}

/**
 * The VMA containing `address` and its neighbours in address order, or undefined.
 * @param {bigint} address
 * @param {Vma[]} [vmas]
 * @returns {{ before: Vma | undefined, vma: Vma, after: Vma | undefined } | undefined}
 */
function around (address, vmas = smaps()) {
  const i = vmas.findIndex((v) => v.start <= address && address < v.end)
  const vma = vmas[i]
  return vma === undefined ? undefined : { before: vmas[i - 1], vma, after: vmas[i + 1] }
}

/**
 * Number of kernel mappings (lines of /proc/<pid>/maps).
 * @param {number | 'self'} [pid]
 * @returns {number}
 */
function mapCount (pid = 'self') {
  return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.length > 0).length
}

/**
 * A numeric field of /proc/<pid>/status (VmLck and VmRSS are in kB).
 * @param {string} field
 * @param {number | 'self'} [pid]
 * @returns {number}
 */
function status (field, pid = 'self') {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error(`no ${field} in /proc/${pid}/status`)
  return Number(m[1])
}

/**
 * True for a VMA holding allocator data: no-dump and wipe-on-fork (anonymous), or secretmem.
 * @param {Vma} v
 * @returns {boolean}
 */
function isAllocatorData (v) {
  return v.flags.has('dd') && (v.flags.has('wf') || v.path.startsWith('/secretmem'))
}

/**
 * The allocators' share of the kernel mappings: VMAs holding their data, and
 * the inaccessible (`---p`) VMAs right next to them (their guard pages, which
 * the kernel merges when two mappings are adjacent). `runs` counts maximal
 * stretches of contiguous data VMAs: guard pages separate two mappings, so a
 * run is one allocator mapping.
 * @param {Vma[]} [vmas]
 * @returns {{ vmas: number, runs: number }}
 */
function allocatorVmas (vmas = smaps()) {
  const picked = new Set()
  let runs = 0
  vmas.forEach((v, i) => {
    if (!isAllocatorData(v)) return
    picked.add(i)
    const prev = vmas[i - 1]
    const next = vmas[i + 1]
    if (!(prev && prev.end === v.start && isAllocatorData(prev))) runs++
    if (prev && prev.end === v.start && !isAllocatorData(prev) && prev.perms.startsWith('---')) picked.add(i - 1)
    if (next && next.start === v.end && !isAllocatorData(next) && next.perms.startsWith('---')) picked.add(i + 1)
  })
  return { vmas: picked.size, runs }
}

/**
 * Where `marker` (16 or more random bytes) starts in this process's memory,
 * searched through /proc/self/mem in the readable VMAs that `where` accepts
 * (by default, the allocators' anonymous data: readable and wipe-on-fork).
 * secretmem cannot be read this way. Returns the address or undefined.
 * @param {Uint8Array} marker
 * @param {(v: Vma) => boolean} [where]
 * @param {Vma[]} [vmas]
 * @returns {bigint | undefined}
 */
function findBytes (marker, where = (v) => v.flags.has('wf'), vmas = smaps()) {
  const fd = fs.openSync('/proc/self/mem', 'r')
  try {
    for (const v of vmas) {
      if (!v.perms.startsWith('r') || !where(v)) continue
      const buf = Buffer.alloc(Number(v.end - v.start))
      fs.readSync(fd, buf, 0, buf.length, v.start)
      const at = buf.indexOf(marker)
      if (at >= 0) return v.start + BigInt(at)
    }
  } finally {
    fs.closeSync(fd)
  }
  return undefined
}

/**
 * `length` bytes at `address` of this process through /proc/self/mem, whatever
 * the page protection. Throws where the kernel refuses (secretmem, unmapped).
 * @param {bigint} address
 * @param {number} length
 * @returns {Buffer}
 */
function peek (address, length) {
  const out = Buffer.alloc(length)
  const fd = fs.openSync('/proc/self/mem', 'r')
  try {
    const n = fs.readSync(fd, out, 0, length, address)
    if (n !== length) throw new Error(`read ${n} of ${length} bytes at 0x${address.toString(16)}`)
    return out
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Writes `bytes` at `address` of this process, as a native out-of-bounds write would.
 * @param {bigint} address
 * @param {Uint8Array} bytes
 * @returns {void}
 */
function poke (address, bytes) {
  const fd = fs.openSync('/proc/self/mem', 'r+')
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, Number(address))
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Address of the page containing `address`.
 * @param {bigint} address
 * @returns {bigint}
 */
function pageOf (address) {
  return address - (address % BigInt(PAGE))
}

/**
 * Address ranges covered in `after` and not in `before`, merged where contiguous.
 * @param {Vma[]} before
 * @param {Vma[]} after
 * @returns {Array<[bigint, bigint]>}
 */
function newlyCovered (before, after) {
  const old = before.map((v) => /** @type {[bigint, bigint]} */ ([v.start, v.end])).sort((a, b) => (a[0] < b[0] ? -1 : 1))
  /** @type {Array<[bigint, bigint]>} */
  const pieces = []
  for (const v of after) {
    /** @type {Array<[bigint, bigint]>} */
    let parts = [[v.start, v.end]]
    for (const [s, e] of old) {
      /** @type {Array<[bigint, bigint]>} */
      const next = []
      for (const [ps, pe] of parts) {
        if (e <= ps || s >= pe) {
          next.push([ps, pe])
          continue
        }
        if (ps < s) next.push([ps, s])
        if (e < pe) next.push([e, pe])
      }
      parts = next
      if (parts.length === 0) break
    }
    pieces.push(...parts)
  }
  pieces.sort((a, b) => (a[0] < b[0] ? -1 : 1))
  /** @type {Array<[bigint, bigint]>} */
  const merged = []
  for (const p of pieces) {
    const last = merged[merged.length - 1]
    if (last && last[1] === p[0]) last[1] = p[1]
    else merged.push([p[0], p[1]])
  }
  return merged
}

/**
 * True when every byte of the range is covered by the mappings of `vmas`.
 * @param {Vma[]} vmas
 * @param {Range} range
 * @returns {boolean}
 */
function covered (vmas, range) {
  let at = range.start
  for (const v of [...vmas].sort((a, b) => (a.start < b.start ? -1 : 1))) {
    if (v.start <= at && at < v.end) at = v.end
  }
  return at >= range.end
}

/**
 * The VMAs (from a fresh snapshot) overlapping [start + offset, start + offset + length).
 * Each one is whole, so a neighbour merged into the same VMA shares its flags.
 * @param {Range} range
 * @param {number} [offset]
 * @param {number} [length]
 * @returns {Vma[]}
 */
function mappingsOver (range, offset = 0, length = Number(range.end - range.start) - offset) {
  const s = range.start + BigInt(offset)
  const e = s + BigInt(length)
  return smaps().filter((v) => v.start < e && s < v.end)
}

/**
 * The data pages of a container made between the two snapshots: the one new
 * VMA that is readable and excluded from dumps (`after` must be taken while
 * they are accessible). Throws unless exactly one VMA fits.
 * @param {Vma[]} before
 * @param {Vma[]} after
 * @returns {Range}
 */
function locateData (before, after) {
  const fresh = after.filter((v) => v.perms[0] === 'r' && v.flags.has('dd') &&
    !before.some((b) => b.start === v.start && b.end === v.end && b.perms === v.perms))
  const [only] = fresh
  if (fresh.length !== 1 || only === undefined) throw new Error(`expected one new readable no-dump mapping, found ${fresh.length}`)
  return { start: only.start, end: only.end }
}

/**
 * The single VMA that exactly covers the range right now, with the VMAs
 * holding the page just before and just after it (null where unmapped).
 * @param {Range} range
 * @param {number} [pageSize]
 * @returns {{ data: Vma, before: Vma | null, after: Vma | null }}
 */
function dataMapping (range, pageSize = PAGE) {
  const all = smaps()
  const over = all.filter((v) => v.start < range.end && range.start < v.end)
  const [data] = over
  if (over.length !== 1 || data === undefined || data.start !== range.start || data.end !== range.end) {
    throw new Error(`expected one mapping exactly over the data, found ${over.length}`)
  }
  const ps = BigInt(pageSize)
  return { data, before: vmaAt(range.start - ps, all) ?? null, after: vmaAt(range.end, all) ?? null }
}

module.exports = {
  PAGE,
  pageSize,
  smaps,
  vmaAt,
  around,
  mapCount,
  status,
  isAllocatorData,
  allocatorVmas,
  findBytes,
  peek,
  poke,
  pageOf,
  newlyCovered,
  covered,
  mappingsOver,
  locateData,
  dataMapping
}
