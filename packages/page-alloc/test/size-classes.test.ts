// Size classes: 16-byte steps to 128, then four per doubling to half a page;
// each request goes to the smallest class that holds it, the rest is canary.
import { describe, expect, it } from 'vitest'
import { PAGE, pa, immediate, slotPlace, pagePlace } from './helpers.js'

const { SLOT_SIZES, MAX_SLOT, PageAllocation, SlotAllocation } = pa
const { SlotAllocator } = immediate

function expectedClasses(max: number): number[] {
  const out = [16, 32, 48, 64, 80, 96, 112, 128]
  for (let base = 128; base < max; base *= 2) for (let k = 5; k <= 8; k++) out.push((base * k) / 4)
  return out.filter((n) => n <= max)
}

const slotSize = (a: unknown) => slotPlace(a).slotSize

describe('size classes', () => {
  it('are 16..128 by 16, then four per doubling, up to MAX_SLOT = half a page', () => {
    expect(MAX_SLOT).toBe(PAGE / 2)
    expect(SLOT_SIZES).toEqual(expectedClasses(MAX_SLOT))
    expect(SLOT_SIZES.at(-1)).toBe(MAX_SLOT)
    for (const size of SLOT_SIZES) expect(size % 16).toBe(0) // slots stay 16-byte aligned
    if (PAGE === 4096) expect(SLOT_SIZES.length).toBe(24)
  })

  it('every length from 1 to MAX_SLOT goes to the smallest class that holds it; a canary fills any slack', () => {
    const s = new SlotAllocator()
    for (let n = 1; n <= MAX_SLOT; n++) {
      const a = s.alloc(n)
      expect(a).toBeInstanceOf(SlotAllocation)
      const size = slotSize(a)
      expect(size).toBe(SLOT_SIZES.find((c) => c >= n))
      expect(s.protections(a).canary).toBe(size > n)
      expect(s.view(a).byteLength).toBe(n)
      s.free(a)
    }
    expect(s.stats().allocations).toBe(0)
  })

  it('MAX_SLOT + 1 and above go to the page allocator', () => {
    const s = new SlotAllocator()
    for (const n of [MAX_SLOT + 1, PAGE - 1, PAGE, PAGE + 1, 3 * PAGE]) {
      const a = s.alloc(n)
      expect(a).toBeInstanceOf(PageAllocation)
      expect(s.protections(a).isolated).toBe(true)
      s.free(a)
    }
  })

  it('a page of each class holds floor(PAGE / size) slots, all distinct', () => {
    for (const size of SLOT_SIZES) {
      const s = new SlotAllocator()
      const per = Math.floor(PAGE / size)
      const all = Array.from({ length: per }, () => s.alloc(size))
      const indices = new Set(all.map((a) => slotPlace(a).index))
      expect(indices.size).toBe(per)
      expect(Math.max(...indices)).toBe(per - 1)
      expect(s.stats().lockedBytes).toBe(PAGE) // all on one page
      const extra = s.alloc(size)
      expect(s.stats().lockedBytes).toBe(2 * PAGE) // the next one needs a second page
      for (const a of [...all, extra]) s.free(a)
    }
  })

  it('data starts are aligned to the advertised alignment', () => {
    const s = new SlotAllocator()
    expect(s.capabilities.alignment).toBe(16)
    for (const n of [1, 16, 17, 100, 1000, MAX_SLOT, MAX_SLOT + 1, 10000]) {
      const a = s.alloc(n)
      const start =
        a instanceof SlotAllocation
          ? slotPlace(a).offset
          : pagePlace(a).start
      expect(start % 16).toBe(0)
      s.free(a)
    }
  })
})
