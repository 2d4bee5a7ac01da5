// Unprivileged (no CAP_IPC_LOCK, the default 8 MiB RLIMIT_MEMLOCK), in child
// processes: 32-byte secrets packed 128 to a locked page, so 262,144 stay
// locked where one-page-per-secret stops at 2,048; at the limit, each mlock
// policy does what it says and nothing degrades silently.
import { describe, expect, it } from 'vitest'
import { CAN_RUN_UNPRIVILEGED, PAGE, UNPRIVILEGED, ZERO_STATS, expectClean, runFixture } from './helpers.js'

const LIMIT = 8 * 1024 * 1024
const PER_PAGE = PAGE / 32
const run = (mode: string) => {
  const r = runFixture('memlock.cjs', [mode], { wrap: UNPRIVILEGED })
  expectClean(r)
  return r
}

describe.runIf(CAN_RUN_UNPRIVILEGED)('unprivileged, RLIMIT_MEMLOCK 8 MiB', () => {
  it("mlock 'best-effort': 200,000+ live locked secrets, then unlocked ones reported, with exactly one warning", () => {
    const r = run('best-effort')
    const res = r.rec.RESULT
    expect(res.env).toEqual({ ipcLock: false, limit: { soft: LIMIT, hard: LIMIT }, vmLckKb: 0 })
    // 200,000 live, every one locked: sampled protections, the counter, and the kernel.
    expect(res.at200k.stats.allocations).toBe(200_000)
    expect(res.at200k.stats.unlockedAllocations).toBe(0)
    expect(res.sampledLocked).toBe(res.sampled)
    expect(res.at200k.vmLckKb).toBe(res.at200k.stats.lockedBytes / 1024)
    // The limit holds exactly LIMIT / PAGE pages of 128 secrets.
    expect(res.firstUnlocked).toBe((LIMIT / PAGE) * PER_PAGE)
    console.log(`unprivileged, 8 MiB memlock: ${res.firstUnlocked} live locked 32-byte secrets before the limit (VmLck ${res.atEnd.vmLckKb} kB)`)
    expect(res.failure).toBe(null)
    // Past it: allocations go on, unlocked, and say so.
    expect(res.atEnd.stats.unlockedAllocations).toBe(res.atEnd.live - res.firstUnlocked)
    expect(res.atEnd.stats.unlockedAllocations).toBeGreaterThan(0)
    expect(res.unlockedSeen).toBe(res.atEnd.stats.unlockedAllocations)
    expect(res.atEnd.stats.lockedBytes).toBe(LIMIT)
    expect(res.atEnd.vmLckKb).toBe(LIMIT / 1024)
    expect(res.warnings).toEqual([{ code: 'TARSJS_MLOCK_FAILED', name: 'TarsjsWarning' }])
    expect(r.stderr.match(/TARSJS_MLOCK_FAILED/g)).toHaveLength(1)
    // Everything freed: only the warm page is left.
    expect(res.final.stats).toMatchObject({ allocations: 0, bytes: 0, unlockedAllocations: 0, lockedBytes: PAGE })
    expect(res.final.vmLckKb).toBe(PAGE / 1024)
  })

  it("mlock 'required': the failing alloc throws ERR_MLOCK_FAILED with the OS code and changes nothing", () => {
    const r = run('required')
    const res = r.rec.RESULT
    expect(res.env.ipcLock).toBe(false)
    expect(res.at200k.stats.unlockedAllocations).toBe(0)
    expect(res.sampledLocked).toBe(res.sampled)
    const f = res.failure
    expect(f.index).toBe((LIMIT / PAGE) * PER_PAGE)
    expect(f.code).toBe('ERR_MLOCK_FAILED')
    expect(f.causeCode).toBe('ENOMEM') // mlock(2) over RLIMIT_MEMLOCK
    expect(f.causeSyscall).toBe('mlock')
    expect(f.message).toContain('ENOMEM')
    // Nothing leaked by the failed call, nor by ten more: counters, VmLck, kernel mappings.
    expect(f.after).toEqual(f.before)
    expect(f.retries).toBe(10)
    expect(f.afterRetries).toEqual(f.before)
    expect(res.unlockedSeen).toBe(0)
    // Freeing one secret makes room: the next allocation is locked.
    expect(res.afterFreeOne).toEqual({ locked: true })
    expect(res.warnings).toEqual([])
    expect(r.stderr).not.toMatch(/TARSJS_/)
    expect(res.final.vmLckKb).toBe(PAGE / 1024)
  })

  it('page allocator at the limit: required throws and maps nothing; secretmem required throws; auto falls back, reported', () => {
    const r = run('page')
    const res = r.rec.RESULT
    expect(res.env.ipcLock).toBe(false)
    expect(res.slots).toBe((LIMIT / PAGE) * PER_PAGE)
    const empty = ZERO_STATS
    expect(res.required).toEqual({ ok: false, code: 'ERR_MLOCK_FAILED', causeCode: 'ENOMEM', stats: empty, vmasDelta: 0, vmLckDelta: 0 })
    // memfd_secret memory counts against RLIMIT_MEMLOCK too: the kernel refuses the mapping.
    expect(res.secretRequired).toEqual({ ok: false, code: 'ERR_SECRETMEM_UNAVAILABLE', causeCode: 'EAGAIN', stats: empty, vmasDelta: 0, vmLckDelta: 0 })
    expect(res.auto.ok).toBe(true)
    expect(res.auto.protections).toMatchObject({ secretmem: false, locked: false, noDump: true, wipeOnFork: true, guardPages: true })
    expect(res.auto.stats.unlockedAllocations).toBe(1)
    expect(res.warnings).toEqual([
      { code: 'TARSJS_SECRETMEM_FALLBACK', name: 'TarsjsWarning' },
      { code: 'TARSJS_MLOCK_FAILED', name: 'TarsjsWarning' }
    ])
  })

  for (const policy of ['best-effort', 'required']) {
    it(`slot allocator, mlock '${policy}': a lock refused for the limit retires a warm page of the same mapping and locks the new page; the mapping stays`, () => {
      const r = runFixture('charge-relief.cjs', [`activate-${policy}`], { wrap: UNPRIVILEGED })
      expectClean(r)
      const res = r.rec.RESULT
      const locked = { ok: true, kernelLocked: true, readBack: 7, protections: expect.objectContaining({ locked: true }) }
      expect(res.first).toEqual(locked)
      expect(res.second).toEqual(locked)
      // One mapping (two data pages, two guards): the class-16 page back in the cache, the class-32 page locked.
      expect(res.stats).toMatchObject({ allocations: 2, mappings: 1, mappedBytes: 4 * PAGE, cachedPages: 1, lockedBytes: PAGE, unlockedAllocations: 0 })
      expect(res.vmLckKb).toBe(LIMIT / 1024)
      expect(res.warnings).toEqual([])
    })
  }

  it('slot allocator: a page holding only quarantined slots is unlocked in place for a new page, takes no new slot, and is locked again when reused', () => {
    const r = runFixture('charge-relief.cjs', ['drain'], { wrap: UNPRIVILEGED })
    expectClean(r)
    const res = r.rec.RESULT
    expect(res.fresh).toEqual({ ok: true, locked: true, kernelLocked: true })
    // The drained page's charge went to the new page: the allocator's count and the kernel agree.
    expect(res.afterDrain.vmLckKb).toBe(LIMIT / 1024)
    expect(res.afterDrain.stats).toMatchObject({ allocations: 2, lockedBytes: 2 * PAGE, quarantinedBytes: 128, unlockedAllocations: 0 })
    expect(res.liveLocked).toEqual({ reported: true, kernel: true })
    // 'required' never lands on the unlocked page.
    expect(res.sixteen).toEqual({ ok: false, code: 'ERR_MLOCK_FAILED' })
    expect(res.afterTurns.stats).toMatchObject({ quarantinedBytes: 0, cachedPages: 2, lockedBytes: 2 * PAGE })
    expect(res.reused).toEqual({ ok: true, locked: true, kernelLocked: true })
    expect(res.final.stats.lockedBytes).toBe(3 * PAGE)
    expect(res.final.vmLckKb).toBe((3 * PAGE) / 1024)
    expect(res.warnings).toEqual([])
  })

  it('for comparison, sodium-native 4.3 there (printed, not asserted)', () => {
    const r = run('sodium')
    const res = r.rec.RESULT
    console.log(
      `sodium-native 4.3, unprivileged 8 MiB: ${res.allocated} sodium_malloc(32) succeeded, ${res.threw === null ? 'no error' : `error: ${res.threw}`}; ` +
        `VmLck grew up to allocation ${res.lockedUpTo} and stayed at ${res.vmLckKb} kB; all report .secure=${res.allSecure}; ${res.mapsPerAlloc.toFixed(2)} VMAs each`
    )
  })
})
