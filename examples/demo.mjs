// The tarsjs demo: `pnpm demo` at the repository root runs this file.
//
//   node examples/demo.mjs                 the demo (a few seconds)
//   node examples/demo.mjs --walkthrough   then the os-memlock walkthrough: the same
//                                          facts one system call at a time
//   node examples/demo.mjs --no-timing     skip the comparison with sodium-native
//
// What it shows, in order:
//   1. what this host can give secrets (the `tarsjs doctor` report);
//   2. a ProtKey holding an HMAC key that signs a message through node:crypto
//      inside a read window;
//   3. what the kernel says about that key's pages (/proc/self/smaps): locked,
//      left out of core dumps, no access inside and outside the window (a copy is read);
//   4. a view kept after its window closed: length 0, reads undefined, no crash;
//   5. 1,000 ProtBufs and what they cost the kernel (allocator stats, VmLck);
//   6. the same operations timed against sodium-native, when it is installed.
//
// Facts read back from the kernel are marked ✓ when they agree with what the
// allocator reported and ✗ FAIL when they do not (exit status 1). A protection
// the host refuses (mlock without CAP_IPC_LOCK under a low RLIMIT_MEMLOCK, say)
// is marked ! and is not a failure: tarsjs reports it, and the kernel agrees.
// Try: setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock -- prlimit --memlock=0 node examples/demo.mjs

import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { inspect } from 'node:util'
import { diagnose, formatReport } from '@tarsjs/doctor'
import { PageAllocator, SlotAllocator } from '@tarsjs/page-alloc'
import { ProtBuf, ProtKey, defaultKeyAllocator, windowBufferAllocator } from '@tarsjs/prot-containers'
import { readMappings, runWalkthrough } from './os-memlock-walkthrough.mjs'

const args = new Set(process.argv.slice(2))
for (const arg of args) {
  if (!['--walkthrough', '--no-timing', '--help', '-h'].includes(arg)) {
    console.error(`unknown option ${arg}`)
    process.exit(2)
  }
}
if (args.has('--help') || args.has('-h')) {
  console.log('usage: node examples/demo.mjs [--walkthrough] [--no-timing]')
  process.exit(0)
}

// ---- output -------------------------------------------------------------------

const failures = []
let checked = 0
const say = (text = '') => console.log(text)
const step = (title) => { say(''); say(`── ${title}`) }
const note = (text) => say(`  ! ${text}`)

/** One fact read back from the kernel or the library: ✓ when it holds, ✗ FAIL (exit 1) when not. */
function fact (holds, text) {
  checked++
  if (holds) say(`  ✓ ${text}`)
  else {
    failures.push(text)
    say(`  ✗ FAIL ${text}`)
  }
  return holds
}

const warnings = []
process.on('warning', (w) => { if (w.code?.startsWith('TARSJS_')) warnings.push(w) })
// process.emitWarning delivers on the next tick: let them arrive before reporting them.
const settle = () => new Promise((resolve) => setImmediate(resolve))
let reported = 0
function reportWarnings () {
  for (const w of warnings.slice(reported)) note(`warning ${w.code} (also on stderr): ${w.message}`)
  reported = warnings.length
}

const kib = (n) => (n % 1024 === 0 ? `${(n / 1024).toLocaleString('en-US')} KiB` : `${n.toLocaleString('en-US')} bytes`)
const sizeOf = (m) => Number(m.end - m.start)
const mappingAt = (mappings, address) => mappings.find((m) => m.start <= address && address < m.end)

const FLAG_WORDS = { lo: 'locked', dd: 'no-dump', wf: 'wipe-on-fork', dc: 'not inherited by fork' }
function showMapping (label, m) {
  say(`  ${label}: ${m.range} ${m.perms} ${sizeOf(m) / 1024} kB ${m.name}`.trimEnd())
  const words = m.flags.filter((f) => FLAG_WORDS[f]).map((f) => `${f} = ${FLAG_WORDS[f]}`)
  say(`      VmFlags: ${m.flags.join(' ')}${words.length ? `   (${words.join(', ')})` : ''}`)
}

