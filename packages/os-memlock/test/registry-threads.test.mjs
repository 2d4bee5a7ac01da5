// The region registry under worker threads: random map/unmap/view/protect/
// lock/wipe/equals/copy in four workers for a bounded time, plain heap buffers
// checked meanwhile on every thread; afterwards the registry holds exactly the
// live mappings. Before the registry was kept under one rwlock (removal before
// munmap), this crashed or left stale entries in 3 of 5 runs.
import { describe, expect, it } from 'vitest'
import { m, records, runFixture } from './helpers.mjs'

const TEST_ENV = { ...process.env, TARSJS_OS_MEMLOCK_TEST: '1' }

describe('the region registry under worker threads', () => {
  it('4 workers × 4 s of random operations: no crash, no wrong error, the registry equals the live set (0)', () => {
    const res = runFixture('registry-threads.cjs', ['4', '4000'], { nodeArgs: ['--expose-gc'], env: TEST_ENV, timeout: 120000 })
    expect(res.stderr).toBe('')
    expect(res.signal).toBe(null)
    expect(res.status).toBe(0)
    const rec = records(res.stdout)
    expect(rec.BAD).toEqual([])
    expect(rec.REGISTRY).toEqual({ before: 0, after: 0 })
    // every kind of operation ran, many times
    for (const op of ['map', 'unmap', 'view', 'protect', 'lock', 'wipe', 'equals', 'region-op', 'detach', 'heap', 'dead']) {
      expect(rec.OPS[op], op).toBeGreaterThan(50)
    }
    expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
  })

  it('registryCount() is exported only when TARSJS_OS_MEMLOCK_TEST=1 at load', () => {
    expect(m.registryCount).toBe(undefined)
    const res = runFixture('registry-count.cjs', [], { env: TEST_ENV })
    expect(res.stderr).toBe('')
    expect(res.status).toBe(0)
    expect(records(res.stdout).COUNTS).toEqual([0, 1, 2, 1, 1, 0])
  })
})
