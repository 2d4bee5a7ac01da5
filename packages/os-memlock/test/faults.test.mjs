// Protections are real (a forbidden write kills the process), and stale views
// never fault (they are detached before their memory becomes inaccessible).
// Each case runs in its own child process.
import { describe, expect, it } from 'vitest'
import { m, records, runFixture } from './helpers.mjs'
const ps = m.pageSize()

describe("a write after protect('read') is a real fault", () => {
  it('kills the child with SIGSEGV, after the read succeeded', () => {
    const res = runFixture('fault.cjs', ['write-after-read'])
    expect(res.signal).toBe('SIGSEGV')
    expect(res.status).toBe(null)
    const rec = records(res.stdout)
    expect(rec.READ).toEqual({ value: 1, length: 16 })
    expect(rec.WRITING).toEqual({})
    expect(rec.WROTE).toBeUndefined()
  })

  it("control: the same write after protect('readwrite') succeeds and the child exits 0", () => {
    const res = runFixture('fault.cjs', ['write-after-readwrite'])
    expect(res.signal).toBe(null)
    expect(res.status).toBe(0)
    expect(records(res.stdout).WROTE).toEqual({ value: 2 })
    expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
  })

  it.skipIf(!m.capabilities().memfdSecret)('holds for a secret (memfd_secret) region too', () => {
    const res = runFixture('fault.cjs', ['secret-write-after-read'])
    expect(res.signal).toBe('SIGSEGV')
    expect(records(res.stdout).READ).toEqual({ value: 1, length: 16 })
  })

  it('wipe() of a typed array over a read-only view is refused, not a fault', () => {
    // The addon finds the region a typed array belongs to and applies its protection.
    const res = runFixture('fault.cjs', ['wipe-typedarray-after-read'])
    expect(res.signal).toBe(null)
    expect(res.status).toBe(0)
    expect(records(res.stdout).REFUSED).toEqual({ code: 'ERR_REGION_PROTECTED' })
    expect(records(res.stdout).WROTE).toEqual({ value: 1 })
  })

  it('lock() and unlock() refuse a view of a region: munlock would unlock every secret on its pages', () => {
    const region = m.map(2 * ps)
    const view = new Uint8Array(m.view(region, 64, 32))
    const sub = new DataView(view.buffer, 4, 8)
    for (const target of [view, sub]) {
      for (const fn of [m.lock, m.unlock]) {
        let err
        try { fn(target) } catch (e) { err = e }
        expect(err?.code).toBe('ERR_REGION_OWNED')
      }
    }
    // Ordinary memory is still accepted, and the region itself too.
    const plain = new Uint8Array(64)
    m.lock(plain)
    m.unlock(plain)
    m.lock(region, 0, ps)
    m.unlock(region, 0, ps)
    m.unmap(region)
  })
})

function viewsByName (stdout) {
  const out = {}
  for (const line of stdout.split('\n')) {
    if (line.startsWith('VIEW ')) {
      const v = JSON.parse(line.slice(5))
      out[v.name] = v
    }
  }
  return out
}

const DETACHED = {
  byteLength: 0,
  typedLength: 0,
  read: { value: 'undefined' },
  readLast: { value: 'undefined' },
  construct: { threw: 'TypeError' },
  reduce: { threw: 'TypeError' }
}

describe('stale views never fault', () => {
  it("protect('none') detaches exactly the views overlapping the range; the child exits 0", () => {
    const res = runFixture('stale.cjs', ['none'])
    expect(res.signal).toBe(null)
    expect(res.status).toBe(0)
    expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
    const views = viewsByName(res.stdout)
    expect(views.middle).toEqual({ name: 'middle', ...DETACHED })
    expect(views.straddle).toEqual({ name: 'straddle', ...DETACHED })
    // views on the pages left readable stay attached and readable
    for (const name of ['first', 'last']) {
      expect(views[name].byteLength).toBe(16)
      expect(views[name].read).toEqual({ value: 0x42 })
      expect(views[name].construct).toEqual({ value: 16 })
    }
    const rec = records(res.stdout)
    expect(rec.DATAVIEW).toEqual({ threw: 'TypeError' })
    expect(rec.NEWVIEW).toEqual({ threw: 'Error', code: 'ERR_REGION_PROTECTED' })
    // the data survives protect('none'); old views stay detached after readwrite
    expect(rec.AFTER).toEqual({ value: 0x42, oldLength: 0 })
  })

  it('unmap detaches every view; the child exits 0', () => {
    const res = runFixture('stale.cjs', ['unmap'])
    expect(res.signal).toBe(null)
    expect(res.status).toBe(0)
    expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
    const views = viewsByName(res.stdout)
    expect(Object.keys(views).sort()).toEqual(['first', 'last', 'middle', 'straddle'])
    for (const v of Object.values(views)) expect(v).toEqual({ name: v.name, ...DETACHED })
    const rec = records(res.stdout)
    expect(rec.DATAVIEW).toEqual({ threw: 'TypeError' })
    expect(rec.NEWVIEW).toEqual({ threw: 'Error', code: 'ERR_REGION_UNMAPPED' })
    expect(rec.ISMAPPED).toBe(false)
  })
})

describe("protect(..., 'none', { keepViews: true }): the explicit opt-out", () => {
  it('keeps views attached, so touching one kills the child with SIGSEGV (as libsodium does)', () => {
    const res = runFixture('keepviews.cjs', ['touch'])
    expect(res.signal).toBe('SIGSEGV')
    const rec = records(res.stdout)
    expect(rec.KEPT).toEqual({ length: 16, otherLength: 16 })
    expect(rec.TOUCHING).toEqual({})
    expect(rec.VALUE).toBeUndefined()
  })

  it('native calls still refuse the range; after readwrite the same view reads again; the default still detaches', () => {
    const res = runFixture('keepviews.cjs', ['restore'])
    expect(res.signal).toBe(null)
    expect(res.status).toBe(0)
    expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
    const rec = records(res.stdout)
    const refused = { threw: 'Error', code: 'ERR_REGION_PROTECTED' }
    expect(rec.REFUSED).toEqual({ wipe: refused, equals: refused, view: refused, copy: refused })
    expect(rec.RESTORED).toEqual({ length: 16, value: 0x61 })
    expect(rec.DEFAULT).toEqual({ length: 0 })
    expect(rec.UNMAPPED).toEqual({ otherLength: 0 })
  })
})
