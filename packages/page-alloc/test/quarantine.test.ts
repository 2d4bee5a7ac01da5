// Quarantine: freed memory is wiped at once, then kept mapped and away from new
// secrets until one event-loop turn has passed and `frees` later frees came in;
// a byte bound keeps a synchronous free loop from growing memory without limit.
// A "holder" here is a raw os-memlock view over the freed bytes, standing for
// a native request that still has the pointer.
import { setImmediate as nextTurn } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { PAGE, kernel, os, pa, pagePlace, slotPlace } from './helpers.js'
import type * as PA from '../src/index.js'

const { SlotAllocator, PageAllocator } = pa

/** A view the allocator does not know of, over `length` bytes at `offset`: what a native holder sees. */
function holderOf(region: import('@tarsjs/os-memlock').Region, offset: number, length: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(os.view(region, offset, length))
}

describe('slot allocator quarantine (default: one turn and 64 later frees, 16 KiB)', () => {
  it('a freed slot reads zeros and is not given to any new secret in the same turn', () => {
    const s = new SlotAllocator()
    const a = s.alloc(32)
    new Uint8Array(s.view(a)).fill(0xaa)
    const { region, offset } = slotPlace(a)
    const holder = holderOf(region, offset, 32)
    s.free(a)
    expect(holder.every((b) => b === 0)).toBe(true)
    // Fill every slot of the class many times over: none is a's old slot.
    const others = Array.from({ length: 600 }, () => s.alloc(32))
    for (const o of others) new Uint8Array(s.view(o)).fill(0x55)
    const places = others.map((o) => slotPlace(o))
    expect(places.some((p) => p.region === region && p.offset === offset)).toBe(false)
    expect(holder.every((b) => b === 0)).toBe(true)
    expect(s.stats().quarantinedBytes).toBe(32)
    for (const o of others) s.free(o)
    os.detach(holder.buffer)
  })

  it('not reused after a turn alone, nor after 64 frees alone; reused once both hold, wiped again', async () => {
    const s = new SlotAllocator({ pagesPerMapping: 1 })
    const a = s.alloc(32)
    const { index, region, offset } = slotPlace(a)
    const holder = holderOf(region, offset, 32)
    s.free(a)
    holder.fill(0x77) // a late native write into the freed slot
    await nextTurn()
    // A turn has passed but no later free: still held.
    const taken = Array.from({ length: 127 }, () => s.alloc(32))
    expect(taken.map((t) => slotPlace(t).index)).not.toContain(index)
    expect(s.stats().quarantinedBytes).toBe(32)
    // 63 later frees: still held; the 64th releases it (a turn has passed already).
    for (const t of taken.splice(0, 63)) s.free(t)
    expect(s.stats().quarantinedBytes).toBe(64 * 32)
    s.free(taken.shift() as PA.Allocation)
    expect(s.stats().quarantinedBytes).toBe(64 * 32)
    const next = s.alloc(32) // the page has exactly one free slot now: a's
    expect(slotPlace(next).index).toBe(index)
    // Wiped again when it left the quarantine: the late write is gone.
    expect(new Uint8Array(s.view(next)).every((x) => x === 0)).toBe(true)
    os.detach(holder.buffer)
    s.free(next)
    for (const t of taken) s.free(t)
  })

  it('a synchronous alloc/free loop is bounded by the byte limit and reuses memory after a turn', async () => {
    const s = new SlotAllocator()
    for (let i = 0; i < 100_000; i++) s.free(s.alloc(32))
    const st = s.stats()
    expect(st.allocations).toBe(0)
    expect(st.quarantinedBytes).toBeLessThanOrEqual(16 * 1024)
    // 16 KiB of 32-byte slots is 4 pages: one group of 16 (plus one warm).
    expect(st.mappedBytes).toBeLessThanOrEqual(2 * 18 * PAGE)
    await nextTurn()
    expect(s.stats().quarantinedBytes).toBe(64 * 32)
    const mapped = s.stats().mappedBytes
    for (let i = 0; i < 100_000; i++) s.free(s.alloc(32))
    expect(s.stats().mappedBytes).toBe(mapped)
  })

  it('past 16 KiB the turn is waived, never the 64 frees: 2 KiB slots wait for 64 later frees in one turn', () => {
    const s = new SlotAllocator()
    const a = s.alloc(2048)
    const { region, offset } = slotPlace(a)
    const holder = holderOf(region, offset, 2048)
    s.free(a)
    // 63 later 2 KiB frees in the same turn: 128 KiB held, far past 16 KiB, yet a's slot stays out.
    const later = Array.from({ length: 63 }, () => s.alloc(2048))
    for (const l of later) s.free(l)
    expect(s.stats().quarantinedBytes).toBe(64 * 2048)
    const meanwhile = Array.from({ length: 200 }, () => s.alloc(2048))
    expect(meanwhile.some((m) => slotPlace(m).region === region && slotPlace(m).offset === offset)).toBe(false)
    for (const m of meanwhile) new Uint8Array(s.view(m)).fill(0x5a)
    expect(holder.every((b) => b === 0)).toBe(true)
    // The 64th later free lets the oldest (a's slot) go, within the turn.
    s.free(meanwhile.shift() as PA.Allocation)
    expect(s.stats().quarantinedBytes).toBe(64 * 2048)
    os.detach(holder.buffer)
    for (const m of meanwhile) s.free(m)
  })

  it('32-byte slots come back within the turn once 16 KiB (512 slots) wait, not before', () => {
    const s = new SlotAllocator()
    const a = s.alloc(32)
    s.free(a)
    const later = Array.from({ length: 511 }, () => s.alloc(32))
    for (const l of later) s.free(l)
    expect(s.stats().quarantinedBytes).toBe(512 * 32)
    s.free(s.alloc(32))
    expect(s.stats().quarantinedBytes).toBe(512 * 32)
  })

  it('quarantine bounds are options; { frees: 0, bytes: 0 } releases at once', () => {
    const s = new SlotAllocator({ quarantine: { frees: 0, bytes: 0 }, pagesPerMapping: 1 })
    const a = s.alloc(32)
    const { index } = slotPlace(a)
    s.free(a)
    expect(s.stats().quarantinedBytes).toBe(0)
    const all = Array.from({ length: 128 }, () => s.alloc(32))
    expect(all.map((t) => slotPlace(t).index)).toContain(index)
    for (const t of all) s.free(t)
    for (const bad of [null, 42, 'x', true]) {
      expect(() => new SlotAllocator({ quarantine: bad as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    }
    expect(() => new SlotAllocator({ quarantine: { frees: -1 } })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }))
    expect(() => new PageAllocator({ quarantine: { bytes: 1.5 } })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }))
  })
})