/** VmLck of this process in bytes: all memory the kernel holds locked for it. */
function vmLck () {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmLck:'))
  return Number(/(\d+)/.exec(line)[1]) * 1024
}

// ---- 1. the host --------------------------------------------------------------

say('tarsjs demo: secrets in protected memory, checked against what the kernel reports')
say('  ✓ the kernel agrees   ✗ FAIL it contradicts tarsjs (exit 1)   ! a protection this host refuses, reported')

step('1. What this host can give secrets (the `npx tarsjs doctor` report)')
const report = diagnose()
for (const line of formatReport(report).split('\n')) say(`  ${line}`)
if (!report.ok) say('  (doctor would exit 1 here to stop a deployment; the demo goes on and shows what each secret really gets)')

// ---- 2. an HMAC key in a ProtKey ------------------------------------------------

step('2. An HMAC key kept in a ProtKey, signing through node:crypto')
// A fresh allocator of our own, so that its mapping is easy to find in smaps below; with a memory
// protection key where the CPU has one (as the default key allocator), else PROT_NONE.
const keyAllocator = new PageAllocator({ protectionKey: 'auto' })
ProtKey.alloc(32).dispose() // maps the window memory keys share, so that only the key's own pages are new below
const before = new Set(readMappings().map((m) => m.range))
const key = ProtKey.random(32, { allocator: keyAllocator })
const message = Buffer.from('transfer 100 EUR to account 42')
say('  const key = ProtKey.random(32)        32 bytes from the CSPRNG, written straight into its own pages')
say(`  String(key)        → ${String(key)}`)
say(`  util.inspect(key)  → ${inspect(key)}`)
say(`  JSON.stringify(key) → ${JSON.stringify({ key })}`)
const mac = key.read((bytes) => createHmac('sha256', bytes).update(message).digest())
say('  key.read((bytes) => createHmac(\'sha256\', bytes).update(message).digest())')
say(`  message      "${message}"`)
say(`  HMAC-SHA256  ${mac.toString('hex')}`)
const again = key.read((bytes) => createHmac('sha256', bytes).update(message).digest())
fact(again.equals(mac), 'a second read window gives the same MAC: the key is intact between windows')
fact(key.protections().access === 'none' && String(key).endsWith('no access)'), 'outside the window the key has no access at all')
say('  (node:crypto and OpenSSL copy the key into their own HMAC state during the call;')
say('   that copy is not protected memory. The key itself never leaves its pages.)')
await settle()
reportWarnings()

// ---- 3. the kernel's view of the key --------------------------------------------

step('3. What the kernel says about the key\'s pages (/proc/self/smaps)')
const p = key.protections()
const yes = (b) => (b ? 'yes' : 'no')
say(`  key.protections(): locked ${yes(p.locked)}, no-dump ${yes(p.noDump)}, wipe-on-fork ${yes(p.wipeOnFork)}, ` +
  `not-inherited-by-fork ${yes(p.dontFork)}, guard pages ${yes(p.guardPages)}, canary ${yes(p.canary)}, ` +
  `memfd_secret ${yes(p.secretmem)}, access '${p.access}'`)
