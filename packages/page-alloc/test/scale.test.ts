// Scale: 1,000,000 live 32-byte secrets in one process (a child with a larger
// heap), each written through its own view and verified; and the same number
// allocated without views, side by side, to show what the views cost.
import { describe, expect, it } from 'vitest'
import { PAGE, expectClean, startFixture } from './helpers.js'

const N = 1_000_000
const PAGES = Math.ceil(N / (PAGE / 32))
const mb = (kb: number) => Math.round(kb / 1024)

describe('scale', () => {
  it('1,000,000 live 32-byte slot allocations (time, RSS and mappings printed)', async () => {
    const nodeArgs = ['--max-old-space-size=4096']
    const [withViews, noViews] = await Promise.all([
      startFixture('million.cjs', [String(N)], { nodeArgs }),
      startFixture('million.cjs', [String(N), 'noview'], { nodeArgs })
    ])
    for (const r of [withViews, noViews]) {
      expectClean(r)
      const res = r.rec.RESULT
      console.log(
        `1,000,000 live 32-byte secrets, ${res.views ? 'each written through its own view' : 'no views'}: alloc${res.views ? '+write' : ''} ${res.allocMs} ms, free ${res.freeMs} ms; ` +
          `RSS ${mb(res.before.rssKb)} -> ${mb(res.full.rssKb)} MB (JS heap ${res.heapUsedMb} MB); ` +
          `${res.stats.mappings} allocator mappings in ${res.full.allocatorVmas - res.before.allocatorVmas} kernel VMAs ` +
          `(process total ${res.before.maps} -> ${res.full.maps}); VmLck ${res.full.vmLckKb} kB`
      )
      expect(res.bad).toBe(0)
      expect(res.stats).toMatchObject({ allocations: N, bytes: 32 * N, unlockedAllocations: 0, lockedBytes: PAGES * PAGE, mappings: Math.ceil(PAGES / 16) })
      expect(res.full.vmLckKb - res.before.vmLckKb).toBe((PAGES * PAGE) / 1024)
      expect(res.sampleLocked).toBe(res.samples)
      expect(res.full.allocatorVmas).toBeLessThanOrEqual(3 * res.stats.mappings)
      // Freed and trimmed: one warm page, its mapping.
      expect(res.afterTrim).toMatchObject({ allocations: 0, bytes: 0, lockedBytes: PAGE, mappings: 1 })
      expect(res.end.vmLckKb).toBe(PAGE / 1024)
    }
    expect(withViews.rec.RESULT.views).toBe(true)
    expect(noViews.rec.RESULT.views).toBe(false)
    const perView = ((withViews.rec.RESULT.full.rssKb - noViews.rec.RESULT.full.rssKb) * 1024) / N
    console.log(`a live view costs about ${Math.round(perView)} bytes of RSS`)
  })
})
