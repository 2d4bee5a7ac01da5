// ProtKeys at scale, against the kernel's own counts (VmLck in /proc/self/status,
// /proc/self/maps and smaps), run without CAP_IPC_LOCK under a memlock limit:
// a key is charged one page (its guard pages are plain PROT_NONE memory outside
// the memfd; its own page is no access through a protection key or PROT_NONE), 2,000 keys fit under 8 MiB, 10,000 keys cost at most 40 MiB and
// 30,000 mappings, and pages held for reuse never keep a new secret unlocked.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FIXTURES, KERNEL_PKEYS, PKEYS, PS, SECRETMEM, records, which } from './helpers.mjs'

const SETPRIV = which('setpriv')
const PRLIMIT = which('prlimit')
const canDrop = SETPRIV !== null && PRLIMIT !== null && process.getuid() === 0

/** Runs a key-scale.cjs scenario; unprivileged under `memlock` bytes, or as this process is when `memlock` is null. */
function scenario (memlock, ...args) {
  const node = [process.execPath, join(FIXTURES, 'key-scale.cjs'), ...args.map(String)]
  const argv = memlock === null
    ? node
    : [SETPRIV, '--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', '--', PRLIMIT, `--memlock=${memlock}`, '--core=0', ...node]
  const res = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 240000 })
  if (res.error) throw res.error
  expect(res.status, res.stderr).toBe(0)
  return records(res.stdout).RESULT
}

describe.skipIf(!canDrop)('ProtKey at scale, unprivileged', () => {
  it.runIf(SECRETMEM)('a default ProtKey(32) is charged one page: its no-access secretmem page sits between plain, unlocked PROT_NONE guards', () => {
    const r = scenario(65536, 'charge')
    expect(r.memlock).toBe(65536)
    expect(r.charged).toBe(PS)
    expect(r.locked).toBe(true)
    expect(r.secretmem).toBe(true)
    expect(r.secret).toHaveLength(1)
    const [page] = r.secret
    // No access: through the process's protection key where the CPU has one (rw-s, tagged), else PROT_NONE.
    expect(r.protectionKey).toBe(PKEYS)
    expect(page).toMatchObject({ pages: 1, perms: PKEYS ? 'rw-s' : '---s', locked: PS / 1024 })
    if (PKEYS) expect(page.pkey).toBeGreaterThan(0)
    else expect(page.pkey).toBe(KERNEL_PKEYS ? 0 : null)
    // The guards are PROT_NONE, never keyed.
    for (const guard of [page.before, page.after]) expect(guard).toEqual({ perms: '---p', name: '', locked: 0, adjacent: true, pkey: KERNEL_PKEYS ? 0 : null })
    expect(r.warnings).toEqual([])
  })

  it('under 8 MiB at least 2,000 default ProtKey(32)s are locked before the first unlocked one (was 684)', () => {
    const r = scenario(8 * 1024 * 1024, 'count', 5000)
    console.log(`8 MiB memlock limit: ${r.locked} ProtKey(32)s locked`)
    expect(r.locked).toBeGreaterThanOrEqual(2000)
    // Past the limit: reported, not silent.
    expect(r.unlockedAllocations).toBe(1)
    expect(r.warnings).toContain('TARSJS_MLOCK_FAILED')
  })

  it('under 64 KiB: seven keys made and disposed leave room for a locked ProtBuf; mlock: required never fails while nothing else is live', () => {
    const r = scenario(65536, 'seven')
    expect(r.bufLocked).toBe(true)
    expect(r.firstFailure).toBe(null)
    expect(r.done).toBe(300)
    // The room came from pages held for reuse giving their charge back.
    expect(r.chargeReleases).toBeGreaterThan(0)
    expect(r.warnings).toEqual([])
  })

  it('under 64 KiB: slot pages holding only quarantined slots give their charge back to a required allocation in the same turn', () => {
    const r = scenario(65536, 'classes')
    expect(r.lockedWhileLive).toBe(12 * PS)
    expect(r.quarantinedBytes).toBeGreaterThan(0)
    expect(r.keyError).toBe(null)
    expect(r.keyLocked).toBe(true)
    // Every quarantined-only page was unlocked (their slots are wiped and still mapped read-write).
    expect(r.slotLockedAfterKey).toBe(0)
    expect(r.againLocked).toBe(true)
    expect(r.thirdLocked).toBe(true)
    expect(r.warnings).toEqual([])
  })

  it('diagnose() reports capacity per kind under 64 KiB, and the unlocked live keys of this process once past it', () => {
    const r = scenario(65536, 'doctor')
    const pages = Math.floor((65536 - r.lockedBytes) / PS)
    expect(r.capacity).toEqual({
      protKeys: Math.min(pages, Math.floor(r.mapCount.available / 2)),
      protBufs: Math.floor((65536 - r.lockedBytes) / 32),
      sodiumMalloc: Math.min(pages, Math.floor(r.mapCount.available / 3))
    })
    expect(r.capacity.protKeys).toBeGreaterThanOrEqual(12)
    expect(r.mapCount.reserve).toBeGreaterThanOrEqual(1024)
    expect(r.unprotectedBefore).toMatchObject({ verdict: 'ok', data: { protKeys: 0, protBufs: 0 } })
    expect(r.unlocked).toBeGreaterThan(0)
    expect(r.unprotectedAfter).toMatchObject({ verdict: 'warn', data: { protKeys: r.unlocked, protBufs: 0 } })
  })

  it("warnings: 'always' warns for every unlocked allocation, the default once per allocator", () => {
    const r = scenario(65536, 'warnings')
    expect(r.once.unlocked).toBeGreaterThan(1)
    expect(r.once.warned).toBe(1)
    expect(r.always.unlocked).toBeGreaterThan(1)
    expect(r.always.warned).toBe(r.always.unlocked)
  })

  it('ProtKey.fromFile() of a 32-byte key under 64 KiB: locked, no warning, one live page', () => {
    const r = scenario(65536, 'fromFile')
    expect(r.ok).toBe(true)
    expect(r.locked).toBe(true)
    expect(r.warnings).toEqual([])
    expect(r.liveBytes).toBe(PS)
    // The key's page and the read scratch, which waits in quarantine (and gives its charge back under pressure).
    expect(r.charged).toBeLessThanOrEqual(3 * PS)
  })
})

describe('ProtKey at scale, with CAP_IPC_LOCK (VmLck still counts)', () => {
  it('10,000 live default ProtKey(32)s: at most 40 MiB locked and 30,000 new mappings (were 117 MiB and 30,034)', () => {
    const r = scenario(null, 'many', 10000)
    console.log(`10,000 ProtKey(32): VmLck +${(r.lockedBytes / 2 ** 20).toFixed(1)} MiB, +${r.newMappings} mappings`)
    expect(r.good).toBe(10000)
    expect(r.allLocked).toBe(true)
    expect(r.lockedBytes).toBeLessThanOrEqual(40 * 2 ** 20)
    expect(r.lockedBytes).toBeGreaterThanOrEqual(10000 * PS) // every key's page is really charged
    expect(r.newMappings).toBeLessThanOrEqual(30000)
  })

  it('a 1 GiB ProtBuf freed leaves nothing locked: the cache is bounded in bytes', () => {
    const r = scenario(null, 'big', 2 ** 30)
    expect(r.whileLive).toBeGreaterThanOrEqual(2 ** 30)
    expect(r.afterFree).toBe(0)
  })
})
