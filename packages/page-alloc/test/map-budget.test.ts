// The map-count budget: new mappings stop short of a reserve of
// vm.max_map_count with ERR_MAP_LIMIT, before any system call, and the
// budget's limit, reserve and use are reported.
import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { expectCode, pa } from './helpers.js'

const { PageAllocator, SlotAllocator, configureMapBudget, mapBudget } = pa
const maps = () => readFileSync('/proc/self/maps', 'utf8').trim().split('\n').length
const MAX = Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8'))
const initial = mapBudget()

afterEach(() => {
  configureMapBudget({ limit: initial.limit, reserve: initial.reserve })
})

describe('map-count budget', () => {
  it("reads vm.max_map_count and keeps 2% of it (at least 1,024) free by default; counts this process's mappings", () => {
    // Node's own threads map and unmap at any moment (more so on a busy machine): the budget's
    // count is compared with counts of /proc/self/maps taken just before and just after it, taken
    // again (up to 10 times) while those two differ.
    let before = maps()
    let b = mapBudget()
    let after = maps()
    for (let i = 0; i < 10 && before !== after; i++) {
      before = maps()
      b = mapBudget()
      after = maps()
    }
    expect(b.maxMapCount).toBe(MAX)
    expect(b.limit).toBe(MAX)
    expect(b.reserve).toBe(Math.max(1024, Math.ceil(MAX * 0.02)))
    expect(b.used).toBeGreaterThanOrEqual(Math.min(before, after) - 2)
    expect(b.used).toBeLessThanOrEqual(Math.max(before, after) + 2)
    expect(b.available).toBe(b.limit - b.reserve - b.used)
    expect(new PageAllocator().stats().mapBudget).toMatchObject({ limit: MAX, reserve: b.reserve })
  })

  it('refuses a new mapping with ERR_MAP_LIMIT before any system call, then works again once mappings are given back', () => {
    const p = new PageAllocator({ cacheLimit: 0, quarantine: { frees: 0, bytes: 0 } })
    const used = mapBudget().used
    configureMapBudget({ limit: used + 40, reserve: 10 })
    const live = []
    let err: unknown = null
    for (let i = 0; i < 40; i++) {
      try {
        live.push(p.alloc(5000)) // two data pages: a mapping of its own (three kernel mappings)
      } catch (e) {
        err = e
        break
      }
    }
    expect((err as { code?: string }).code).toBe('ERR_MAP_LIMIT')
    expect(live.length).toBeGreaterThan(0)
    // Every allocation costs at least one mapping: the allocator stopped before the reserve.
    expect(p.stats().mappings).toBe(live.length)
    expect(live.length).toBeLessThanOrEqual(40 - 10)
    // So did the process's, give or take what Node's own threads mapped meanwhile.
    expect(maps()).toBeLessThanOrEqual(used + 40 - 10 + 32)
    // What the allocator holds must not change. `stats().mapBudget` is the whole process's count,
    // which Node's own threads move at any time (a refusal near the limit re-reads /proc/self/maps).
    const own = (): object => ({ ...p.stats(), mapBudget: null })
    const before = own()
    expectCode(() => p.alloc(5000), 'ERR_MAP_LIMIT')
    expect(own()).toEqual(before)
    expectCode(() => new SlotAllocator().alloc(32), 'ERR_MAP_LIMIT')
    for (const a of live) p.free(a)
    p.trim()
    const again = p.alloc(5000)
    p.free(again)
    p.trim()
  })

  it('configureMapBudget checks its options', () => {
    expectCode(() => configureMapBudget(null as never), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => configureMapBudget(5 as never), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => configureMapBudget({ reserve: -1 }), 'ERR_OUT_OF_RANGE')
    expectCode(() => configureMapBudget({ reserve: 1.5 }), 'ERR_OUT_OF_RANGE')
    expectCode(() => configureMapBudget({ reserve: '5' as never }), 'ERR_OUT_OF_RANGE')
    expectCode(() => configureMapBudget({ limit: 0 }), 'ERR_OUT_OF_RANGE')
    expectCode(() => configureMapBudget({ limit: MAX + 1 }), 'ERR_OUT_OF_RANGE')
    expectCode(() => configureMapBudget({ limit: 100, reserve: 101 }), 'ERR_OUT_OF_RANGE')
    expect(mapBudget()).toMatchObject({ limit: initial.limit, reserve: initial.reserve })
    expect(configureMapBudget({ reserve: 5000 })).toMatchObject({ limit: MAX, reserve: 5000 })
  })
})
