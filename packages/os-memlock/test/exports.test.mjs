// The success path of every export, and what it returns.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PKG, PS, assertWorks, expectThrow, m, readAll } from './helpers.mjs'

describe('the module', () => {
  it('exports exactly the functions index.d.ts declares', () => {
    const dts = readFileSync(join(PKG, 'index.d.ts'), 'utf8')
    const declared = [...dts.matchAll(/^export function (\w+)\(/gm)].map((x) => x[1]).sort()
    expect(declared.length).toBe(20)
    expect(Object.keys(m).sort()).toEqual(declared)
    for (const name of declared) expect(typeof m[name]).toBe('function')
  })
})

describe('pageSize', () => {
  it('is the kernel page size', () => {
    const ps = m.pageSize()
    expect(Number.isInteger(ps)).toBe(true)
    expect(ps & (ps - 1)).toBe(0)
    expect(ps).toBe(Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()))
  })
})

describe('capabilities', () => {
  it('reports seven booleans, the same on every call, in a fresh object', () => {
    const a = m.capabilities()
    const b = m.capabilities()
    expect(Object.keys(a).sort()).toEqual(['externalBuffers', 'madviseDontDump', 'madviseDontFork', 'madviseWipeOnFork', 'memfdSecret', 'mlock', 'protectionKeys'])
    for (const v of Object.values(a)) expect(typeof v).toBe('boolean')
    expect(b).toEqual(a)
    expect(b).not.toBe(a)
  })

  it('agrees with what the calls then do', () => {
    const caps = m.capabilities()
    const r = m.map(PS)
    const tryIt = (fn) => { try { fn(); return true } catch { return false } }
    expect(tryIt(() => { m.lock(r); m.unlock(r) })).toBe(caps.mlock)
    expect(tryIt(() => m.advise(r, 0, PS, 'dontdump'))).toBe(caps.madviseDontDump)
    expect(tryIt(() => m.advise(r, 0, PS, 'wipeonfork'))).toBe(caps.madviseWipeOnFork)
    expect(tryIt(() => m.advise(r, 0, PS, 'dontfork'))).toBe(caps.madviseDontFork)
    expect(tryIt(() => m.unmap(m.map(PS, { secret: true })))).toBe(caps.memfdSecret)
    expect(tryIt(() => m.detach(m.view(r, 0, 1)))).toBe(caps.externalBuffers)
    m.unmap(r)
  })
})

describe('memlockLimit', () => {
  it('matches "Max locked memory" in /proc/self/limits (Infinity when unlimited)', () => {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max locked memory'))
    const [soft, hard] = line.slice('Max locked memory'.length).trim().split(/\s+/)
    const num = (s) => (s === 'unlimited' ? Infinity : Number(s))
    expect(m.memlockLimit()).toEqual({ soft: num(soft), hard: num(hard) })
  })
})

describe('map', () => {
  it('returns a frozen handle with byteLength and secret only, over zeroed read-write memory', () => {
    const r = m.map(3 * PS)
    expect(Object.keys(r).sort()).toEqual(['byteLength', 'secret'])
    expect(r.byteLength).toBe(3 * PS)
    expect(r.secret).toBe(false)
    expect(Object.isFrozen(r)).toBe(true)
    expect(() => { r.byteLength = 1 }).toThrow(TypeError)
    expect(() => { r.extra = 1 }).toThrow(TypeError)
    expect(m.isMapped(r)).toBe(true)
    expect(readAll(r).every((x) => x === 0)).toBe(true)
    assertWorks(r, 2 * PS + 7)
    m.unmap(r)
  })

  it.skipIf(!m.capabilities().memfdSecret)('{ secret: true } returns a secret handle over zeroed read-write memory', () => {
    const r = m.map(2 * PS, { secret: true })
    expect(r.secret).toBe(true)
    expect(readAll(r).every((x) => x === 0)).toBe(true)
    assertWorks(r, PS - 16)
    m.unmap(r)
  })

  it('hands out independent regions', () => {
    const a = m.map(PS)
    const b = m.map(PS)
    m.fill(a, 0, PS, 1)
    expect(readAll(b).every((x) => x === 0)).toBe(true)
    m.unmap(a)
    assertWorks(b)
    m.unmap(b)
  })

  it('reports an impossible size as the OS error ENOMEM', () => {
    // 2^47 bytes: the per-page bookkeeping (malloc) or the mmap itself fails
    const err = expectThrow(() => m.map(2 ** 47), Error, 'ENOMEM')
    expect(err.errno).toBe(12)
    expect(['malloc', 'mmap']).toContain(err.syscall)
  })
})

describe('unmap and isMapped', () => {
  it('unmap returns undefined; isMapped turns false; a second unmap throws', () => {
    const r = m.map(PS)
    expect(m.isMapped(r)).toBe(true)
    expect(m.unmap(r)).toBe(undefined)
    expect(m.isMapped(r)).toBe(false)
    expectThrow(() => m.unmap(r), Error, 'ERR_REGION_UNMAPPED')
  })
})

describe('protect, lock, unlock, advise', () => {
  it('return undefined on success, for every access and advice value', () => {
    const r = m.map(2 * PS)
    for (const access of ['none', 'read', 'readwrite']) expect(m.protect(r, PS, PS, access)).toBe(undefined)
    for (const advice of ['dontdump', 'dodump', 'wipeonfork', 'keeponfork', 'dontfork', 'dofork']) {
      expect(m.advise(r, 0, 2 * PS, advice)).toBe(undefined)
    }
    if (m.capabilities().mlock) {
      expect(m.lock(r)).toBe(undefined)
      expect(m.lock(r, PS)).toBe(undefined) // offset only: the rest of the region
      expect(m.unlock(r, 0, PS)).toBe(undefined)
      expect(m.unlock(r)).toBe(undefined)
      expect(m.unlock(r)).toBe(undefined) // unlocking unlocked memory is fine
    }
    assertWorks(r)
    m.unmap(r)
  })

  it.skipIf(!m.capabilities().mlock)('lock and unlock take any ArrayBufferView, whole or a byte range', () => {
    const buf = Buffer.alloc(10000, 1)
    m.lock(buf)
    m.unlock(buf)
    m.lock(buf, 5000, 10)
    m.unlock(buf, 5000, 10)
    const dv = new DataView(new ArrayBuffer(64), 8, 16)
    m.lock(dv)
    m.unlock(dv)
    const f64 = new Float64Array(16)
    m.lock(f64, 8)
    m.unlock(f64, 8)
    expect(buf.every((x) => x === 1)).toBe(true) // the content is untouched
  })
})

describe('wipe, fill, copy, equals, view, detach', () => {
  it('return what they document', () => {
    const r = m.map(PS)
    expect(m.fill(r, 0, PS, 9)).toBe(undefined)
    expect(m.copy(r, 0, r, 10, 10)).toBe(undefined)
    expect(m.equals(r, 0, r, 100, 50)).toBe(true)
    expect(m.wipe(r, 0, 1)).toBe(undefined)
    expect(m.equals(r, 0, r, 100, 50)).toBe(false)
    const ab = m.view(r, 0, 1)
    expect(ab).toBeInstanceOf(ArrayBuffer)
    expect(m.detach(ab)).toBe(undefined)
    expect(ab.byteLength).toBe(0)
    m.detach(ab) // twice: nothing changes
    expect(ab.byteLength).toBe(0)
    m.unmap(r)
  })
})
