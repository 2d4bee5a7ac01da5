// Misuse that leaves memory intact throws a typed error and loses nothing:
// double free, foreign allocations, use after free, protect on a slot, a view
// of an inaccessible allocation. Integrity failures under the 'throw' policy.
import { describe, expect, it } from 'vitest'
import { expectCode, expectUnchanged, holds, os, pa, pattern, put, slotPlace, immediate, pagePlace } from './helpers.js'
import type * as PA from '../src/index.js'

const { MAX_SLOT } = pa
const { SlotAllocator, PageAllocator } = immediate
type Any = PA.SlotAllocator | PA.PageAllocator

/** An allocator with live, patterned allocations (the bystanders that must survive). */
function setup<T extends Any>(allocator: T, sizes: number[]): { allocator: T; live: Array<[PA.Allocation, Buffer]> } {
  const live = sizes.map((n, i): [PA.Allocation, Buffer] => {
    const a = allocator.alloc(n)
    const bytes = pattern(7 * i + n, n)
    put(allocator, a, bytes)
    return [a, bytes]
  })
  return { allocator, live }
}

const SLOT_SIZES_USED = [1, 20, 32, 32, 100, 2048, MAX_SLOT + 1, 9000]
const PAGE_SIZES_USED = [0, 1, 100, 4096, 9000]

describe('double free (ERR_DOUBLE_FREE)', () => {
  it('slot allocations, small and large', () => {
    const { allocator: s, live } = setup(new SlotAllocator(), SLOT_SIZES_USED)
    for (const n of [32, 20, MAX_SLOT + 1]) {
      const a = s.alloc(n)
      s.free(a)
      expectUnchanged(s, live, () => expectCode(() => s.free(a), 'ERR_DOUBLE_FREE'))
    }
  })

  it('a stale handle whose slot now holds another secret: the new secret survives', () => {
    const s = new SlotAllocator()
    const a = s.alloc(32)
    s.free(a)
    // Fill every slot of the page: one of them is a's old slot.
    const { live } = setup(s, Array(128).fill(32))
    expect(live.some(([b]) => slotPlace(b).index === slotPlace(a).index)).toBe(true)
    expectUnchanged(s, live, () => expectCode(() => s.free(a), 'ERR_DOUBLE_FREE'))
  })

  it('page allocations', () => {
    const { allocator: p, live } = setup(new PageAllocator(), PAGE_SIZES_USED)
    const a = p.alloc(64)
    p.free(a)
    expectUnchanged(p, live, () => expectCode(() => p.free(a), 'ERR_DOUBLE_FREE'))
  })
})

