// What the kernel reports for the containers' pages (/proc/self/smaps):
// a ProtKey's own pages are inaccessible for its whole life, windows included
// (a window works on a copy in window memory): PROT_NONE (---p), or read-write
// and tagged with a memory protection key (rw-p, ProtectionKey non-zero) where
// protections() says protectionKey. They are locked, excluded from dumps and
// either wiped on fork (anonymous) or not inherited (memfd_secret), between
// inaccessible guard pages. The facts asserted follow what protections() says.
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { PKEYS, PS, PageAllocator, ProtBuf, ProtKey, SECRETMEM, SlotAllocator, expectNoAccessVma, locateKeyPages, protectionKeyAt, warmWindowMemory } from './helpers.mjs'
import { dataMapping, findBytes, locateData, mappingsOver, peek, smaps as readMappings } from '@tarsjs/test-kit'

/** Makes a key (from `secret`, or random) and finds its data pages. */
function keyWithPages (length, allocator, secret = randomBytes(length)) {
  warmWindowMemory(ProtKey, length)
  const before = readMappings()
  const key = ProtKey.from(secret, { allocator })
  const range = locateKeyPages(before, readMappings())
  return { key, range, secret }
}

/** The smaps facts that must hold for a key's data, `window` (null, 'read' or 'write') open or not. */
function expectFacts (key, range, window) {
  const p = key.protections()
  expect(p.access).toBe('none')
  expect(key.windows.writer).toBe(window === 'write')
  if (window === 'read') expect(key.windows.readers).toBeGreaterThan(0)
  else expect(key.windows.readers).toBe(0)
  if (window === null) expect(p.window).toBe(null)
  else expect(p.window).toMatchObject({ access: 'readwrite', locked: true, noDump: true, wipeOnFork: true })
  const { data, before, after } = dataMapping(range, PS)
  expectNoAccessVma(data, p)
  expect(data.flags.has('lo')).toBe(p.locked)
  expect(data.flags.has('dd')).toBe(p.noDump)
  expect(data.flags.has('wf')).toBe(p.wipeOnFork)
  expect(data.flags.has('dc')).toBe(p.dontFork)
  if (p.secretmem) expect(data.path.startsWith('/secretmem')).toBe(true)
  else expect(data.path).toBe('')
  // Locked and resident even while inaccessible.
  expect(data.kB.Locked).toBe(Number(range.end - range.start) / 1024)
  // Guard pages right before and right after, always inaccessible (PROT_NONE, never keyed).
  expect(p.guardPages).toBe(true)
  expect(before.perms.startsWith('---')).toBe(true)
  expect(after.perms.startsWith('---')).toBe(true)
  return data
}

/**
 * Where the plaintext sits inside a window: in readable, locked, no-dump,
 * wipe-on-fork memory that is not the key's pages and carries no protection
 * key (the window's copy); nowhere once the window closed.
 */
function expectCopyOnlyInWindow (key, range, secret) {
  const marker = secret.subarray(0, Math.min(64, secret.length))
  const elsewhere = (v) => v.flags.has('wf') && !(v.start === range.start && v.end === range.end)
  const copyVma = () => {
    const at = findBytes(marker, elsewhere)
    return at === undefined ? undefined : readMappings().find((v) => v.start <= at && at < v.end)
  }
  for (const open of [(fn) => key.read(fn), (fn) => key.write(fn)]) {
    open(() => {
      const vma = copyVma()
      expect(vma).toBeDefined()
      expect(vma.perms).toBe('rw-p')
      expect(['lo', 'dd', 'wf'].every((f) => vma.flags.has(f))).toBe(true)
      expect(protectionKeyAt(vma.start) ?? 0).toBe(0)
    })
    expect(copyVma()).toBeUndefined()
  }
}

function walkStates (key, range) {
  expectFacts(key, range, null)
  key.read(() => {
    expectFacts(key, range, 'read')
    key.read(() => expectFacts(key, range, 'read'))
    expectFacts(key, range, 'read') // still open: the outer reader
  })
  expectFacts(key, range, null)
  key.write(() => expectFacts(key, range, 'write'))
  expectFacts(key, range, null)
  const r = key.reader()
  expectFacts(key, range, 'read')
  r.close()
  expectFacts(key, range, null)
  const w = key.writer()
  expectFacts(key, range, 'write')
  w.close()
  expectFacts(key, range, null)
}

describe('ProtKey pages in /proc/self/smaps', () => {
  it('anonymous (secretmem off, protectionKey off): ---p outside and inside windows; lo dd wf; the plaintext only in the window copy', () => {
    const { key, range, secret } = keyWithPages(32, new PageAllocator({ secretmem: 'off' }))
    expect(key.protections()).toMatchObject({ secretmem: false, locked: true, noDump: true, wipeOnFork: true, dontFork: false, protectionKey: false })
    walkStates(key, range)
    const data = dataMapping(range, PS).data
    expect(['lo', 'dd', 'wf'].every((f) => data.flags.has(f))).toBe(true)
    expect(data.perms).toBe('---p')
    expectCopyOnlyInWindow(key, range, secret)
    key.dispose()
  })

  it('anonymous with protectionKey auto: rw-p tagged with a protection key where the CPU has one (else ---p), windows included', () => {
    const { key, range, secret } = keyWithPages(32, new PageAllocator({ secretmem: 'off', protectionKey: 'auto' }))
    expect(key.protections()).toMatchObject({ secretmem: false, wipeOnFork: true, protectionKey: PKEYS })
    walkStates(key, range)
    const data = dataMapping(range, PS).data
    expect(data.perms).toBe(PKEYS ? 'rw-p' : '---p')
    expectCopyOnlyInWindow(key, range, secret)
    key.dispose()
  })

  it('default key allocator: the facts match what protections() reports (memfd_secret and a protection key where available)', () => {
    const { key, range } = keyWithPages(5000, undefined) // 2 data pages
    const p = key.protections()
    expect(p.secretmem).toBe(SECRETMEM)
    expect(p.protectionKey).toBe(PKEYS)
    expect(range.end - range.start).toBe(BigInt(2 * PS))
    walkStates(key, range)
    if (SECRETMEM) {
      // Shared memfd_secret pages: locked and never dumped by the kernel itself,
      // not inherited by a child (dc), and no wipe-on-fork (the kernel refuses it).
      const data = dataMapping(range, PS).data
      expect(data.perms).toBe(PKEYS ? 'rw-s' : '---s')
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
    // Under a protection key too: the key is taken off (ProtectionKey 0), the pages read zeros.
    const keyed = keyWithPages(64, new PageAllocator({ secretmem: 'off', protectionKey: 'auto' }))
    keyed.key.dispose()
    const keyedData = dataMapping(keyed.range, PS).data
    expect(keyedData.perms).toBe('rw-p')
    expect(protectionKeyAt(keyedData.start) ?? 0).toBe(0)
    expect(peek(keyed.range.start, PS).includes(keyed.secret)).toBe(false)
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
