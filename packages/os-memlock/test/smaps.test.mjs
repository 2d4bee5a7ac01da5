// What the kernel reports (/proc/self/smaps) after each call, for the exact
// mapping of the region.
import { describe, expect, it } from 'vitest'
import { PS, assertWorks, expectOsError, m } from './helpers.mjs'
import { covered, locate, mapLocated, mappingsOver, readMappings } from './smaps.mjs'

const flagsEvery = (maps, flag) => maps.length > 0 && maps.every((v) => v.flags.has(flag))
const flagsNone = (maps, flag) => maps.length > 0 && maps.every((v) => !v.flags.has(flag))
const lockedKb = (maps) => maps.reduce((n, v) => n + v.kB.Locked, 0)

describe('smaps helper', () => {
  it('locates a fresh region exactly, as one read-write private mapping', () => {
    const { region, range } = mapLocated(7 * PS)
    expect(Number(range.end - range.start)).toBe(7 * PS)
    const maps = mappingsOver(range)
    expect(maps.every((v) => v.perms === 'rw-p')).toBe(true)
    expect(flagsNone(maps, 'lo')).toBe(true)
    m.unmap(region)
  })

  it('refuses to guess when the region is not newly mapped', () => {
    const region = m.map(5 * PS)
    const before = readMappings() // taken after map(): nothing new to find
    expect(() => locate(region, before)).toThrow(/found 0/)
    m.unmap(region)
  })
})

describe('lock / unlock', () => {
  it('lock sets "lo" and Locked: covers the range; unlock clears both', () => {
    const { region, range } = mapLocated(6 * PS)
    expect(lockedKb(mappingsOver(range))).toBe(0)
    m.lock(region)
    const maps = mappingsOver(range)
    expect(flagsEvery(maps, 'lo')).toBe(true)
    expect(lockedKb(maps)).toBeGreaterThanOrEqual((6 * PS) / 1024)
    m.unlock(region)
    expect(flagsNone(mappingsOver(range), 'lo')).toBe(true)
    expect(lockedKb(mappingsOver(range))).toBe(0)
    m.unmap(region)
  })

  it('locks exactly the pages asked for', () => {
    const { region, range } = mapLocated(4 * PS)
    m.lock(region, PS, 2 * PS)
    expect(flagsNone(mappingsOver(range, 0, PS), 'lo')).toBe(true)
    expect(flagsEvery(mappingsOver(range, PS, 2 * PS), 'lo')).toBe(true)
    expect(flagsNone(mappingsOver(range, 3 * PS, PS), 'lo')).toBe(true)
    // munlock is not reference counted: one unlock of a page undoes every lock of it
    m.lock(region, PS, PS)
    m.unlock(region, PS, PS)
    expect(flagsNone(mappingsOver(range, PS, PS), 'lo')).toBe(true)
    m.unmap(region)
  })

  it('a lock over a PROT_NONE page fails with ENOMEM, yet the kernel has marked the range locked', () => {
    const { region, range } = mapLocated(3 * PS)
    m.protect(region, 0, PS, 'none')
    expectOsError(() => m.lock(region, 0, 2 * PS), 'ENOMEM', 'mlock')
    // Linux sets VM_LOCKED on the VMAs before populating them; the populate
    // step fails on PROT_NONE, and mlock reports ENOMEM without undoing it.
    expect(flagsEvery(mappingsOver(range, 0, 2 * PS), 'lo')).toBe(true)
    m.unlock(region, 0, 2 * PS)
    expect(flagsNone(mappingsOver(range), 'lo')).toBe(true)
    m.protect(region, 0, PS, 'readwrite')
    assertWorks(region)
    m.unmap(region)
  })
})