describe('foreign allocations (ERR_FOREIGN_ALLOCATION)', () => {
  const methods = {
    free: (x: Any, a: unknown) => x.free(a as PA.Allocation),
    view: (x: Any, a: unknown) => x.view(a as PA.Allocation),
    protect: (x: Any, a: unknown) => x.protect(a as PA.Allocation, 'read'),
    protections: (x: Any, a: unknown) => x.protections(a as PA.Allocation)
  }

  it("another SlotAllocator's allocations, small and large", () => {
    const { allocator: s, live } = setup(new SlotAllocator(), SLOT_SIZES_USED)
    const other = new SlotAllocator()
    const theirs = [other.alloc(32), other.alloc(MAX_SLOT + 1)]
    for (const [name, call] of Object.entries(methods)) {
      for (const a of theirs) {
        expectUnchanged(s, live, () => expectCode(() => call(s, a), 'ERR_FOREIGN_ALLOCATION'))
        expect(a.freed, name).toBe(false)
      }
    }
    for (const a of theirs) other.free(a) // still theirs to free
  })

  it("another PageAllocator's allocations, and a SlotAllocator's", () => {
    const { allocator: p, live } = setup(new PageAllocator(), PAGE_SIZES_USED)
    const other = new PageAllocator()
    const slots = new SlotAllocator()
    const theirs = [other.alloc(32), slots.alloc(32), slots.alloc(MAX_SLOT + 1)]
    for (const call of Object.values(methods)) {
      for (const a of theirs) expectUnchanged(p, live, () => expectCode(() => call(p, a), 'ERR_FOREIGN_ALLOCATION'))
    }
    other.free(theirs[0] as PA.Allocation)
    slots.free(theirs[1] as PA.Allocation)
    slots.free(theirs[2] as PA.Allocation)
  })

  it("a PageAllocator's allocation given to a SlotAllocator", () => {
    const { allocator: s, live } = setup(new SlotAllocator(), SLOT_SIZES_USED)
    const p = new PageAllocator()
    const a = p.alloc(5000)
    for (const call of Object.values(methods)) expectUnchanged(s, live, () => expectCode(() => call(s, a), 'ERR_FOREIGN_ALLOCATION'))
    p.free(a)
  })

  it('plain objects, even ones shaped like an allocation', () => {
    const { allocator: s, live } = setup(new SlotAllocator(), SLOT_SIZES_USED)
    const { allocator: p, live: pLive } = setup(new PageAllocator(), PAGE_SIZES_USED)
    const real = live[2]?.[0] as PA.Allocation
    const realPage = pLive[2]?.[0] as PA.Allocation
    // Objects of the right class, with the right allocator, but no internals of their own.
    // (The handles' public fields are getters on the prototype: own data properties shadow them.)
    const own = (value: unknown) => ({ value, enumerable: true })
    const forged = (proto: object, allocator: object) =>
      Object.create(proto, { byteLength: own(32), allocator: own(allocator), home: own(allocator), freed: own(false) }) as object
    const fakes = [{}, { byteLength: 32, allocator: s, freed: false }, { ...real }, Object.create(real), new Uint8Array(32), []]
    const slotFakes = [...fakes, forged(Object.getPrototypeOf(real), s)]
    const pageFakes = [...fakes, { ...realPage }, Object.create(realPage), forged(Object.getPrototypeOf(realPage), p)]
    for (const call of Object.values(methods)) {
      for (const fake of slotFakes) expectUnchanged(s, live, () => expectCode(() => call(s, fake), 'ERR_FOREIGN_ALLOCATION'))
      for (const fake of pageFakes) expectUnchanged(p, pLive, () => expectCode(() => call(p, fake), 'ERR_FOREIGN_ALLOCATION'))
    }
  })

  it('a copy of a live handle (prototype and internals cloned) is not the handle', () => {
    const clone = <T extends object>(x: T): T => Object.assign(Object.create(Object.getPrototypeOf(x)), x)
    for (const { allocator, live } of [setup(new SlotAllocator(), SLOT_SIZES_USED), setup(new PageAllocator(), PAGE_SIZES_USED)]) {
      for (const n of [32, 5000]) {
        const a = allocator.alloc(n)
        const copy = clone(a)
        expect(copy).toBeInstanceOf(Object.getPrototypeOf(a).constructor)
        for (const call of Object.values(methods)) expectUnchanged(allocator, live, () => expectCode(() => call(allocator, copy), 'ERR_FOREIGN_ALLOCATION'))
        allocator.free(a)
        // A copy taken while live must not free the memory once it serves another secret.
        const next = allocator.alloc(n)
        const bytes = pattern(5, n)
        put(allocator, next, bytes)
        expectUnchanged(allocator, [...live, [next, bytes]], () => expectCode(() => allocator.free(copy), 'ERR_FOREIGN_ALLOCATION'))
        allocator.free(next)
      }
    }
  })

  it('non-objects throw ERR_INVALID_ARG_TYPE', () => {
    const { allocator: s, live } = setup(new SlotAllocator(), SLOT_SIZES_USED)
    const { allocator: p, live: pLive } = setup(new PageAllocator(), PAGE_SIZES_USED)
    for (const call of Object.values(methods)) {
      for (const bad of [null, undefined, 0, 'allocation', Symbol('a'), 1n, true]) {
        expectUnchanged(s, live, () => expectCode(() => call(s, bad), 'ERR_INVALID_ARG_TYPE'))
        expectUnchanged(p, pLive, () => expectCode(() => call(p, bad), 'ERR_INVALID_ARG_TYPE'))
      }
    }
  })
})

