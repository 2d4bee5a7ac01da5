// Worker threads: the addon loads in each, and a worker that exits or is
// terminated with live regions and views is torn down without a crash.
import { describe, expect, it } from 'vitest'
import { PS, m, records, runFixture, typeErr } from './helpers.mjs'

describe('worker threads', () => {
  it('20 workers exit with live regions and views; one is terminated; the process carries on', () => {
    const res = runFixture('worker.cjs')
    expect(res.stderr).toBe('')
    expect(res.signal).toBe(null)
    expect(res.status).toBe(0)
    expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
    const rec = records(res.stdout)
    // the views whose 16 bytes touch page 1, the page each worker protects 'none'
    let expected = 0
    for (let i = 0; i < 1000; i++) {
      const off = (i * 37) % (4 * PS - 16)
      if (off < 2 * PS && PS < off + 16) expected++
    }
    expect(expected).toBeGreaterThan(0)
    expect(rec.EXITS).toHaveLength(20)
    for (const e of rec.EXITS) expect(e).toEqual({ code: 0, detached: expected, first: 9 })
    expect(rec.LINGER).toEqual({ detached: expected, first: 9 })
    expect(rec.TERMINATED).toBe(1)
    expect(rec.MAIN).toBe(3)
  })

  it('a Region cannot cross threads: its structured clone is a plain object the API refuses', () => {
    const r = m.map(PS)
    const clone = structuredClone(r)
    expect(clone).toEqual({ byteLength: PS, secret: false })
    typeErr(() => m.view(clone, 0, 1))
    typeErr(() => m.unmap(clone))
    m.unmap(r)
  })
})