const shared = p.secretmem ? 's' : 'p'
const keyed = p.protectionKey === true
const noAccess = (m) => m.perms === `---${shared}` || (m.perms === `rw-${shared}` && m.protectionKey !== 0)
say(`  protections().protectionKey: ${keyed ? 'yes: no access through a memory protection key (x86-64 PKU)' : 'no: no access through PROT_NONE'}`)
const outside = readMappings()
let inside = null
let windowMemory = null
key.read(() => {
  inside = readMappings()
  windowMemory = key.protections().window
})
const after = readMappings()
// The key's data pages: the one no-dump mapping created since the key was made that is not window
// memory (read-write with no protection key); the facts below then check that it has no access.
const candidates = outside.filter((m) => !before.has(m.range) && m.flags.includes('dd') && !(m.perms.startsWith('rw-') && m.protectionKey === 0))
const found = candidates.length === 1 ? candidates[0] : undefined
if (fact(found !== undefined, `smaps lists one new no-dump mapping for the key: its ${found ? sizeOf(found) / 1024 : '?'} kB of data pages`)) {
  const start = found.start
  const during = mappingAt(inside, start)
  const post = mappingAt(after, start)
  showMapping('kernel', found)
  fact(noAccess(found), keyed
    ? `${found.perms} with ProtectionKey ${found.protectionKey}: every thread's PKRU register denies these pages, so any access faults`
    : `${found.perms}: no access at all`)
  if (p.locked) {
    fact(found.flags.includes('lo'), p.secretmem
      ? 'VmFlags lo: locked in RAM (memfd_secret memory is locked by the kernel itself)'
      : 'VmFlags lo: locked in RAM, never written to swap')
  } else {
    fact(!found.flags.includes('lo'), 'no lo: not locked, exactly as protections() reported')
    note('the key may be swapped: mlock was refused on this host (see the memlock finding above)')
  }
  fact(found.flags.includes('dd') === p.noDump, p.noDump ? 'VmFlags dd: left out of core dumps' : 'no dd, as protections() reported')
  if (p.wipeOnFork) fact(found.flags.includes('wf'), 'VmFlags wf: a forked child sees zeros here')
  if (p.dontFork) fact(found.flags.includes('dc'), 'VmFlags dc: a forked child does not get these pages at all')
  if (p.secretmem) fact(found.name.startsWith('/secretmem'), 'named /secretmem: removed from the kernel\'s direct map')
  say('  inside key.read() the key\'s pages do not change: the window is a copy in the key\'s own window memory')
  fact(during !== undefined && noAccess(during) && during.perms === found.perms && during.protectionKey === found.protectionKey,
    `inside the window: ${during?.perms ?? 'missing'}, still no access (the callback reads a copy)`)
  fact(windowMemory !== null && windowMemory.access === 'readwrite' && windowMemory.noDump,
    `the copy's window memory: read-write, ${windowMemory?.locked ? 'locked' : 'not locked'}, no-dump; wiped when the window closes`)
  if (windowMemory !== null && !windowMemory.locked) note('the window memory is not locked: mlock was refused for it (protections().window says so)')
  fact(post !== undefined && noAccess(post), `after the window: ${post?.perms ?? 'missing'}, no access at all`)
  const guardBefore = mappingAt(after, start - 1n)
  const guardAfter = mappingAt(after, found.end)
  fact(guardBefore?.perms.startsWith('---') && guardAfter?.perms.startsWith('---'),
    'the pages right before and right after are ---: guard pages, an overflow faults at once')
}

// ---- 4. a stale view --------------------------------------------------------------

step('4. A view kept after its window closed')
let kept = null
const inWindow = key.read((bytes) => {
  kept = bytes
  return { length: kept.byteLength, first: typeof kept[0] }
})
say('  let kept; key.read((bytes) => { kept = bytes })')
fact(inWindow.length === 32 && inWindow.first === 'number',
  `inside the window: kept.byteLength is ${inWindow.length}, kept[0] is a ${inWindow.first}`)
fact(kept.byteLength === 0 && kept.length === 0, `after it: kept.byteLength is ${kept.byteLength}: the copy was wiped and the view detached`)
// (Never print the value itself: if this fact failed, it would be a byte of the key.)
fact(kept[0] === undefined, `kept[0] is ${kept[0] === undefined ? 'undefined' : 'still a number'}: reading it gives nothing, and the process does not crash`)
let threw = null
try { new Uint8Array(kept.buffer) } catch (err) { threw = err } // eslint-disable-line no-new
fact(threw instanceof TypeError, 'new Uint8Array(kept.buffer) throws TypeError (a detached buffer)')
say('  (sodium-native\'s secure buffers stay attached after sodium_mprotect_noaccess:')
say('   touching one then kills the whole process with SIGSEGV)')
key.dispose()
fact(String(key) === 'ProtKey(32 bytes, disposed)', `key.dispose() wipes the key at once: ${String(key)}`)

