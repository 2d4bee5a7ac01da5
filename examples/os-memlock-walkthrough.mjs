// A walkthrough of @tarsjs/os-memlock, the bottom layer of tarsjs.
//
// Each step makes one system call through the addon, then asks the kernel
// itself what happened, by reading /proc/self/smaps: is the mapping locked
// (Locked:, VmFlags "lo"), left out of core dumps ("dd"), wiped in a forked
// child ("wf"), and what are its permissions (rw-p, r--p, ---p)?
//
//   node examples/os-memlock-walkthrough.mjs
//
// A call the kernel refuses (mlock without CAP_IPC_LOCK under a low
// RLIMIT_MEMLOCK, for example) is printed with its OS error code and the
// walkthrough goes on: what it then expects from the kernel is what that
// refusal implies (nothing locked). It exits with status 1 only when a fact
// contradicts what a call reported, or when a view misbehaves.

import * as memlock from '@tarsjs/os-memlock'
import { readFileSync, realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const SECRET = 'demo secret: 42!' // 16 bytes; a real secret would never be a string

// ---- /proc/self/smaps -------------------------------------------------------

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$/

/** Every mapping of this process as the kernel lists it in /proc/self/smaps. */
export function readMappings () {
  const mappings = []
  let current = null
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const header = HEADER.exec(line)
    if (header) {
      current = {
        range: `${header[1]}-${header[2]}`,
        start: BigInt(`0x${header[1]}`),
        end: BigInt(`0x${header[2]}`),
        perms: header[3],
        name: header[4],
        kB: {},
        flags: [],
        protectionKey: 0
      }
      mappings.push(current)
      continue
    }
    if (current === null) continue
    const field = /^(\w+):\s+(\d+) kB$/.exec(line)
    if (field) current.kB[field[1]] = Number(field[2])
    else if (line.startsWith('VmFlags:')) current.flags = line.slice(8).trim().split(/\s+/)
    else if (line.startsWith('ProtectionKey:')) current.protectionKey = Number(line.slice(14).trim())
  }
  return mappings
}

const sizeOf = (m) => Number(m.end - m.start)

// A fresh anonymous mapping may be merged by the kernel with a neighbour that
// has the same flags, so it is found once lock/advise have given it flags of
// its own: a range that did not exist before map(), of exactly the region's
// size. Among several such ranges, the one carrying lo/dd/wf wins.
function findNewMapping (before, byteLength, accept) {
  const old = new Set(before.map((m) => m.range))
  const fresh = readMappings().filter((m) => !old.has(m.range) && sizeOf(m) === byteLength && accept(m))
  if (fresh.length <= 1) return fresh[0]
  const flagged = fresh.filter((m) => m.flags.some((f) => f === 'lo' || f === 'dd' || f === 'wf'))
  return flagged.length === 1 ? flagged[0] : undefined
}

function mappingAt (start) {
  return readMappings().find((m) => m.start <= start && start < m.end)
}

const MEANING = { 'rw-p': 'readable and writable', 'r--p': 'read-only', '---p': 'no access at all' }

// Checks the permissions the kernel lists at `start` against what the calls
// imply. Returns false only when the mapping has vanished from smaps.
function permsFact (r, start, expected, show = true) {
  const m = mappingAt(start)
  if (m === undefined) return r.fact(false, 'smaps still lists the mapping')
  if (show) r.kernel(m)
  r.fact(m.perms === expected,
    m.perms === expected ? `kernel: ${m.perms}, ${MEANING[m.perms]}` : `kernel: ${m.perms}, the calls imply ${expected}`)
  return true
}

// ---- output -----------------------------------------------------------------

const WHY = {
  EPERM: 'not permitted: no CAP_IPC_LOCK and RLIMIT_MEMLOCK is 0',
  ENOMEM: 'over RLIMIT_MEMLOCK, or this mapping cannot be locked',
  EAGAIN: 'over RLIMIT_MEMLOCK (secret memory counts against it)',
  EINVAL: 'this kind of mapping does not take this advice',
  ENOSYS: 'this kernel does not have the system call'
}

