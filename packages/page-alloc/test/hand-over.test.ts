// Views handed over (PageAllocator#handOverView / #freeHandedOver): the
// allocator keeps no reference to them, so the wrapper that holds one (a
// libsodium-style secure buffer) can be collected; freeing with the view back
// detaches it, freeing without it lets the mapping go instead of reusing it.
import { describe, expect, it } from 'vitest'
import { NO_QUARANTINE, expectCode, kernel, os, pa } from './helpers.js'

describe('PageAllocator hand-over of views', () => {
  it('hands over one fresh view, not the allocator\'s own, over the same memory', () => {
    const pages = new pa.PageAllocator()
    const a = pages.alloc(16)
    const held = pages.handOverView(a)
    expect(held.byteLength).toBe(16)
    expect(held).not.toBe(pages.view(a))
    new Uint8Array(held).fill(7)
    expect([...new Uint8Array(pages.view(a))]).toEqual(new Array(16).fill(7))
    pages.freeHandedOver(a, held)
    expect(a.freed).toBe(true)
    expect(held.byteLength).toBe(0)
    expect(pages.stats().escapedBytes).toBe(0)
  })

  it('a second hand-over of one allocation throws ERR_VIEW_HANDED_OVER; the first view stays the one to give back', () => {
    const pages = new pa.PageAllocator()
    for (const size of [0, 24]) {
      const a = pages.alloc(size)
      const held = pages.handOverView(a)
      expectCode(() => pages.handOverView(a), 'ERR_VIEW_HANDED_OVER')
      expect(held.byteLength).toBe(size)
      pages.freeHandedOver(a, held)
      expect(a.freed).toBe(true)
    }
  })

  it('freeHandedOver with any other ArrayBuffer throws ERR_INVALID_ARG_VALUE and changes nothing: no view detached, nothing freed or wiped', () => {
    const pages = new pa.PageAllocator()
    const other = new pa.PageAllocator()
    const a = pages.alloc(32)
    const b = pages.alloc(32)
    const c = other.alloc(32)
    const heldA = pages.handOverView(a)
    const heldB = pages.handOverView(b)
    const heldC = other.handOverView(c)
    new Uint8Array(heldA).fill(0xa1)
    new Uint8Array(heldB).fill(0xb2)
    new Uint8Array(heldC).fill(0xc3)
    const plain = pages.alloc(32)
    new Uint8Array(pages.view(plain)).fill(0xd4)
    const wrong = [
      heldB, // another live allocation's handed view
      heldC, // another allocator's
      pages.view(a), // the allocator's own view of a, not the handed one
      pages.view(plain), // a plain allocation's view
      new ArrayBuffer(32), // heap memory
      os.view(os.map(4096), 0, 32) // an os-memlock view of memory no allocator owns
    ]
    for (const view of wrong) {
      const length = view.byteLength
      expectCode(() => pages.freeHandedOver(a, view), 'ERR_INVALID_ARG_VALUE')
      expect(view.byteLength).toBe(length)
    }
    expect(a.freed || b.freed || c.freed || plain.freed).toBe(false)
    expect(new Uint8Array(heldA).every((x) => x === 0xa1)).toBe(true)
    expect(new Uint8Array(heldB).every((x) => x === 0xb2)).toBe(true)
    expect(new Uint8Array(heldC).every((x) => x === 0xc3)).toBe(true)
    expect(new Uint8Array(pages.view(plain)).every((x) => x === 0xd4)).toBe(true)
    // Freed by a free of b: a's view is not b's either.
    pages.freeHandedOver(b, heldB)
    expectCode(() => pages.freeHandedOver(a, heldB), 'ERR_INVALID_ARG_VALUE')
    expect(heldA.byteLength).toBe(32)
    pages.freeHandedOver(a, heldA)
    other.freeHandedOver(c, heldC)
    pages.free(plain)
    expect(heldA.byteLength + heldC.byteLength).toBe(0)
    expect([pages.stats().escapedBytes, other.stats().escapedBytes]).toEqual([0, 0])
  })

  it('an empty allocation hands over an empty view, and is freed without counting as escaped', () => {
    const pages = new pa.PageAllocator()
    const a = pages.alloc(0)
    const held = pages.handOverView(a)
    expect(held.byteLength).toBe(0)
    pages.freeHandedOver(a, held)
    expect(a.freed).toBe(true)
    expect(pages.stats().escapedBytes).toBe(0)
  })

  it('freed with its view back, the mapping is cached for reuse; freed without it, it is let go', async () => {
    const pages = new pa.PageAllocator({ quarantine: NO_QUARANTINE })
    const a = pages.alloc(32)
    pages.freeHandedOver(a, pages.handOverView(a))
    await new Promise((resolve) => setImmediate(resolve))
    expect(pages.stats().cachedPages).toBe(1)
    const b = pages.alloc(32)
    expect(pages.stats().cacheHits).toBe(1)
    const mappings = pages.stats().mappings
    pages.handOverView(b)
    pages.freeHandedOver(b, undefined)
    await new Promise((resolve) => setImmediate(resolve))
    expect(pages.stats().mappings).toBe(mappings - 1)
    expect(pages.stats().cachedPages).toBe(0)
    expect(pages.stats().escapedBytes).toBe(0)
  })

  it("protect(a, 'none') without keepViews once a view was handed over throws ERR_VIEW_HANDED_OVER and changes nothing; with keepViews it is the holder's call", () => {
    const pages = new pa.PageAllocator()
    const a = pages.alloc(32)
    const held = pages.handOverView(a)
    new Uint8Array(held).fill(0x66)
    os.detach(held) // as transfer() would: its memory may now be in an ArrayBuffer nobody can detach
    expectCode(() => pages.protect(a, 'none'), 'ERR_VIEW_HANDED_OVER')
    expectCode(() => pages.protect(a, 'none', { relocate: true }), 'ERR_VIEW_HANDED_OVER')
    expect(pages.protections(a).access).toBe('readwrite')
    expect(new Uint8Array(pages.view(a)).every((b) => b === 0x66)).toBe(true)
    const b = pages.alloc(32)
    const kept = pages.handOverView(b)
    pages.protect(b, 'none', { keepViews: true })
    pages.protect(b, 'readwrite', { keepViews: true })
    expect(kept.byteLength).toBe(32)
    pages.freeHandedOver(a, held)
    pages.freeHandedOver(b, kept)
    expect(a.freed && b.freed).toBe(true)
  })

  const kinds: ['off' | 'required', boolean][] = [['off', true], ['required', os.capabilities().memfdSecret]]
  it.each(kinds)('a mapping let go (holder collected, or view escaped) gives its lock back to the kernel, though it stays mapped in its reservation (secretmem %s)', (secretmem, available) => {
    if (!available) return
    const pages = new pa.PageAllocator({ secretmem, quarantine: NO_QUARANTINE })
    // One live page keeps the shared reservation (and so every let-go page in it) mapped.
    const keep = pages.alloc(32)
    const held = Array.from({ length: 24 }, () => pages.alloc(32))
    for (const a of held) pages.handOverView(a)
    const escaped = pages.alloc(32)
    os.detach(pages.handOverView(escaped))
    expect(pages.protections(keep).locked).toBe(true)
    expect(pages.protections(keep).secretmem).toBe(secretmem === 'required')
    const before = kernel.status('VmLck')
    const lockedBefore = pages.stats().lockedBytes
    for (const a of held) pages.freeHandedOver(a, undefined)
    pages.free(escaped)
    // 25 pages of 4 KiB each: the kernel's count and the allocator's went down together.
    expect(before - kernel.status('VmLck')).toBe(25 * (pa.PAGE_SIZE / 1024))
    expect(lockedBefore - pages.stats().lockedBytes).toBe(25 * pa.PAGE_SIZE)
    expect(pages.protections(keep).locked).toBe(true)
    pages.free(keep)
  })

  it('a handed-over view detached by someone else counts as escaped: the mapping is never reused', async () => {
    const pages = new pa.PageAllocator({ quarantine: NO_QUARANTINE })
    const a = pages.alloc(64)
    const held = pages.handOverView(a)
    os.detach(held) // as transfer() or a transfer list would, from the allocator's point of view
    pages.freeHandedOver(a, held)
    await new Promise((resolve) => setImmediate(resolve))
    expect(a.freed).toBe(true)
    expect(pages.stats().escapedBytes).toBe(pa.PAGE_SIZE)
    expect(pages.stats().cachedPages).toBe(0)
  })

  it('refuses what is not an ArrayBuffer, another allocator\'s allocation, and a double free', () => {
    const pages = new pa.PageAllocator()
    const other = new pa.PageAllocator()
    const a = pages.alloc(8)
    expectCode(() => pages.freeHandedOver(a, new Uint8Array(8) as never), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => other.handOverView(a), 'ERR_FOREIGN_ALLOCATION')
    expectCode(() => other.freeHandedOver(a, undefined), 'ERR_FOREIGN_ALLOCATION')
    pages.protect(a, 'none')
    expectCode(() => pages.handOverView(a), 'ERR_NO_ACCESS')
    pages.protect(a, 'readwrite')
    const held = pages.handOverView(a)
    pages.freeHandedOver(a, held)
    expectCode(() => pages.freeHandedOver(a, held), 'ERR_DOUBLE_FREE')
    expectCode(() => pages.handOverView(a), 'ERR_ALLOCATION_FREED')
  })
})
