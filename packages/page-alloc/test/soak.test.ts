// Soak: 10,000,000 alloc(32) / write / free in one synchronous loop (no await,
// no GC help), in child processes.
//
// What is flat, exactly: VmLck, the allocator's kernel mappings (VMAs and
// mapping count seen in /proc/self/smaps), and every allocator stat.
// RSS is flat when the loop writes with the addon (no ArrayBuffer per
// iteration). Writing through a view creates one external ArrayBuffer per
// iteration, and Node keeps ~200 bytes of finalizer bookkeeping for each
// until the event loop turns: RSS then grows with the loop (~2 GB for 10M)
// and is reused once the loop turns. Measured and bounded below.
import { describe, expect, it } from 'vitest'
import { expectClean, startFixture } from './helpers.js'

const N = 10_000_000

describe('soak: 10 million alloc/write/free in one synchronous loop', () => {
  it('VmLck, allocator mappings and stats exactly flat; RSS flat without views, reclaimable with them', async () => {
    // The two children run side by side (one core each).
    const [native, view] = await Promise.all([startFixture('soak.cjs', ['native', String(N)]), startFixture('soak.cjs', ['view', String(N)])])
    for (const r of [native, view]) {
      expectClean(r)
      const res = r.rec.RESULT
      expect(res.n).toBe(N)
      expect(res.bad).toBe(0)
      expect(res.end.vmLckKb).toBe(res.start.vmLckKb)
      expect(res.end.allocator).toEqual(res.start.allocator)
      expect(res.end.stats).toEqual(res.start.stats)
      expect(res.end.stats.allocations).toBe(0)
      console.log(
        `soak ${res.mode}: ${N} iterations in ${res.ms} ms; VmLck ${res.start.vmLckKb} -> ${res.end.vmLckKb} kB; ` +
          `allocator VMAs ${res.start.allocator.vmas} -> ${res.end.allocator.vmas} (mappings ${res.start.stats.mappings} -> ${res.end.stats.mappings}); ` +
          `process VMAs ${res.start.maps} -> ${res.end.maps} (V8's heap, not ours); RSS ${Math.round(res.start.rssKb / 1024)} -> ${Math.round(res.end.rssKb / 1024)} MB ` +
          `(${(((res.end.rssKb - res.start.rssKb) * 1024) / N).toFixed(1)} bytes/iteration)`
      )
    }
    // Without a view per iteration, RSS is flat (within 16 MB over 10M iterations).
    const n = native.rec.RESULT
    expect(Math.abs(n.end.rssKb - n.start.rssKb)).toBeLessThan(16 * 1024)
    // With a view per iteration, RSS grows by Node's deferred finalizer bookkeeping
    // (bounded: under 512 bytes per iteration, nothing like a page)...
    const v = view.rec.RESULT
    const perIteration = ((v.end.rssKb - v.start.rssKb) * 1024) / N
    expect(perIteration).toBeLessThan(512)
    // ...which is reused once the event loop turns: 1M more iterations add under 16 MB.
    expect(v.again.bad).toBe(0)
    expect(v.again.end.rssKb - v.afterTurn.rssKb).toBeLessThan(16 * 1024)
    expect(v.again.end.vmLckKb).toBe(v.start.vmLckKb)
    expect(v.again.end.allocator).toEqual(v.start.allocator)
    console.log(`soak view: after one event-loop turn, 1,000,000 more iterations moved RSS by ${Math.round((v.again.end.rssKb - v.afterTurn.rssKb) / 1024)} MB`)
  }, 400_000) // about a minute on a quiet host; CI runs other suites beside it
})
