// The same ProtBuf / ProtKey code over different allocator backends.
//
//   node examples/swap-allocators.mjs
//
// A container takes any `Allocator` (`{ allocator }` option); the code that
// uses the secret does not change. Backends shown:
//   slot           SlotAllocator (@tarsjs/page-alloc): small secrets packed in
//                  guarded, locked pages; the default for ProtBuf
//   page           PageAllocator (@tarsjs/page-alloc): a guarded mapping per
//                  secret, memfd_secret where the kernel has it; the default for ProtKey
//   sodium         SodiumAllocator (@tarsjs/sodium-allocator): libsodium's
//                  sodium_malloc layout (canary, data ending at the guard page, 0xdb fill)
//   sodium-native  SodiumNativeAllocator (@tarsjs/sodium-allocator): real
//                  sodium_malloc/sodium_free through sodium-native, when installed
//
// For each backend: a ProtBuf made from the same bytes, HMAC'd through
// node:crypto; a ProtKey with a read window (refused, with a typed error, by
// backends whose allocations share or cannot re-protect their pages); then
// what each allocation really has (protections()) and the allocator's stats().
// The bytes used here are a fixed, public test pattern, not a secret.

import { createHmac } from 'node:crypto'
import { PageAllocator, SlotAllocator } from '@tarsjs/page-alloc'
import { ProtBuf, ProtKey } from '@tarsjs/prot-containers'

const PATTERN = Uint8Array.from({ length: 32 }, (_, i) => i)
const MESSAGE = 'the same code over every backend'

const backends = [
  ['slot', () => new SlotAllocator()],
  ['page', () => new PageAllocator()]
]
let sodiumAllocator = null
try {
  sodiumAllocator = await import('@tarsjs/sodium-allocator')
} catch (err) {
  console.log(`(@tarsjs/sodium-allocator is not available: ${err.code ?? err.message}; showing slot and page only)`)
}
if (sodiumAllocator !== null) {
  backends.push(['sodium', () => new sodiumAllocator.SodiumAllocator()])
  if (sodiumAllocator.loadSodiumNative() !== undefined) {
    backends.push(['sodium-native', () => new sodiumAllocator.SodiumNativeAllocator()])
  } else {
    console.log('(sodium-native is not installed: the sodium-native adapter is skipped)')
  }
}

/** The code under test: it knows nothing about the backend. */
function useSecrets (allocator) {
  const result = { buf: null, key: null }
  const buf = ProtBuf.from(PATTERN, { allocator })
  try {
    result.buf = {
      mac: createHmac('sha256', buf.bytes).update(MESSAGE).digest('hex'),
      protections: buf.protections(),
      printed: String(buf)
    }
  } finally {
    buf.dispose()
  }
  let key
  try {
    key = ProtKey.from(PATTERN, { allocator })
  } catch (err) {
    result.key = { refused: err.code, reason: err.message }
  }
  if (key !== undefined) {
    try {
      const mac = key.read((bytes) => createHmac('sha256', bytes).update(MESSAGE).digest('hex'))
      let kept
      key.read((bytes) => { kept = bytes })
      result.key = { mac, protections: key.protections(), staleLength: kept.byteLength, printed: String(key) }
    } finally {
      key.dispose()
    }
  }
  return result
}

const rows = []
for (const [name, make] of backends) {
  const allocator = make()
  const result = useSecrets(allocator)
  rows.push({ name, allocator, result, stats: allocator.stats() })
}

const yes = (b) => (b === undefined ? '-' : b ? 'yes' : 'no')
const col = (s) => String(s).padEnd(18)
const header = (title) => console.log(`\n${title.padEnd(26)}${rows.map((r) => col(r.name)).join('')}`.trimEnd())
const line = (label, f) => console.log(`  ${label.padEnd(24)}${rows.map((r) => col(f(r))).join('')}`.trimEnd())
const FIELDS = [
  ['locked', 'locked'], ['noDump', 'no-dump'], ['wipeOnFork', 'wipe-on-fork'], ['dontFork', 'not inherited by fork'],
  ['guardPages', 'guard pages'], ['canary', 'canary'], ['secretmem', 'memfd_secret'], ['isolated', 'owns its pages']
]

header('ProtBuf.from(32 bytes)')
line('HMAC-SHA256', (r) => `${r.result.buf.mac.slice(0, 12)}…`)
for (const [field, label] of FIELDS) line(label, (r) => yes(r.result.buf.protections[field]))
line('access', (r) => r.result.buf.protections.access)

header('ProtKey.from(32 bytes)')
line('result', (r) => (r.result.key.refused ? r.result.key.refused : 'ok'))
line('HMAC-SHA256 (window)', (r) => (r.result.key.mac ? `${r.result.key.mac.slice(0, 12)}…` : '-'))
line('stale view length', (r) => r.result.key.staleLength ?? '-')
for (const [field, label] of FIELDS) line(label, (r) => yes(r.result.key.protections?.[field]))
line('access (outside)', (r) => r.result.key.protections?.access ?? '-')

header('stats() after dispose')
line('live allocations', (r) => r.stats.allocations)
line('kernel mappings', (r) => r.stats.mappings)
line('mapped bytes', (r) => r.stats.mappedBytes)
line('locked bytes', (r) => r.stats.lockedBytes)
line('cached pages', (r) => r.stats.cachedPages)

const macs = new Set(rows.flatMap((r) => [r.result.buf.mac, r.result.key.mac].filter(Boolean)))
console.log('')
console.log(`every backend gave the same HMAC: ${macs.size === 1}`)
console.log(`hmac-sha256 ${[...macs][0]}`)
for (const r of rows) {
  if (!r.result.buf.protections.canary) {
    console.log(`${r.name}: no canary for this ProtBuf: 32 bytes fill a 32-byte slot exactly (a 30-byte secret would get 2 canary bytes)`)
  }
  if (r.result.key.refused) console.log(`${r.name}: ProtKey refused (${r.result.key.refused}): ${r.result.key.reason}`)
}
if (sodiumAllocator?.SodiumNativeAllocator?.unverifiable && rows.some((r) => r.name === 'sodium-native')) {
  console.log(`sodium-native: ${sodiumAllocator.SodiumNativeAllocator.unverifiable.join(', ')} are reported "no" because libsodium ` +
    'ignores the result of those calls and tarsjs cannot check them: not established is not claimed')
}
process.exitCode = macs.size === 1 && rows.every((r) => r.stats.allocations === 0) ? 0 : 1
