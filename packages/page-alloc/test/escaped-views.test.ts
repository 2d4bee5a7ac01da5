// Escaped backing stores: `ArrayBuffer.prototype.transfer()` and
// `transferToFixedLength()` (Node 22+) move a view's memory into an
// ArrayBuffer the allocator never made. Such memory is wiped on free and never
// given to another secret, counted in stats().escapedBytes, warned about once
// (TARSJS_ESCAPED_VIEW), and the allocation's view() then throws ERR_VIEW_ESCAPED.
// The checks that could fault run in a child process (fixtures/escaped.cjs).
import { describe, expect, it } from 'vitest'
import { expectClean, expectCode, os, pa, runFixture, slotPlace } from './helpers.js'

const HAS_TRANSFER = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function'
const METHODS = ['transfer', 'transferToFixedLength'] as const

type Transfer = (ab: ArrayBuffer) => ArrayBuffer
const move = (method: (typeof METHODS)[number]): Transfer => (ab) => (ab as unknown as Record<string, () => ArrayBuffer>)[method]!.call(ab)

describe.skipIf(!HAS_TRANSFER)(`escaped views (Node ${process.versions.node}; needs ArrayBuffer.prototype.transfer)`, () => {
  for (const method of METHODS) {
    it(`SlotAllocator, ${method}(): the escaped buffer reads zeros after free, and its slot never holds another secret`, () => {
      const s = new pa.SlotAllocator({ pagesPerMapping: 1, quarantine: { frees: 0, bytes: 0 } })
      const a = s.alloc(32)
      new Uint8Array(s.view(a)).fill(0x11)
      const { region, offset } = slotPlace(a)
      const escaped = new Uint8Array(move(method)(s.view(a)))
      expect(escaped.every((b) => b === 0x11)).toBe(true)
      expectCode(() => s.view(a), 'ERR_VIEW_ESCAPED')
      s.free(a)
      expect(escaped.every((b) => b === 0)).toBe(true)
      // Every other slot of the page, each a new secret: none is a's.
      const others = Array.from({ length: 127 }, () => s.alloc(32))
      for (const o of others) new Uint8Array(s.view(o)).fill(0x22)
      expect(others.some((o) => slotPlace(o).region === region && slotPlace(o).offset === offset)).toBe(false)
      expect(escaped.every((b) => b === 0)).toBe(true)
      escaped.fill(0x33) // writes land in the burned slot only
      for (const o of others) expect(new Uint8Array(s.view(o)).every((b) => b === 0x22)).toBe(true)
      expect(s.stats().escapedBytes).toBe(32)
      for (const o of others) s.free(o)
      expect(s.stats().allocations).toBe(0)
    })

    it(`PageAllocator, ${method}(): the mapping is let go, never reused; the escaped buffer reads zeros`, () => {
      const p = new pa.PageAllocator({ quarantine: { frees: 0, bytes: 0 } })
      const a = p.alloc(64)
      new Uint8Array(p.view(a)).fill(0x44)
      const escaped = new Uint8Array(move(method)(p.view(a)))
      expectCode(() => p.view(a), 'ERR_VIEW_ESCAPED')
      const before = p.stats()
      p.free(a)
      expect(escaped.every((b) => b === 0)).toBe(true)
      expect(p.stats()).toMatchObject({ escapedBytes: pa.PAGE_SIZE, mappings: before.mappings - 1, cachedPages: 0 })
      const b = p.alloc(64)
      new Uint8Array(p.view(b)).fill(0x55)
      expect(escaped.every((x) => x === 0)).toBe(true)
      p.free(b)
    })
  }

  it('in a child process: ProtKey-style windows, a handed-over view moved out, unmap, warnings; nothing faults (exit 0)', () => {
    const run = runFixture('escaped.cjs')
    expectClean(run)
    expect(run.rec.WINDOW).toEqual({ insideWindow: 0x66, afterClose: 0, afterDispose: 0, keyKept: true, escapedBytes: pa.PAGE_SIZE })
    expect(run.rec.HANDED).toEqual({ refused: 'ERR_VIEW_HANDED_OVER', afterNone: 0x77, afterFree: 0 })
    expect(run.rec.TRIM).toEqual({ zeros: true })
    expect(run.rec.WARNINGS).toEqual(['TARSJS_ESCAPED_VIEW'])
  })
})

it('a view detached by someone else (os.detach) counts as escaped too: view() throws the same typed error in both allocators', () => {
  for (const allocator of [new pa.SlotAllocator(), new pa.PageAllocator()]) {
    const a = allocator.alloc(48)
    const ab = allocator.view(a)
    expect(allocator.view(a)).toBe(ab)
    os.detach(ab)
    for (let i = 0; i < 3; i++) expectCode(() => allocator.view(a), 'ERR_VIEW_ESCAPED')
    allocator.free(a)
    expectCode(() => allocator.view(a), 'ERR_ALLOCATION_FREED')
  }
})

it.runIf(!HAS_TRANSFER)(`escaped views: skipped on Node ${process.versions.node}, which has no ArrayBuffer.prototype.transfer`, () => {
  expect(HAS_TRANSFER).toBe(false)
})