describe('use after free (ERR_ALLOCATION_FREED)', () => {
  it('view, protect and protections of a freed slot or page allocation', () => {
    for (const { allocator, live } of [setup(new SlotAllocator(), SLOT_SIZES_USED), setup(new PageAllocator(), PAGE_SIZES_USED)]) {
      for (const n of [32, MAX_SLOT + 1]) {
        const a = allocator.alloc(n)
        allocator.free(a)
        expectUnchanged(allocator, live, () => {
          expectCode(() => allocator.view(a), 'ERR_ALLOCATION_FREED')
          expectCode(() => allocator.protections(a), 'ERR_ALLOCATION_FREED')
          if (allocator instanceof PageAllocator || n > MAX_SLOT) expectCode(() => allocator.protect(a, 'read'), 'ERR_ALLOCATION_FREED')
        })
      }
    }
  })
})

describe('protect on a slot allocation (ERR_NOT_ISOLATED)', () => {
  it('refused for every access; the slot and its neighbours stay usable', () => {
    const { allocator: s, live } = setup(new SlotAllocator(), SLOT_SIZES_USED)
    const [a, bytes] = live[2] as [PA.Allocation, Buffer]
    for (const access of ['none', 'read', 'readwrite'] as const) {
      expectUnchanged(s, live, () => expectCode(() => s.protect(a, access), 'ERR_NOT_ISOLATED'))
    }
    expect(s.protections(a).access).toBe('readwrite')
    expect(holds(s, a, bytes)).toBe(true)
    // Foreign beats not-isolated: the ownership check comes first.
    expectCode(() => s.protect(new SlotAllocator().alloc(16), 'read'), 'ERR_FOREIGN_ALLOCATION')
  })
})

describe("a view of an allocation protected 'none' (ERR_NO_ACCESS)", () => {
  it('throws until the access is restored; the content survives', () => {
    for (const { allocator, live } of [setup(new PageAllocator(), PAGE_SIZES_USED), setup(new SlotAllocator(), SLOT_SIZES_USED)]) {
      const a = allocator.alloc(6000)
      const bytes = pattern(42, 6000)
      put(allocator, a, bytes)
      allocator.protect(a, 'none')
      expectUnchanged(allocator, live, () => expectCode(() => allocator.view(a), 'ERR_NO_ACCESS'))
      allocator.protect(a, 'readwrite')
      expect(holds(allocator, a, bytes)).toBe(true)
      allocator.free(a)
    }
  })

  it('an invalid access value throws ERR_INVALID_ARG_VALUE and changes nothing', () => {
    const { allocator: p, live } = setup(new PageAllocator(), PAGE_SIZES_USED)
    const [a] = live[2] as [PA.Allocation, Buffer]
    for (const bad of ['rw', 'write', '', null, 3]) {
      expectUnchanged(p, live, () => expectCode(() => p.protect(a, bad as PA.Access), 'ERR_INVALID_ARG_VALUE'))
      expect(p.protections(a).access).toBe('readwrite')
    }
  })
})

