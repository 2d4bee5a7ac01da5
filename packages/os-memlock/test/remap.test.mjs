// remap(): fresh memory over a range of a region, in place. What the kernel
// then shows (smaps, VmLck), that views over the range are detached first,
// that the region and the registry stay as they were, and that a secret
// mapping refused over RLIMIT_MEMLOCK leaves the range in place.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { PS, m, readAll, records, runFixture, which } from './helpers.mjs'

const SECRET = m.capabilities().memfdSecret
const vmLckKb = () => Number(/VmLck:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1])

/** The mappings of this process, by start address: [start, end, perms, name]. */
function maps () {
  return readFileSync('/proc/self/maps', 'utf8').trim().split('\n').map((line) => {
    const [range, perms, , , , name = ''] = line.split(/\s+/)
    const [start, end] = range.split('-').map((h) => BigInt('0x' + h))
    return { start, end, perms, name }
  })
}

describe('remap', () => {
  it.runIf(SECRET)("'secret' charges only its pages; 'none' gives them back and the guards merge again", () => {
    const v0 = vmLckKb()
    const before = new Set(maps().map((v) => v.start))
    const r = m.map(9 * PS)
    m.remap(r, 0, 9 * PS, 'none')
    // The region: the one new PROT_NONE mapping of its size. Its kernel mappings are counted inside its range.
    const [own] = maps().filter((v) => !before.has(v.start) && v.end - v.start === BigInt(9 * PS) && v.perms === '---p')
    expect(own).toBeDefined()
    const within = () => maps().filter((v) => v.start >= own.start && v.end <= own.start + BigInt(9 * PS))
    expect(within()).toHaveLength(1)
    for (const page of [1, 3, 5, 7]) m.remap(r, page * PS, PS, 'secret')
    // guard, secret, guard, secret, ... guard: nine mappings, four pages charged.
    expect(within().map((v) => v.perms)).toEqual(['---p', 'rw-s', '---p', 'rw-s', '---p', 'rw-s', '---p', 'rw-s', '---p'])
    expect(within().filter((v) => v.name.startsWith('/secretmem'))).toHaveLength(4)
    expect(vmLckKb() - v0).toBe((4 * PS) / 1024)
    const view = new Uint8Array(m.view(r, 3 * PS, 16))
    view.fill(7)
    expect(readAll(r, 3 * PS, 16).every((b) => b === 7)).toBe(true)
    m.remap(r, 3 * PS, PS, 'none')
    expect(view.length).toBe(0) // detached before the pages went
    expect(() => m.view(r, 3 * PS, 1)).toThrow(expect.objectContaining({ code: 'ERR_REGION_PROTECTED' }))
    for (const page of [1, 5, 7]) m.remap(r, page * PS, PS, 'none')
    expect(vmLckKb()).toBe(v0)
    expect(within().every((v) => v.perms === '---p' && v.name === '')).toBe(true)
    console.log(`after giving the four pages back: ${within().length} kernel mapping(s) in the region`)
    expect(within()).toHaveLength(1)
    expect(r.byteLength).toBe(9 * PS)
    m.unmap(r)
    expect(maps().some((v) => v.start === own.start)).toBe(false)
  })

  it("'readwrite' gives fresh zero pages over written ones, unlocked, and keeps the rest of the region", () => {
    const r = m.map(3 * PS)
    m.fill(r, 0, 3 * PS, 0xaa)
    m.lock(r, PS, PS)
    const v0 = vmLckKb()
    const view = new Uint8Array(m.view(r, PS, PS))
    m.remap(r, PS, PS, 'readwrite')
    expect(view.length).toBe(0)
    expect(vmLckKb()).toBe(v0 - PS / 1024)
    expect(readAll(r, PS, PS).every((b) => b === 0)).toBe(true)
    expect(readAll(r, 0, PS).every((b) => b === 0xaa)).toBe(true)
    expect(readAll(r, 2 * PS, PS).every((b) => b === 0xaa)).toBe(true)
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
