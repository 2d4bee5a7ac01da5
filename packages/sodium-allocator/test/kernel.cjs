'use strict'
// What the kernel reports about a process's memory, for the tests and the
// child-process fixtures: /proc/<pid>/smaps, maps and status, and a search of
// this process's own secure memory through /proc/self/mem.
const fs = require('node:fs')

const PAGE = require('@tarsjs/os-memlock').pageSize()

/** Every VMA, in address order: { start, end (BigInt), perms, path, locked (kB), rss (kB), flags (Set) }. */
function smaps (pid = 'self') {
  const vmas = []
  let cur = null
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head !== null) {
      cur = { start: BigInt('0x' + head[1]), end: BigInt('0x' + head[2]), perms: head[3], path: head[4], locked: 0, rss: 0, flags: new Set() }
      vmas.push(cur)
    } else if (cur !== null) {
      const kb = /^(Locked|Rss):\s+(\d+) kB/.exec(line)
      if (kb !== null) cur[kb[1] === 'Locked' ? 'locked' : 'rss'] = Number(kb[2])
      const flags = /^VmFlags:\s*(.*)$/.exec(line)
      if (flags !== null) cur.flags = new Set(flags[1].trim().split(/\s+/))
    }
  }
  return vmas
}

/** Lines of /proc/<pid>/maps: the number of kernel mappings (VMAs). */
function mapCount (pid = 'self') {
  return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.length > 0).length
}

/** A numeric field of /proc/<pid>/status (VmLck and VmRSS are in kB). */
function status (field, pid = 'self') {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error(`no ${field} in /proc/${pid}/status`)
  return Number(m[1])
}

/** Secure data: anonymous, readable, excluded from core dumps. */
function isSecureData (v) {
  return v.perms.startsWith('r') && v.flags.has('dd') && v.path === ''
}

/** The address (BigInt) where `marker` starts in this process's readable no-dump memory, or undefined. */
function findBytes (marker, vmas = smaps()) {
  const fd = fs.openSync('/proc/self/mem', 'r')
  try {
    for (const v of vmas) {
      if (!isSecureData(v)) continue
      const length = Number(v.end - v.start)
      const bytes = Buffer.alloc(length)
      fs.readSync(fd, bytes, 0, length, Number(v.start))
      const at = bytes.indexOf(marker)
      if (at >= 0) return v.start + BigInt(at)
    }
  } finally {
    fs.closeSync(fd)
  }
  return undefined
}

/** `length` bytes at `address` (BigInt) of this process, whatever the page protection. */
function peek (address, length) {
  const out = Buffer.alloc(length)
  const fd = fs.openSync('/proc/self/mem', 'r')
  try {
    fs.readSync(fd, out, 0, length, Number(address))
  } finally {
    fs.closeSync(fd)
  }
  return out
}

/** Writes `bytes` at `address` (BigInt) of this process, as a native out-of-bounds write would. */
function poke (address, bytes) {
  const fd = fs.openSync('/proc/self/mem', 'r+')
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, Number(address))
  } finally {
    fs.closeSync(fd)
  }
}

/** The VMA containing `address`, and its neighbours. */
function around (address, vmas = smaps()) {
  const i = vmas.findIndex((v) => v.start <= address && address < v.end)
  return i < 0 ? undefined : { before: vmas[i - 1], vma: vmas[i], after: vmas[i + 1] }
}

module.exports = { PAGE, smaps, mapCount, status, isSecureData, findBytes, peek, poke, around }
