// How many kernel mappings (VMAs) many small secrets cost: slots are packed
// into pages, pages into guarded mappings, so 100,000 secrets take ~100 VMAs
// where one-mapping-per-secret (libsodium) would take 400,000.
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { NO_QUARANTINE, PAGE, kernel, pa } from './helpers.js'

const require = createRequire(import.meta.url)

describe('kernel mappings used by 100,000 live 32-byte slots', () => {
  it('stay in the low hundreds (printed)', () => {
    const s = new pa.SlotAllocator({ quarantine: NO_QUARANTINE })
    const maps0 = kernel.mapCount()
    const ours0 = kernel.allocatorVmas()
    const live = []
    for (let i = 0; i < 100_000; i++) live.push(s.alloc(32))
    const maps1 = kernel.mapCount()
    const ours1 = kernel.allocatorVmas()
    const stats = s.stats()
    const allocatorVmas = ours1.vmas - ours0.vmas
    console.log(
      `100,000 live 32-byte slots: ${stats.mappings} allocator mappings (${stats.mappedBytes / PAGE} pages mapped, ${stats.lockedBytes / PAGE} locked), ` +
        `${allocatorVmas} kernel VMAs for them (data + guards), process VMA count ${maps0} -> ${maps1} (+${maps1 - maps0}, V8 heap growth included)`
    )
    // 128 slots per page, 16 pages per mapping: 782 pages in 49 mappings.
    expect(stats.lockedBytes / PAGE).toBe(Math.ceil(100_000 / (PAGE / 32)))
    expect(stats.mappings).toBe(Math.ceil(stats.lockedBytes / PAGE / 16))
    expect(ours1.runs - ours0.runs).toBe(stats.mappings) // the kernel sees exactly our mappings
    expect(allocatorVmas).toBeLessThanOrEqual(3 * stats.mappings)
    expect(allocatorVmas).toBeLessThan(1000)
    expect(maps1 - maps0).toBeLessThan(1000)
    for (const a of live) s.free(a)
    s.trim()
    expect(s.stats().mappings).toBe(1) // the warm page's mapping
  })

  it('for comparison, sodium-native: VMAs per sodium_malloc(32) (printed, not asserted)', () => {
    const sodium = require('sodium-native') as { sodium_malloc(n: number): Buffer; sodium_free(b: Buffer): void }
    const maps0 = kernel.mapCount()
    const bufs = Array.from({ length: 1000 }, () => sodium.sodium_malloc(32))
    const perAlloc = (kernel.mapCount() - maps0) / bufs.length
    console.log(`sodium-native 4.3: ${perAlloc} VMAs per 32-byte secret (100,000 would need ${Math.round(perAlloc * 100_000)}; vm.max_map_count is ${require('node:fs').readFileSync('/proc/sys/vm/max_map_count', 'utf8').trim()})`)
    for (const b of bufs) sodium.sodium_free(b)
  })
})