describe('page allocator quarantine (default: one turn and 16 later frees, 1 MiB)', () => {
  it('a freed mapping stays readable zeros (rw-p, not PROT_NONE) in quarantine and in the cache; what a holder writes meanwhile is wiped before reuse', async () => {
    const p = new PageAllocator({ secretmem: 'off' })
    const a = p.alloc(64)
    new Uint8Array(p.view(a)).fill(0xcc)
    const { region, start } = pagePlace(a)
    const holder = holderOf(region, start, 64)
    const address = kernel.findBytes(Buffer.alloc(64, 0xcc))
    expect(address).toBeDefined()
    p.free(a)
    expect(holder.every((b) => b === 0)).toBe(true)
    expect(kernel.vmaAt(address as bigint)?.perms).toBe('rw-p')
    expect(p.stats().quarantinedBytes).toBe(PAGE)
    const b = p.alloc(64) // not a's mapping
    const same = (x: unknown) => pagePlace(x).region === region && pagePlace(x).start === start
    expect(same(b)).toBe(false)
    await nextTurn()
    expect(kernel.vmaAt(address as bigint)?.perms).toBe('rw-p') // a turn, but no 16 later frees
    holder.fill(0x77) // a late native write into the freed memory
    const more = Array.from({ length: 16 }, () => p.alloc(64))
    for (const m of more) p.free(m)
    await nextTurn()
    // Released to the cache: still mapped read-write, so the holder never faults; wiped again.
    expect(p.stats().quarantinedBytes).toBe(16 * PAGE)
    expect(kernel.vmaAt(address as bigint)?.perms).toBe('rw-p')
    expect(holder.every((x) => x === 0)).toBe(true)
    // The next allocation of that size reads zeros, not what the holder wrote.
    const reused = Array.from({ length: 4 }, () => p.alloc(64))
    expect(reused.some(same)).toBe(true)
    for (const r of reused) expect(new Uint8Array(p.view(r)).every((x) => x === 0)).toBe(true)
    for (const r of reused) p.free(r)
    os.detach(holder.buffer)
    p.free(b)
  })
})
