// retire(): free for good, for memory a native holder may keep past any
// quarantine. The view stays attached and reads zeros; the memory is never
// handed to another allocation.
import { describe, expect, it } from 'vitest'
import { expectCode, pa, pagePlace, slotPlace } from './helpers.js'

describe('SlotAllocator#retire', () => {
  it('wipes the slot, keeps its view attached (zeros), never reuses it, and counts it', () => {
    const slots = new pa.SlotAllocator({ quarantine: { frees: 0, bytes: 0 } })
    const a = slots.alloc(32)
    const view = new Uint8Array(slots.view(a))
    view.fill(0x77)
    const place = slotPlace(a)
    slots.retire(a)
    expect(a.freed).toBe(true)
    expect(view.length).toBe(32)
    expect(view.every((x) => x === 0)).toBe(true)
    expect(slots.stats()).toMatchObject({ allocations: 0, retiredBytes: place.slotSize, escapedBytes: 0 })
    // Every slot of the class is taken afterwards: none of them is the retired one.
    const taken = []
    for (let i = 0; i < 4096 / place.slotSize; i++) {
      const b = slots.alloc(32)
      const p = slotPlace(b)
      expect(p.region === place.region && p.offset === place.offset && p.index === place.index).toBe(false)
      taken.push(b)
    }
    view.fill(1) // the holder may still write: nobody else's memory
    for (const b of taken) expect(new Uint8Array(slots.view(b)).every((x) => x === 0)).toBe(true)
    for (const b of taken) slots.free(b)
    expectCode(() => slots.retire(a), 'ERR_DOUBLE_FREE')
    expectCode(() => slots.free(a), 'ERR_DOUBLE_FREE')
  })

  it('a large allocation (page path) is retired as its page allocator does: view kept, zeros, never reused', () => {
    const slots = new pa.SlotAllocator()
    const a = slots.alloc(5000)
    const view = new Uint8Array(slots.view(a))
    view.fill(5)
    slots.retire(a)
    expect(view.length).toBe(5000)
    expect(view.every((x) => x === 0)).toBe(true)
    expect(slots.stats().retiredBytes).toBeGreaterThanOrEqual(8192)
  })
})

describe('PageAllocator#retire', () => {
  it('checks the canary, wipes, keeps the view (zeros), lets the mapping go instead of caching it', () => {
    const pages = new pa.PageAllocator({ quarantine: { frees: 0, bytes: 0 }, integrity: 'throw' })
    const a = pages.alloc(48)
    const view = new Uint8Array(pages.view(a))
    view.fill(9)
    const { region } = pagePlace(a)
    const before = pages.stats()
    pages.retire(a)
    expect(view.length).toBe(48)
    expect(view.every((x) => x === 0)).toBe(true)
    const after = pages.stats()
    expect(after.retiredBytes).toBe(pa.PAGE_SIZE)
    expect(after.cachedPages).toBe(before.cachedPages)
    const b = pages.alloc(48)
    expect(pagePlace(b).region === region && pagePlace(b).start === pagePlace(a as never).start).toBe(false)
    pages.free(b)
  })
})