describe('lock with { onFault: true } (mlock2 MLOCK_ONFAULT)', () => {
  it('marks the range "lo" and "lf"; a page counts in Locked: once touched; unlock clears both flags', () => {
    const { region, range } = mapLocated(6 * PS)
    const before = lockedKb(mappingsOver(range))
    m.lock(region, 0, 6 * PS, { onFault: true })
    const maps = mappingsOver(range)
    expect(flagsEvery(maps, 'lo')).toBe(true)
    expect(flagsEvery(maps, 'lf')).toBe(true)
    // Nothing was faulted in by the call: only pages touched before (the locator's marker) are resident.
    const resident = maps.reduce((n, v) => n + v.kB.Rss, 0)
    expect(lockedKb(maps)).toBe(resident)
    expect(lockedKb(maps)).toBeLessThan((6 * PS) / 1024)
    expect(before).toBe(0)
    m.wipe(region, 0, 6 * PS) // touches every page
    expect(lockedKb(mappingsOver(range))).toBe((6 * PS) / 1024)
    m.unlock(region)
    expect(flagsNone(mappingsOver(range), 'lo')).toBe(true)
    expect(flagsNone(mappingsOver(range), 'lf')).toBe(true)
    expect(lockedKb(mappingsOver(range))).toBe(0)
    m.unmap(region)
  })

  it('pages stay locked through none → readwrite (no populate needed: they never left memory)', () => {
    const { region, range } = mapLocated(3 * PS)
    m.lock(region, 0, 3 * PS, { onFault: true })
    m.wipe(region, 0, 3 * PS)
    for (let i = 0; i < 3; i++) {
      m.protect(region, 0, 3 * PS, 'none')
      expect(lockedKb(mappingsOver(range))).toBe((3 * PS) / 1024)
      m.protect(region, 0, 3 * PS, 'readwrite')
      expect(lockedKb(mappingsOver(range))).toBe((3 * PS) / 1024)
    }
    assertWorks(region)
    m.unmap(region)
  })

  it('over a PROT_NONE page it succeeds (nothing is faulted in), unlike plain mlock', () => {
    const { region, range } = mapLocated(3 * PS)
    m.protect(region, 0, PS, 'none')
    m.lock(region, 0, 2 * PS, { onFault: true })
    expect(flagsEvery(mappingsOver(range, 0, 2 * PS), 'lf')).toBe(true)
    m.protect(region, 0, PS, 'readwrite')
    m.unlock(region)
    assertWorks(region)
    m.unmap(region)
  })
})

describe('advise', () => {
  const cases = [
    ['dontdump', 'dodump', 'dd'],
    ['wipeonfork', 'keeponfork', 'wf'],
    ['dontfork', 'dofork', 'dc']
  ]
  for (const [on, off, flag] of cases) {
    it(`${on} sets "${flag}" on exactly the range; ${off} clears it`, () => {
      const { region, range } = mapLocated(3 * PS)
      expect(flagsNone(mappingsOver(range), flag)).toBe(true)
      m.advise(region, PS, PS, on)
      expect(flagsEvery(mappingsOver(range, PS, PS), flag)).toBe(true)
      expect(flagsNone(mappingsOver(range, 0, PS), flag)).toBe(true)
      expect(flagsNone(mappingsOver(range, 2 * PS, PS), flag)).toBe(true)
      m.advise(region, PS, PS, off)
      expect(flagsNone(mappingsOver(range), flag)).toBe(true)
      assertWorks(region, PS)
      m.unmap(region)
    })
  }

  it('each advice is one madvise: dontdump then wipeonfork leaves both flags', () => {
    const { region, range } = mapLocated(2 * PS)
    m.advise(region, 0, 2 * PS, 'dontdump')
    m.advise(region, 0, 2 * PS, 'wipeonfork')
    const maps = mappingsOver(range)
    expect(flagsEvery(maps, 'dd')).toBe(true)
    expect(flagsEvery(maps, 'wf')).toBe(true)
    m.unmap(region)
  })
})

