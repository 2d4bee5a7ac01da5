// sodium_mlock / sodium_munlock on memory a tarsjs allocator owns (a slot
// allocation's view, say): the page is shared with other secrets and its lock
// is counted by the allocator, so munlock must wipe but never unlock it.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { os, ours, pa } from './helpers.js'

function vmLckKb(): number {
  const m = /VmLck:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
  return Number(m?.[1])
}

describe('sodium_mlock / sodium_munlock on allocator-owned memory', () => {
  it('munlock of one slot wipes it and leaves the shared page locked', () => {
    const slots = new pa.SlotAllocator({ mlock: 'required' })
    const a = slots.alloc(32)
    const b = slots.alloc(32)
    const va = new Uint8Array(slots.view(a)).fill(0x11)
    const vb = new Uint8Array(slots.view(b)).fill(0x22)
    const before = vmLckKb()
    expect(before).toBeGreaterThan(0)
    ours.sodium_munlock(va)
    expect(va.every((x) => x === 0)).toBe(true)
    expect(vb.every((x) => x === 0x22)).toBe(true)
    expect(vmLckKb()).toBe(before)
    expect(slots.protections(b).locked).toBe(true)
    ours.sodium_mlock(vb) // already locked by its allocator: accepted, nothing changes
    expect(vmLckKb()).toBe(before)
    slots.free(a)
    slots.free(b)
  })

  it('the addon itself refuses lock/unlock of a view of a region, and still locks plain memory', () => {
    const region = os.map(os.pageSize())
    const view = new Uint8Array(os.view(region, 0, 16))
    expect(() => os.unlock(view)).toThrow(expect.objectContaining({ code: 'ERR_REGION_OWNED' }))
    expect(() => os.lock(view)).toThrow(expect.objectContaining({ code: 'ERR_REGION_OWNED' }))
    const plain = Buffer.alloc(64, 7)
    ours.sodium_mlock(plain)
    ours.sodium_munlock(plain)
    expect(plain.every((x) => x === 0)).toBe(true)
    os.unmap(region)
  })
})
