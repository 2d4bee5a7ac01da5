// dropView(): end one use of a live allocation's view (a ProtKey's window memory is one slot
// kept for the key's life, viewed anew for each window).
import { describe, expect, it } from 'vitest'
import { expectCode, os, pa } from './helpers.js'

describe('SlotAllocator#dropView', () => {
  for (const size of [16, 3000]) {
    it(`detaches the view; the next view() is a fresh one over the same bytes (${size} bytes: ${size > 2048 ? 'page path' : 'slot'})`, () => {
      const slots = new pa.SlotAllocator()
      const a = slots.alloc(size)
      const first = new Uint8Array(slots.view(a))
      first.fill(0x42)
      expect(slots.dropView(a)).toBe(true)
      expect(first.length).toBe(0)
      const second = new Uint8Array(slots.view(a))
      expect(second.length).toBe(size)
      expect(second.every((x) => x === 0x42)).toBe(true)
      expect(slots.dropView(a)).toBe(true)
      expect(slots.dropView(a)).toBe(true) // no view: nothing to detach
      slots.free(a)
      expect(slots.stats()).toMatchObject({ allocations: 0, escapedBytes: 0 })
      expectCode(() => slots.dropView(a), 'ERR_ALLOCATION_FREED')
    })
  }

  it('a view detached by someone else makes it false: the slot counts as escaped, and view() refuses', () => {
    const slots = new pa.SlotAllocator({ warnings: 'always' })
    const a = slots.alloc(24)
    os.detach(slots.view(a))
    expect(slots.dropView(a)).toBe(false)
    expectCode(() => slots.view(a), 'ERR_VIEW_ESCAPED')
    slots.free(a)
    expect(slots.stats().escapedBytes).toBe(32)
  })
})