// ---- 5. ProtBuf statistics --------------------------------------------------------

step('5. 1,000 ProtBufs: what they cost the kernel')
const slots = new SlotAllocator()
// Under a tight RLIMIT_MEMLOCK, allocators give back the charge of memory they only hold for reuse
// (the disposed key's page and window memory among it) when a lock is refused: count that in as well.
const others = [key.allocator, defaultKeyAllocator(), windowBufferAllocator()]
const othersLocked = () => others.reduce((n, a) => n + a.stats().lockedBytes, 0)
const locked0 = vmLck()
const keyLocked0 = othersLocked()
const bufs = []
for (let i = 0; i < 1000; i++) bufs.push(ProtBuf.random(32, { allocator: slots }))
const s1 = slots.stats()
const locked1 = vmLck()
const givenBack1 = keyLocked0 - othersLocked()
say('  const slots = new SlotAllocator()')
say('  1,000 × ProtBuf.random(32, { allocator: slots })')
printStats(s1)
fact(s1.allocations === 1000 && s1.bytes === 32000, '1,000 live allocations, 32,000 bytes')
fact(locked1 - locked0 === s1.lockedBytes - givenBack1,
  `the kernel's VmLck grew by ${kib(locked1 - locked0)}: exactly stats().lockedBytes` +
  (givenBack1 > 0 ? `, less the ${kib(givenBack1)} the key allocators and window memory gave back to make room` : ''))
if (s1.unlockedAllocations > 0) note(`${s1.unlockedAllocations.toLocaleString('en-US')} allocations are not locked (mlock refused); stats() says so`)
const ownBuffers = new Set(bufs.map((b) => b.bytes.buffer))
fact(ownBuffers.size === 1000 && bufs.every((b) => b.bytes.buffer.byteLength === 32),
  'each ProtBuf has an ArrayBuffer of its own, exactly 32 bytes: no neighbour is reachable through .buffer')
const old = bufs[0].bytes
for (const b of bufs) b.dispose()
const s2 = slots.stats()
const locked2 = vmLck()
const givenBack2 = keyLocked0 - othersLocked()
say('  after dispose() of all 1,000 (each wiped at once):')
printStats(s2)
fact(s2.allocations === 0 && s2.bytes === 0, 'no live allocations')
fact(locked2 - locked0 === s2.lockedBytes - givenBack2, `VmLck is back to ${kib(locked2 - locked0)} above where it started: stats().lockedBytes` +
  (givenBack2 > 0 ? `, less the ${kib(givenBack2)} given back` : '') +
  (s2.lockedBytes > 0 ? ' (an empty page is kept ready for the next secret)' : ''))
fact(old.byteLength === 0, 'a view of a disposed ProtBuf has length 0')
await settle()
reportWarnings()

function printStats (s) {
  say(`  stats(): ${s.allocations.toLocaleString('en-US')} allocations (${s.bytes.toLocaleString('en-US')} bytes) ` +
    `in ${s.mappings} kernel mapping${s.mappings === 1 ? '' : 's'} of ${kib(s.mappedBytes)} (guard pages included)`)
  say(`           locked ${kib(s.lockedBytes)}, ${s.cachedPages} page${s.cachedPages === 1 ? '' : 's'} cached (wiped, no access), ` +
    `${s.cacheHits} cache hit${s.cacheHits === 1 ? '' : 's'}, ${s.unlockedAllocations.toLocaleString('en-US')} unlocked`)
}

// ---- 6. timing -------------------------------------------------------------------

if (!args.has('--no-timing')) await timing()

