'use strict'
// What the kernel says about this process's memory: /proc/<pid>/smaps,
// /proc/<pid>/maps and /proc/<pid>/status. Plain CommonJS so that both the
// vitest files and the child-process fixtures can use it.
const fs = require('node:fs')

const PAGE = require('@tarsjs/os-memlock').pageSize()

/**
 * Every VMA of a process, in address order:
 * { start, end (BigInt), pages, perms ('rw-p'...), path, locked (kB), rss (kB), flags (Set of VmFlags) }.
 */
function smaps (pid = 'self') {
  const out = []
  let cur = null
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head) {
      const start = BigInt('0x' + head[1])
      const end = BigInt('0x' + head[2])
      cur = { start, end, pages: Number(end - start) / PAGE, perms: head[3], path: head[4], locked: 0, rss: 0, flags: new Set() }
      out.push(cur)
      continue
    }
    if (cur === null) continue
    const field = /^(Locked|Rss):\s+(\d+) kB/.exec(line)
    if (field) cur[field[1] === 'Locked' ? 'locked' : 'rss'] = Number(field[2])
    const flags = /^VmFlags:\s*(.*)$/.exec(line)
    if (flags) cur.flags = new Set(flags[1].trim().split(/\s+/))
  }
  return out
}

/** The VMA containing `address` (BigInt), or undefined. */
function vmaAt (address, vmas = smaps()) {
  return vmas.find((v) => v.start <= address && address < v.end)
}

/** Number of kernel mappings (lines of /proc/<pid>/maps). */
function mapCount (pid = 'self') {
  return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.length > 0).length
}

/** A `/proc/<pid>/status` field in kB (VmLck, VmRSS, ...) or as a number. */
function status (field, pid = 'self') {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error(`no ${field} in /proc/${pid}/status`)
  return Number(m[1])
}

/** True for a VMA holding allocator data: no-dump and wipe-on-fork (anonymous), or secretmem. */
function isAllocatorData (v) {
  return v.flags.has('dd') && (v.flags.has('wf') || v.path.startsWith('/secretmem'))
}

/**
 * The allocators' share of the kernel mappings: VMAs holding their data, and
 * the inaccessible (`---p`) VMAs right next to them (their guard pages, which
 * the kernel merges when two mappings are adjacent). `runs` counts maximal
 * stretches of contiguous data VMAs: guard pages separate two mappings, so a
 * run is one allocator mapping.
 */
function allocatorVmas (vmas = smaps()) {
  const picked = new Set()
  let runs = 0
  for (let i = 0; i < vmas.length; i++) {
    const v = vmas[i]
    if (!isAllocatorData(v)) continue
    picked.add(i)
    const prev = vmas[i - 1]
    const next = vmas[i + 1]
    if (!(prev && prev.end === v.start && isAllocatorData(prev))) runs++
    if (prev && prev.end === v.start && !isAllocatorData(prev) && prev.perms.startsWith('---')) picked.add(i - 1)
    if (next && next.start === v.end && !isAllocatorData(next) && next.perms.startsWith('---')) picked.add(i + 1)
  }
  return { vmas: picked.size, runs }
}

/**
 * Finds `marker` (a Buffer of 16+ random bytes) in this process's readable
 * allocator data (anonymous, wipe-on-fork VMAs) through /proc/self/mem.
 * Returns its address (BigInt) or undefined. secretmem cannot be read this way.
 */
function findBytes (marker) {
  const fd = fs.openSync('/proc/self/mem', 'r')
  try {
    for (const v of smaps()) {
      if (!v.perms.startsWith('r') || !v.flags.has('wf')) continue
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

/** Address of the page containing `address`. */
function pageOf (address) {
  return address - (address % BigInt(PAGE))
}

module.exports = { PAGE, smaps, vmaAt, mapCount, status, isAllocatorData, allocatorVmas, findBytes, pageOf }