describe('protect', () => {
  it('none gives ---p, read gives r--p, readwrite gives rw-p, page by page', () => {
    const { region, range } = mapLocated(3 * PS)
    m.protect(region, 0, PS, 'none')
    m.protect(region, PS, PS, 'read')
    expect(mappingsOver(range, 0, PS).map((v) => v.perms)).toEqual(['---p'])
    expect(mappingsOver(range, PS, PS).map((v) => v.perms)).toEqual(['r--p'])
    expect(mappingsOver(range, 2 * PS, PS).every((v) => v.perms === 'rw-p')).toBe(true)
    m.protect(region, 0, 2 * PS, 'readwrite')
    expect(mappingsOver(range).every((v) => v.perms === 'rw-p')).toBe(true)
    assertWorks(region)
    m.unmap(region)
  })
})

describe('secret regions (memfd_secret)', () => {
  const caps = m.capabilities()

  it.skipIf(!caps.memfdSecret)('are a shared /secretmem mapping, already locked and no-dump', () => {
    const { region, range } = mapLocated(3 * PS, { secret: true })
    expect(region.secret).toBe(true)
    const maps = mappingsOver(range)
    expect(maps).toHaveLength(1)
    expect(maps[0].path.startsWith('/secretmem')).toBe(true)
    expect(maps[0].perms).toBe('rw-s')
    expect(maps[0].flags.has('lo')).toBe(true)
    expect(maps[0].flags.has('dd')).toBe(true)
    new Uint8Array(m.view(region, 0, 3 * PS)).fill(0x5a) // fault every page in
    expect(mappingsOver(range)[0].kB.Locked).toBe((3 * PS) / 1024)
    m.unmap(region)
    expect(covered(readMappings(), range)).toBe(false)
  })

  it.skipIf(!caps.memfdSecret)('refuse mlock (ENOMEM) and wipeonfork (EINVAL), reported with errno and syscall', () => {
    const region = m.map(2 * PS, { secret: true })
    expectOsError(() => m.lock(region), 'ENOMEM', 'mlock')
    assertWorks(region)
    expectOsError(() => m.advise(region, 0, PS, 'wipeonfork'), 'EINVAL', 'madvise')
    assertWorks(region)
    m.unmap(region)
  })

  it.skipIf(!caps.memfdSecret)('stay locked through unlock (which succeeds), and dodump clears "dd" but nothing else', () => {
    const { region, range } = mapLocated(2 * PS, { secret: true })
    new Uint8Array(m.view(region, 0, 2 * PS)).fill(1)
    m.unlock(region) // munlock returns 0 and leaves secretmem locked
    let maps = mappingsOver(range)
    expect(flagsEvery(maps, 'lo')).toBe(true)
    expect(lockedKb(maps)).toBe((2 * PS) / 1024)
    m.advise(region, 0, PS, 'dodump')
    expect(flagsNone(mappingsOver(range, 0, PS), 'dd')).toBe(true)
    expect(flagsEvery(mappingsOver(range, PS, PS), 'dd')).toBe(true)
    maps = mappingsOver(range)
    expect(flagsEvery(maps, 'lo')).toBe(true)
    expect(maps.every((v) => v.perms === 'rw-s' && v.path.startsWith('/secretmem'))).toBe(true)
    m.unmap(region)
  })

  it.skipIf(!caps.memfdSecret)('keep no file descriptor open once mapped', async () => {
    const { readdirSync, readlinkSync } = await import('node:fs')
    const secretFds = () => readdirSync('/proc/self/fd').filter((fd) => {
      try { return readlinkSync(`/proc/self/fd/${fd}`).includes('secretmem') } catch { return false }
    }).length
    const before = secretFds()
    const regions = Array.from({ length: 4 }, () => m.map(PS, { secret: true }))
    expect(secretFds()).toBe(before)
    for (const r of regions) m.unmap(r)
  })
})

describe('unmap', () => {
  it('removes the mapping', () => {
    const { region, range } = mapLocated(5 * PS)
    expect(covered(readMappings(), range)).toBe(true)
    m.unmap(region)
    expect(covered(readMappings(), range)).toBe(false)
  })
})
