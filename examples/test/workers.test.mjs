// workers.mjs: each worker thread has its own allocators, they run at the
// same time, and each reports its own stats (live secrets counted while alive,
// none after dispose); the main thread's allocator is untouched.

import { describe, expect, it } from 'vitest'
import { canDropPrivilege, run, runUnprivileged } from './helpers.mjs'

function workerReports (stdout) {
  return [...stdout.matchAll(/^worker (\d+) \(thread (\d+)\): (\d+) HMACs in [\d.]+ ms, key intact after: (true|false)\n {2}while alive {2}slot: (\d+) ProtBufs in (\d+) mapping\(s\), locked (\d+) KiB \| page: (\d+) ProtKey, locked (\d+) KiB\n {2}after dispose slot: (\d+) live, cached pages \d+ \| page: (\d+) live/gm)]
    .map((m) => ({
      index: Number(m[1]),
      thread: Number(m[2]),
      macs: Number(m[3]),
      intact: m[4] === 'true',
      aliveBufs: Number(m[5]),
      mappings: Number(m[6]),
      lockedKiB: Number(m[7]),
      aliveKeys: Number(m[8]),
      afterBufs: Number(m[10]),
      afterKeys: Number(m[11])
    }))
}

describe('workers.mjs', () => {
  it('runs workers concurrently, each with its own allocators and stats', () => {
    const { status, stdout, stderr } = run('workers.mjs', ['--workers', '3', '--ops', '300'])
    expect(stderr).toBe('')
    expect(status).toBe(0)
    expect(stdout).toContain('3 workers × 300 operations')
    const reports = workerReports(stdout)
    expect(reports.map((r) => r.index).sort()).toEqual([0, 1, 2])
    expect(new Set(reports.map((r) => r.thread)).size).toBe(3)
    for (const r of reports) {
      expect(r.macs).toBe(300)
      expect(r.intact).toBe(true)
      expect(r.aliveBufs).toBe(30) // every tenth ProtBuf kept alive
      expect(r.aliveKeys).toBe(1)
      expect(r.mappings).toBe(1) // 30 secrets of 32 bytes share one guarded mapping
      expect(r.lockedKiB).toBeGreaterThan(0)
      expect(r.afterBufs).toBe(0)
      expect(r.afterKeys).toBe(0)
    }
    expect(stdout).toContain('all workers were working at the same time: true')
    expect(stdout).toContain('each worker ran on a thread of its own: true')
    expect(stdout).toContain("main thread's default allocator: 1 allocation (its own secret), untouched by the workers: true")
    expect(stdout).toMatch(/\nOK\n$/)
  })

  it('refuses a bad option', () => {
    expect(run('workers.mjs', ['--workers', '0']).status).toBe(2)
  })

  it.skipIf(!canDropPrivilege)('without the right to lock memory: same work, nothing locked, each allocator says so', () => {
    const { status, stdout, stderr } = runUnprivileged(0, 'workers.mjs', ['--workers', '2', '--ops', '100'])
    expect(status).toBe(0)
    const reports = workerReports(stdout)
    expect(reports).toHaveLength(2)
    for (const r of reports) expect(r.lockedKiB).toBe(0)
    expect(stdout).toMatch(/\nOK\n$/)
    // One warning per allocator that could not lock, with its stable code.
    expect(stderr).toContain('[TARSJS_MLOCK_FAILED]')
  })
})
