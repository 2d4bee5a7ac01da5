// What the kernel reports for the containers' pages (/proc/self/smaps):
// a ProtKey is inaccessible outside windows, read-only in a read window,
// read-write in a write window; its pages are locked, excluded from dumps and
// either wiped on fork (anonymous) or not inherited (memfd_secret), between
// inaccessible guard pages. The facts asserted follow what protections() says.
import { describe, expect, it } from 'vitest'
import { PS, PageAllocator, ProtBuf, ProtKey, SECRETMEM, SlotAllocator } from './helpers.mjs'
import { dataMapping, locateData, mappingsOver, smaps as readMappings } from '@tarsjs/test-kit'

/** Makes a key and finds its data pages (through a short write window). */
function keyWithPages (length, allocator) {
  const before = readMappings()
  const key = ProtKey.random(length, { allocator })
  const w = key.writer()
  const range = locateData(before, readMappings())
  w.close()
  return { key, range }
}

/** The smaps facts that must hold for a key's data in a given access state. */
function expectFacts (key, range, access) {
  const p = key.protections()
  expect(p.access).toBe(access)
  const { data, before, after } = dataMapping(range, PS)
  const kind = p.secretmem ? 's' : 'p'
  const perms = { none: '---', read: 'r--', readwrite: 'rw-' }[access] + kind
  expect(data.perms).toBe(perms)
  expect(data.flags.has('lo')).toBe(p.locked)
  expect(data.flags.has('dd')).toBe(p.noDump)
  expect(data.flags.has('wf')).toBe(p.wipeOnFork)
  expect(data.flags.has('dc')).toBe(p.dontFork)
  if (p.secretmem) expect(data.path.startsWith('/secretmem')).toBe(true)
  else expect(data.path).toBe('')
  // Locked and resident even while inaccessible.
  expect(data.kB.Locked).toBe(Number(range.end - range.start) / 1024)
  // Guard pages right before and right after, always inaccessible.
  expect(p.guardPages).toBe(true)
  expect(before.perms.startsWith('---')).toBe(true)
  expect(after.perms.startsWith('---')).toBe(true)
  return data
}

function walkStates (key, range) {
  expectFacts(key, range, 'none')
  key.read(() => {
    expectFacts(key, range, 'read')
    key.read(() => expectFacts(key, range, 'read'))
    expectFacts(key, range, 'read') // still open: the outer reader
  })
  expectFacts(key, range, 'none')
  key.write(() => expectFacts(key, range, 'readwrite'))
  expectFacts(key, range, 'none')
  const r = key.reader()
  expectFacts(key, range, 'read')
  r.close()
  expectFacts(key, range, 'none')
}

describe('ProtKey pages in /proc/self/smaps', () => {
  it('anonymous (secretmem off): ---p outside windows, r--p / rw-p inside; lo dd wf', () => {
    const { key, range } = keyWithPages(32, new PageAllocator({ secretmem: 'off' }))
    expect(key.protections()).toMatchObject({ secretmem: false, locked: true, noDump: true, wipeOnFork: true, dontFork: false })
    walkStates(key, range)
    const data = dataMapping(range, PS).data
    expect(['lo', 'dd', 'wf'].every((f) => data.flags.has(f))).toBe(true)
    expect(data.perms).toBe('---p')
    key.dispose()
  })

  it('default key allocator: the facts match what protections() reports (memfd_secret where available)', () => {
    const { key, range } = keyWithPages(5000, undefined) // 2 data pages
    const p = key.protections()
    expect(p.secretmem).toBe(SECRETMEM)
    expect(range.end - range.start).toBe(BigInt(2 * PS))
    walkStates(key, range)
    if (SECRETMEM) {
      // Shared memfd_secret pages: locked and never dumped by the kernel itself,
      // not inherited by a child (dc), and no wipe-on-fork (the kernel refuses it).
      const data = dataMapping(range, PS).data
      expect(data.perms).toBe('---s')
      expect(['lo', 'dd', 'dc'].every((f) => data.flags.has(f))).toBe(true)
      expect(data.flags.has('wf')).toBe(false)
    }
    key.dispose()
  })

  it('after dispose the pages are quarantined, then cached, readable zeros (rw-p, wiped), or given back (no cache)', () => {
    const quarantined = keyWithPages(64, new PageAllocator({ secretmem: 'off' }))
    quarantined.key.dispose()
    expect(dataMapping(quarantined.range, PS).data.perms).toBe('rw-p')
    const off = { frees: 0, bytes: 0 }
    const cached = keyWithPages(64, new PageAllocator({ secretmem: 'off', quarantine: off }))
    cached.key.dispose()
    expect(dataMapping(cached.range, PS).data.perms).toBe('rw-p')
    const noCache = new PageAllocator({ secretmem: 'off', cacheLimit: 0, quarantine: off })
    const gone = keyWithPages(64, noCache)
    gone.key.dispose()
    // Given back: covered with PROT_NONE memory again (no data, not locked), one with the guard pages around it ...
    const covered = mappingsOver(gone.range)
    expect(covered.map((v) => [v.perms, v.flags.has('lo'), v.kB.Rss])).toEqual([['---p', false, 0]])
    expect(covered[0].end - covered[0].start).toBeGreaterThan(BigInt(PS))
    // ... and unmapped with its empty reservation by trim().
    noCache.trim()
    expect(mappingsOver(gone.range)).toEqual([])
  })
})

describe('ProtBuf pages in /proc/self/smaps', () => {
  it('a slot page is rw-p, locked, no-dump and wipe-on-fork', () => {
    const allocator = new SlotAllocator()
    const before = readMappings()
    const buf = ProtBuf.random(32, { allocator })
    const range = locateData(before, readMappings())
    const { data, before: prev, after } = dataMapping(range, PS)
    expect(range.end - range.start).toBe(BigInt(PS)) // one active page of the group
    expect(data.perms).toBe('rw-p')
    expect(['lo', 'dd', 'wf'].every((f) => data.flags.has(f))).toBe(true)
    expect(data.kB.Locked).toBe(PS / 1024)
    // Its neighbours are the group's guard page or its cached pages: inaccessible.
    expect(prev.perms).toBe('---p')
    expect(after.perms).toBe('---p')
    buf.dispose()
  })
})