function formatBytes (n) {
  if (n === Infinity) return 'unlimited'
  if (n >= 1048576 && n % 1048576 === 0) return `${n / 1048576} MiB`
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`
  return `${n} bytes`
}

function createReport (write) {
  const failures = []
  let checked = 0
  return {
    failures,
    get checked () { return checked },
    say: (text = '') => write(text),
    step: (title) => { write(''); write(`── ${title}`) },
    /** One fact: ✓ when it holds, ✗ FAIL (and exit status 1) when it does not. */
    fact (holds, text) {
      checked++
      if (holds) write(`  ✓ ${text}`)
      else {
        failures.push(text)
        write(`  ✗ FAIL ${text}`)
      }
      return holds
    },
    /** Shows what the kernel lists for one mapping. */
    kernel (m) {
      write(`  kernel: ${m.range} ${m.perms} ${sizeOf(m) / 1024} kB ${m.name}`.trimEnd())
      write(`          Locked: ${m.kB.Locked ?? '?'} kB`)
      write(`          VmFlags: ${m.flags.join(' ')}`)
    }
  }
}

// Runs one call. An OS refusal (an error with an errno) is reported and the
// walkthrough goes on; any other error is a bug and propagates.
function attempt (report, label, fn) {
  try {
    const value = fn()
    report.say(`  → ${label}: ok`)
    return { ok: true, value }
  } catch (err) {
    if (typeof err?.errno !== 'number') throw err
    report.say(`  ! ${label}: refused, ${err.code} (errno ${err.errno}, ${err.syscall})`)
    report.say(`    ${WHY[err.code] ?? err.message}; reported, going on`)
    return { ok: false, error: err }
  }
}

// ---- the walkthrough ----------------------------------------------------------

/**
 * Runs the walkthrough, writing one line at a time through `write`.
 * Returns { ok, checked, failures }: ok is false when any fact contradicted
 * what a system call reported.
 */
export function runWalkthrough ({ write = (line) => console.log(line) } = {}) {
  const r = createReport(write)
  const page = memlock.pageSize()
  const caps = memlock.capabilities()
  const limit = memlock.memlockLimit()
  const yes = (b) => (b ? 'yes' : 'no ')

  r.say('tarsjs · os-memlock walkthrough')
  r.say('Each step makes one system call, then reads /proc/self/smaps')
  r.say('to see what the kernel really did with the memory.')
  r.say('  ✓ holds   ✗ FAIL contradicts a call (exit 1)   ! a call was refused')

  r.step('0. What this machine allows')
  r.say(`  pageSize()       ${page} bytes`)
  r.say('  capabilities()')
  r.say(`    mlock          ${yes(caps.mlock)}  lock pages in RAM, never swapped`)
  r.say(`    dontdump       ${yes(caps.madviseDontDump)}  keep pages out of core dumps`)
  r.say(`    wipeonfork     ${yes(caps.madviseWipeOnFork)}  a forked child sees zeros`)
  r.say(`    dontfork       ${yes(caps.madviseDontFork)}  a forked child gets no copy`)
  r.say(`    memfdSecret    ${yes(caps.memfdSecret)}  out of the kernel's direct map`)
  r.say(`  memlockLimit()   soft ${formatBytes(limit.soft)}, hard ${formatBytes(limit.hard)}`)
  r.say('    (RLIMIT_MEMLOCK: how much an unprivileged process may lock)')

  const length = 3 * page
  r.step(`1. map(${length}): three fresh pages, private, read-write`)
  const before = readMappings()
  const region = memlock.map(length)
  r.say(`  → Region { byteLength: ${region.byteLength}, secret: ${region.secret} }`)
  r.say('    a handle: JavaScript never sees the address')

  r.step('2. Lock it in RAM, keep it out of dumps and forks')
  const locked = attempt(r, 'lock(region)', () => memlock.lock(region)).ok
  const dontdump = attempt(r, "advise(region, 0, length, 'dontdump')",
    () => memlock.advise(region, 0, length, 'dontdump')).ok
  const wipeonfork = attempt(r, "advise(region, 0, length, 'wipeonfork')",
    () => memlock.advise(region, 0, length, 'wipeonfork')).ok

  r.step('3. Write a secret through a view')
  const view = memlock.view(region, 0, SECRET.length)
  const bytes = new Uint8Array(view)
  new TextEncoder().encodeInto(SECRET, bytes)
  r.say(`  view(region, 0, ${SECRET.length}) → ArrayBuffer of ${view.byteLength} bytes`)
  r.say('    (its own buffer, exactly that size: no neighbours visible)')
  r.fact(Buffer.from(view).toString('latin1') === SECRET,
    `wrote ${SECRET.length} bytes and read the same bytes back`)

  r.step('4. What the kernel reports for this mapping')
  const found = findNewMapping(before, length, (m) => m.perms === 'rw-p' && m.name === '')
  if (!r.fact(found !== undefined, `smaps lists a new ${length / 1024} kB rw-p mapping`)) {
    return finish(r)
  }
  r.kernel(found)
  const start = found.start
  r.fact(found.perms === 'rw-p', 'rw-p: readable, writable, private')
  if (locked) {
    r.fact(found.kB.Locked === length / 1024 && found.flags.includes('lo'),
      `Locked: ${length / 1024} kB and VmFlags lo: every page pinned in RAM`)
  } else {
    r.fact(found.kB.Locked === 0 && !found.flags.includes('lo'),
      'Locked: 0 kB, no lo: nothing locked, as mlock reported')
  }
  r.fact(found.flags.includes('dd') === dontdump,
    dontdump ? 'VmFlags dd: left out of core dumps' : 'no dd: will be in core dumps, as madvise reported')
  r.fact(found.flags.includes('wf') === wipeonfork,
    wipeonfork ? 'VmFlags wf: a forked child would see zeros' : 'no wf: a forked child would copy it, as madvise reported')

  r.step("5. protect(region, 0, length, 'read')")
  const toRead = attempt(r, "protect(region, 0, length, 'read')",
    () => memlock.protect(region, 0, length, 'read')).ok
  if (!permsFact(r, start, toRead ? 'r--p' : 'rw-p')) return finish(r)
  r.fact(Buffer.from(view).toString('latin1') === SECRET, 'the old view still reads the secret')
  if (toRead) r.say('    (a write through it would now end the process with SIGSEGV)')

  r.step("6. protect(region, 0, length, 'none')")
  const toNone = attempt(r, "protect(region, 0, length, 'none')",
    () => memlock.protect(region, 0, length, 'none')).ok
  if (!permsFact(r, start, toNone ? '---p' : 'r--p')) return finish(r)
  if (toNone) {
    r.fact(view.byteLength === 0 && bytes.length === 0,
      `the old view was detached first: byteLength ${view.byteLength}`)
    r.fact(bytes[0] === undefined, 'reading it gives undefined: no crash')
    let threw = null
    try { new Uint8Array(view) } catch (err) { threw = err } // eslint-disable-line no-new
    r.fact(threw instanceof TypeError, 'new Uint8Array(oldView) throws TypeError')
  }

  r.step("7. protect 'readwrite' again, then wipe(region)")
  const toWrite = attempt(r, "protect(region, 0, length, 'readwrite')",
    () => memlock.protect(region, 0, length, 'readwrite')).ok
  if (!permsFact(r, start, toWrite ? 'rw-p' : '---p', false)) return finish(r)
  if (toWrite && attempt(r, 'wipe(region)', () => memlock.wipe(region)).ok) {
    const all = new Uint8Array(memlock.view(region, 0, length))
    r.fact(all.every((b) => b === 0), `a fresh view reads ${length} zero bytes`)
  }

  r.step('8. A memfd_secret region')
  if (!caps.memfdSecret) {
    r.say('  capabilities().memfdSecret is false on this kernel: skipped')
  } else {
    secretRegion(r, page)
  }

  r.step('9. unmap(region)')
  const lastFlags = mappingAt(start)?.flags.join(' ')
  attempt(r, 'unmap(region)', () => memlock.unmap(region))
  const still = readMappings().some((m) => m.start < found.end && m.end > start && m.flags.join(' ') === lastFlags)
  r.fact(!still, 'smaps no longer lists the mapping')
  r.fact(memlock.isMapped(region) === false, 'isMapped(region) is false')
  let dead = null
  try { memlock.wipe(region) } catch (err) { dead = err }
  r.fact(dead?.code === 'ERR_REGION_UNMAPPED', 'the dead handle throws ERR_REGION_UNMAPPED')

  return finish(r)
}

