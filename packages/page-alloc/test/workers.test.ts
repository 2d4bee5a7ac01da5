// Two worker threads, each with its own SlotAllocator, allocating and freeing
// concurrently: no cross-talk (every byte tagged with its worker), both clean.
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { FIXTURES, kernel, pa } from './helpers.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function runWorker(id: number, ops: number): Promise<any> {
  return new Promise((resolve, reject) => {
    const w = new Worker(join(FIXTURES, 'worker.cjs'), { workerData: { id, ops } })
    let result: unknown = null
    w.on('message', (m) => (result = m))
    w.on('error', reject)
    w.on('exit', (code) => (code === 0 && result !== null ? resolve(result) : reject(new Error(`worker ${id} exited with ${code}`))))
  })
}

describe('worker_threads', () => {
  it('two workers, 100k operations each, concurrently: no cross-talk, both finish clean', async () => {
    const v0 = kernel.status('VmLck')
    const [a, b] = await Promise.all([runWorker(1, 100_000), runWorker(2, 100_000)])
    for (const [r, id] of [[a, 1], [b, 2]] as const) {
      expect(r.id).toBe(id)
      expect(r.ops).toBe(100_000)
      expect(r.errors).toBe(0)
      expect(r.allocs).toBe(r.frees)
      expect(r.allocs).toBeGreaterThan(30_000)
      expect(r.maxLive).toBeGreaterThan(64)
      // Freed and trimmed: only the warm pages are left, one per size class used.
      expect(r.stats).toMatchObject({ allocations: 0, bytes: 0, unlockedAllocations: 0 })
      expect(r.stats.lockedBytes).toBeLessThanOrEqual(pa.SLOT_SIZES.length * pa.PAGE_SIZE)
    }
    // A worker's regions are released when its environment is torn down (the
    // addon's finalizers run then): nothing stays locked after both exit.
    expect(kernel.status('VmLck')).toBe(v0)
  })
})
