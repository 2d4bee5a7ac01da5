// remap(): fresh memory over a range of a region, in place. What the kernel
// then shows (smaps, VmLck), that views over the range are detached first,
// that the region and the registry stay as they were, and that a secret
// mapping refused over RLIMIT_MEMLOCK leaves the range in place.
import { describe, expect, it } from 'vitest'
import { PS, m, readAll, records, runFixture, which } from './helpers.mjs'
import { mapLocated, mappingsOver } from './smaps.mjs'

const SECRET = m.capabilities().memfdSecret

/** Locked memory of some mappings, from smaps (VmLck is the whole process's: other test threads lock and unlock meanwhile). */
const lockedKb = (vmas) => vmas.reduce((sum, v) => sum + (v.kB.Locked ?? 0), 0)

describe('remap', () => {
  it.runIf(SECRET)("'secret' charges only its pages; 'none' gives them back and the guards merge again", () => {
    const { region: r, range } = mapLocated(9 * PS)
    const within = () => mappingsOver(range)
    m.remap(r, 0, 9 * PS, 'none')
    expect(within()).toHaveLength(1)
    for (const page of [1, 3, 5, 7]) m.remap(r, page * PS, PS, 'secret')
    // guard, secret, guard, secret, ... guard: nine mappings, the four secret pages locked (charged).
    expect(within().map((v) => v.perms)).toEqual(['---p', 'rw-s', '---p', 'rw-s', '---p', 'rw-s', '---p', 'rw-s', '---p'])
    expect(within().filter((v) => v.path.startsWith('/secretmem'))).toHaveLength(4)
    expect(within().filter((v) => v.flags.has('lo')).map((v) => v.perms)).toEqual(['rw-s', 'rw-s', 'rw-s', 'rw-s'])
    const view = new Uint8Array(m.view(r, 3 * PS, 16))
    view.fill(7)
    expect(readAll(r, 3 * PS, 16).every((b) => b === 7)).toBe(true)
    m.remap(r, 3 * PS, PS, 'none')
    expect(view.length).toBe(0) // detached before the pages went
    expect(() => m.view(r, 3 * PS, 1)).toThrow(expect.objectContaining({ code: 'ERR_REGION_PROTECTED' }))
    for (const page of [1, 5, 7]) m.remap(r, page * PS, PS, 'none')
    // One PROT_NONE mapping again, nothing locked.
    expect(within().map((v) => [v.perms, v.path, v.flags.has('lo')])).toEqual([['---p', '', false]])
    expect(r.byteLength).toBe(9 * PS)
    m.unmap(r)
  })

  it("'readwrite' gives fresh zero pages over written ones and keeps the rest of the region", () => {
    const r = m.map(3 * PS)
    m.fill(r, 0, 3 * PS, 0xaa)
    const view = new Uint8Array(m.view(r, PS, PS))
    m.remap(r, PS, PS, 'readwrite')
    expect(view.length).toBe(0)
    expect(readAll(r, PS, PS).every((b) => b === 0)).toBe(true)
    expect(readAll(r, 0, PS).every((b) => b === 0xaa)).toBe(true)
    expect(readAll(r, 2 * PS, PS).every((b) => b === 0xaa)).toBe(true)
    m.unmap(r)
  })

  // The AddressSanitizer runtime turns mlock into a no-op (scripts/asan-test.sh): what the kernel locked is checked in the normal suite.
  it.skipIf(process.env.TARSJS_OS_MEMLOCK_BINARY)('a lock on the old pages goes with them', () => {
    const { region: r, range } = mapLocated(3 * PS)
    const within = () => mappingsOver(range, PS, PS)
    m.fill(r, 0, 3 * PS, 0xaa)
    m.lock(r, PS, PS)
    expect(within().map((v) => v.flags.has('lo'))).toEqual([true])
    expect(lockedKb(within())).toBe(PS / 1024)
    m.remap(r, PS, PS, 'readwrite')
    expect(within().some((v) => v.flags.has('lo'))).toBe(false)
    expect(lockedKb(within())).toBe(0)
    m.unmap(r)
  })

  it("'none' makes the range inaccessible to every call, as protect('none') does", () => {
    const r = m.map(2 * PS)
    m.remap(r, 0, PS, 'none')
    expect(() => m.wipe(r, 0, 1)).toThrow(expect.objectContaining({ code: 'ERR_REGION_PROTECTED' }))
    expect(() => m.view(r, 0, 1)).toThrow(expect.objectContaining({ code: 'ERR_REGION_PROTECTED' }))
    m.protect(r, 0, PS, 'readwrite')
    expect(readAll(r, 0, PS).every((b) => b === 0)).toBe(true)
    m.unmap(r)
  })

  const canDrop = which('setpriv') !== null && which('prlimit') !== null && process.getuid() === 0
  it.runIf(SECRET && canDrop)("a 'secret' range refused over RLIMIT_MEMLOCK stays mapped: EAGAIN, then protect() works on it", () => {
    const res = runFixture('remap-limit.cjs', [], {
      wrap: ['setpriv', '--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', '--', 'prlimit', '--memlock=65536']
    })
    expect(res.status, res.stderr).toBe(0)
    const r = records(res.stdout).RESULT
    expect(r.made).toBe(16)
    expect(r.error).toEqual({ code: 'EAGAIN', syscall: 'mmap' })
    expect(r.afterProtect).toBe(true)
  })
})