function secretRegion (r, page) {
  const before = readMappings()
  const mapped = attempt(r, 'map(pageSize(), { secret: true })', () => memlock.map(page, { secret: true }))
  if (!mapped.ok) return
  const secret = mapped.value
  new TextEncoder().encodeInto(SECRET, new Uint8Array(memlock.view(secret, 0, SECRET.length)))
  const found = findNewMapping(before, page, (m) => m.name.startsWith('/secretmem'))
  if (r.fact(found !== undefined, 'smaps lists it as /secretmem')) {
    r.kernel(found)
    r.say('    pages removed from the kernel\'s own direct map')
    r.fact(found.perms === 'rw-s', 'rw-s: a shared mapping of a secret file')
    r.fact(found.flags.includes('lo') && found.flags.includes('dd'),
      'VmFlags lo dd: locked and no-dump by the kernel itself')
    const wf = attempt(r, "advise(secret, 0, page, 'wipeonfork')",
      () => memlock.advise(secret, 0, page, 'wipeonfork')).ok
    const after = mappingAt(found.start)
    r.fact(after.flags.includes('wf') === wf,
      wf ? 'VmFlags wf, as madvise reported' : 'no wf: refused, and reported, not swallowed')
  }
  attempt(r, 'unmap(secret)', () => memlock.unmap(secret))
}

function finish (r) {
  r.say('')
  if (r.failures.length === 0) {
    r.say(`OK: ${r.checked} facts checked, all as the calls reported.`)
  } else {
    r.say(`FAIL: ${r.failures.length} of ${r.checked} facts contradict the calls:`)
    for (const text of r.failures) r.say(`  ✗ ${text}`)
  }
  return { ok: r.failures.length === 0, checked: r.checked, failures: r.failures }
}

const invokedDirectly = process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
if (invokedDirectly) {
  process.exitCode = runWalkthrough().ok ? 0 : 1
}
