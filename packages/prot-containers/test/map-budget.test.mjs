// Map-count exhaustion leaves the process healthy: default ProtKeys are made
// until the budget refuses one with ERR_MAP_LIMIT, and then the process
// allocates 100 MB of JavaScript objects, collects them, starts a worker and
// allocates 1,000 ProtBufs without an abort. Twenty runs under a lowered limit
// (TARSJS_MAP_LIMIT), and one against the kernel's own vm.max_map_count.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FIXTURES, records } from './helpers.mjs'

function exhaust (env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', join(FIXTURES, 'map-exhaust.cjs')], { env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

function expectHealthy (run) {
  expect(run.signal, run.stderr).toBe(null)
  expect(run.code, run.stdout + run.stderr).toBe(0)
  const r = records(run.stdout).RESULT
  expect(r.atLimit.error.code).toBe('ERR_MAP_LIMIT')
  // The reserve was left (counted after the refusal: the runtime may have mapped a few more since).
  expect(r.atLimit.budget.limit - r.atLimit.mappings).toBeGreaterThanOrEqual(r.atLimit.budget.reserve - 32)
  expect(r.atLimit.budget.available).toBeLessThan(64) // and the budget was really spent
  expect(r.heapUsedMb).toBeGreaterThanOrEqual(100)
  expect(r.unreadable).toEqual({})
  expect(r.readable).toBe(r.atLimit.keys)
  // With the keys alive a ProtBuf is made or refused with the typed error, nothing else.
  expect(r.whileFull.made + (r.whileFull.refused.ERR_MAP_LIMIT ?? 0)).toBe(1000)
  expect(r.whileFull.ok).toBe(r.whileFull.made)
  expect(r.worker.made + r.worker.refused).toBe(100)
  expect(r.worker.sum).toBe(32 * r.worker.made)
  // Once the keys are gone, every ProtBuf is made.
  expect(r.afterKeys).toEqual({ made: 1000, refused: {}, ok: 1000 })
  return r
}

describe('map-count exhaustion', () => {
  it('20 runs under a 4,000-mapping limit: each ends in ERR_MAP_LIMIT and keeps working; 0 aborts', async () => {
    const runs = []
    // Two at a time: the host has two cores.
    for (let i = 0; i < 20; i += 2) runs.push(...(await Promise.all([exhaust({ TARSJS_MAP_LIMIT: '4000' }), exhaust({ TARSJS_MAP_LIMIT: '4000' })])))
    const keys = runs.map((run) => expectHealthy(run).atLimit.keys)
    expect(runs.filter((run) => run.signal !== null || run.code !== 0)).toHaveLength(0)
    console.log(`20 runs at a 4,000-mapping limit: ${Math.min(...keys)}-${Math.max(...keys)} keys each before ERR_MAP_LIMIT, 0 aborts`)
  }, 900000)

  it("against the kernel's vm.max_map_count: ERR_MAP_LIMIT with the reserve left, and the process keeps working", async () => {
    const r = expectHealthy(await exhaust({ TARSJS_MAP_LIMIT: '', TARSJS_MAP_RESERVE: '' }))
    expect(r.atLimit.budget.limit).toBe(r.atLimit.budget.maxMapCount)
    expect(r.atLimit.budget.reserve).toBeGreaterThanOrEqual(Math.max(1024, Math.ceil(r.atLimit.budget.maxMapCount * 0.02)))
    console.log(`vm.max_map_count ${r.atLimit.budget.maxMapCount}: ${r.atLimit.keys} live ProtKeys, then ERR_MAP_LIMIT at ${r.atLimit.mappings} mappings`)
  }, 300000)
})