describe("integrity failure under the 'throw' policy (for tests)", () => {
  it('a corrupted slot canary makes free throw ERR_INTEGRITY; nothing is freed; repaired, it frees', () => {
    const { allocator: s, live } = setup(new SlotAllocator({ integrity: 'throw' }), SLOT_SIZES_USED)
    const a = s.alloc(20)
    const { region, offset } = slotPlace(a)
    const probe = new Uint8Array(os.view(region, offset + 20, 1))
    const old = probe[0] as number
    os.fill(region, offset + 20, 1, old ^ 0x01)
    expectUnchanged(s, live, () => {
      const e = expectCode(() => s.free(a), 'ERR_INTEGRITY')
      expect(e.message).toBe('tarsjs: integrity failure: canary after a 20-byte slot was overwritten (buffer overflow)')
    })
    expect(a.freed).toBe(false)
    os.fill(region, offset + 20, 1, old)
    os.detach(probe.buffer)
    s.free(a)
    expect(a.freed).toBe(true)
  })

  it('every byte of the slot slack is checked', () => {
    const s = new SlotAllocator({ integrity: 'throw' })
    for (const n of [1, 17, 33, 129, 1000]) {
      const a = s.alloc(n)
      const { region, offset, slotSize } = slotPlace(a)
      for (let k = n; k < slotSize; k++) {
        const probe = new Uint8Array(os.view(region, offset + k, 1))
        const old = probe[0] as number
        os.detach(probe.buffer)
        os.fill(region, offset + k, 1, old ^ 0x80)
        expectCode(() => s.free(a), 'ERR_INTEGRITY')
        os.fill(region, offset + k, 1, old)
      }
      s.free(a)
    }
  })

  it('an overflow by one byte is caught for every length with slack; a length that fills its class exactly reports canary: false', () => {
    const s = new SlotAllocator({ integrity: 'throw' })
    for (const size of pa.SLOT_SIZES) {
      const exact = s.alloc(size)
      expect(s.protections(exact).canary).toBe(false)
      s.free(exact)
      const a = s.alloc(size - 1)
      expect(s.protections(a).canary).toBe(true)
      const { region, offset } = slotPlace(a)
      const probe = new Uint8Array(os.view(region, offset + size - 1, 1))
      const old = probe[0] as number
      os.detach(probe.buffer)
      os.fill(region, offset + size - 1, 1, old ^ 0x01)
      expectCode(() => s.free(a), 'ERR_INTEGRITY')
      os.fill(region, offset + size - 1, 1, old)
      s.free(a)
    }
  })

  it('page canaries (front and tail) under the throw policy', () => {
    const p = new PageAllocator({ integrity: 'throw' })
    const a = p.alloc(100)
    const { start, region: mappedRegion } = pagePlace(a)
    const mapped = { mapping: { region: mappedRegion } }
    const region = mapped.mapping.region
    for (const [at, what] of [
      [start - 1, 'before a 100-byte page allocation was overwritten (buffer underflow)'],
      [start - 16, 'before a 100-byte page allocation was overwritten (buffer underflow)'],
      [start + 100, 'after a 100-byte page allocation was overwritten (buffer overflow)'],
      [start + 111, 'after a 100-byte page allocation was overwritten (buffer overflow)']
    ] as const) {
      const probe = new Uint8Array(os.view(region, at, 1))
      const old = probe[0] as number
      os.detach(probe.buffer)
      os.fill(region, at, 1, old ^ 0xff)
      const stats = p.stats()
      expect(expectCode(() => p.free(a), 'ERR_INTEGRITY').message).toBe(`tarsjs: integrity failure: canary ${what}`)
      expect(p.stats()).toEqual(stats)
      os.fill(region, at, 1, old)
    }
    p.free(a)
  })
})

describe('a failed canary check on free of a no-access page allocation (throw policy)', () => {
  it('leaves the allocation live and says truly what its pages are: read-write, as free left them', () => {
    const p = new PageAllocator({ integrity: 'throw', secretmem: 'off' })
    const a = p.alloc(32)
    new Uint8Array(p.view(a)).fill(0x42)
    const { start, region: mappedRegion } = pagePlace(a)
    const mapped = { mapping: { region: mappedRegion } }
    const region = mapped.mapping.region
    const probe = new Uint8Array(os.view(region, start - 1, 1))
    const old = probe[0] as number
    os.detach(probe.buffer)
    os.fill(region, start - 1, 1, old ^ 0xff)
    p.protect(a, 'none')
    expectCode(() => p.free(a), 'ERR_INTEGRITY')
    expect(a.freed).toBe(false)
    expect(p.protections(a).access).toBe('readwrite')
    expect(new Uint8Array(p.view(a)).every((b) => b === 0x42)).toBe(true)
    os.fill(region, start - 1, 1, old)
    p.free(a)
    expect(p.stats().allocations).toBe(0)
  })
})

describe('a PageAllocator shared as the large allocator of a SlotAllocator', () => {
  it("accepts the slot allocator's large allocations only through the slot allocator", () => {
    const large = new PageAllocator({ secretmem: 'off' })
    const slot = new SlotAllocator({ large })
    const a = slot.alloc(MAX_SLOT + 1)
    const own = large.alloc(64)
    const before = large.stats()
    expectCode(() => large.free(a), 'ERR_FOREIGN_ALLOCATION')
    expectCode(() => large.view(a), 'ERR_FOREIGN_ALLOCATION')
    expectCode(() => large.protect(a, 'none'), 'ERR_FOREIGN_ALLOCATION')
    expectCode(() => large.protections(a), 'ERR_FOREIGN_ALLOCATION')
    expectCode(() => slot.free(own), 'ERR_FOREIGN_ALLOCATION')
    expect(large.stats()).toEqual(before)
    expect(a.freed).toBe(false)
    new Uint8Array(slot.view(a)).fill(7)
    expect(slot.protections(a).isolated).toBe(true)
    slot.free(a)
    large.free(own)
    expect(large.stats().allocations).toBe(0)
  })
})