async function timing () {
  step('6. The same operations against sodium-native (a quick indication; `pnpm bench` has the real numbers)')
  let sodium
  try {
    sodium = (await import('sodium-native')).default
  } catch {
    say('  sodium-native is not installed: skipped (pnpm add sodium-native@4.3.1 to compare)')
    return
  }
  const version = JSON.parse(readFileSync(new URL(import.meta.resolve('sodium-native/package.json')), 'utf8')).version
  const source = new Uint8Array(32).fill(7)
  const ops = 1000
  const rounds = 9
  const bufAllocator = new SlotAllocator()
  const rows = [
    ['32-byte buffer: alloc, write, free',
      () => { const b = ProtBuf.alloc(32, { allocator: bufAllocator }); b.bytes.set(source); b.dispose() },
      () => { const b = sodium.sodium_malloc(32); b.set(source); sodium.sodium_free(b) }]
  ]
  const k = ProtKey.random(32) // the default key allocator: a memory protection key where the CPU has one
  const sk = sodium.sodium_malloc(32)
  sodium.randombytes_buf(sk)
  sodium.sodium_mprotect_noaccess(sk)
  let sink = 0
  rows.push(['32-byte key: open a read window, read, close',
    () => { sink += k.read((bytes) => bytes[0]) },
    () => { sodium.sodium_mprotect_readonly(sk); sink += sk[0]; sodium.sodium_mprotect_noaccess(sk) }])
  say(`  sodium-native ${version}; median of ${rounds} rounds of ${ops} operations each, per operation`)
  say('  operation                                      tarsjs     sodium-native')
  for (const [label, ours, theirs] of rows) {
    const [a, b] = medians(ours, theirs, ops, rounds)
    const ratio = a <= b ? `tarsjs ${(b / a).toFixed(1)}× faster` : `tarsjs ${(a / b).toFixed(1)}× slower`
    say(`  ${label.padEnd(45)}${us(a).padStart(9)}  ${us(b).padStart(14)}    ${ratio}`)
  }
  sodium.sodium_mprotect_readwrite(sk)
  sodium.sodium_free(sk)
  k.dispose()
  if (Number.isNaN(sink)) say('')
  say('  (sodium-native\'s free unmaps every buffer; tarsjs wipes and reuses slots and pages.')
  say('   sodium-native\'s read window is two mprotect calls; tarsjs copies the key out of its no-access')
  say('   pages (with a protection key: no system call at all) and hands out a view of the copy, detached')
  say('   on close: never a view over no-access memory.)')
}

/** Median ns per operation of two contenders, warmed up, their rounds interleaved. */
function medians (ours, theirs, ops, rounds) {
  for (let i = 0; i < 3 * ops; i++) { ours(); theirs() }
  const a = []
  const b = []
  for (let r = 0; r < rounds; r++) {
    a.push(perOp(ours, ops))
    b.push(perOp(theirs, ops))
  }
  const mid = (xs) => xs.sort((x, y) => x - y)[rounds >> 1]
  return [mid(a), mid(b)]
}

function perOp (fn, ops) {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < ops; i++) fn()
  return Number(process.hrtime.bigint() - t0) / ops
}

function us (ns) {
  return `${(ns / 1000).toFixed(ns < 10000 ? 2 : 1)} µs`
}

// ---- the walkthrough, and the verdict ------------------------------------------------

let walkthroughOk = true
if (args.has('--walkthrough')) {
  say('')
  say('════════════════════════════════════════════════════════════════════════════')
  walkthroughOk = runWalkthrough().ok
} else {
  say('')
  say('One layer down, one system call at a time: node examples/demo.mjs --walkthrough')
}

say('')
if (failures.length === 0) {
  say(`Demo OK: ${checked} facts checked, the kernel agrees with every one.`)
} else {
  say(`Demo FAIL: ${failures.length} of ${checked} facts contradict what tarsjs reported:`)
  for (const text of failures) say(`  ✗ ${text}`)
}
process.exitCode = failures.length === 0 && walkthroughOk ? 0 : 1
