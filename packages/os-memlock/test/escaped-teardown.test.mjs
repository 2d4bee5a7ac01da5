// A view whose memory left its thread (transfer() and a transfer list) must
// survive that thread's teardown: Node finalizes the thread's views then, so
// the region is replaced by zeros in place instead of unmapped. The holder
// reads zeros, never faults, and never sees the secrets mapped afterwards.
import { describe, expect, it } from 'vitest'
import { records, runFixture } from './helpers.mjs'

describe('a view that left its thread, at that thread\'s teardown', () => {
  it('reads and writes zeros after the worker exits or is terminated; later secrets stay intact; the registry holds nothing', () => {
    const res = runFixture('escaped-teardown.cjs', [], { env: { ...process.env, TARSJS_OS_MEMLOCK_TEST: '1' } })
    expect(res.signal).toBe(null)
    expect(res.stderr).toBe('')
    expect(res.status).toBe(0)
    expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
    const rec = records(res.stdout)
    expect(rec.RESULTS.length).toBeGreaterThanOrEqual(4)
    // Node 22+ has transfer(): the memory itself left the worker
    const transfers = typeof ArrayBuffer.prototype.transfer === 'function'
    for (const r of rec.RESULTS) {
      expect(r).toEqual({ mode: r.mode, transferred: transfers, length: 32, before: true, after: true, intact: true })
    }
    expect(rec.REGISTRY.after).toBe(rec.REGISTRY.before)
  })
})
