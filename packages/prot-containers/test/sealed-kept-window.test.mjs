// A SealedKey among the 16 most recently opened of its thread keeps its window
// buffer between windows (as a ProtKey keeps its own for life): wiped and its
// view detached at every close, so the next window takes no new memory; the
// others, larger keys, escaped views and past-deadline windows free theirs.
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { heapAllocator, live, pc } from './helpers.mjs'

const { SealedKey, purge } = pc
const require = createRequire(import.meta.url)
const { windowBufferAllocator } = require('../dist/sealed-allocators.js')
const { KEPT_SEALED, keptSealedWindows } = require('../dist/window-buffers.js')

/** The bytes of a kept buffer, read natively (no view of it is made). */
function contentOf (allocation) {
  const out = new Uint8Array(allocation.byteLength)
  windowBufferAllocator().copyOut(allocation, out)
  return out
}

describe('SealedKey: kept window buffers', () => {
  it('a key keeps one buffer across windows, wiped between them: a later window takes no new memory', () => {
    const key = SealedKey.from(Buffer.alloc(32, 0xab))
    key.read(() => {})
    const kept = keptSealedWindows().at(-1)
    expect(kept.byteLength).toBe(32)
    expect(contentOf(kept).every((b) => b === 0)).toBe(true)
    const before = live(windowBufferAllocator())
    /** @type {Uint8Array} */
    let first = new Uint8Array(1)
    key.read((bytes) => {
      first = bytes
      expect(contentOf(kept)).toEqual(new Uint8Array(32).fill(0xab))
    })
    key.write((bytes) => { bytes[0] = 1 })
    key.read((bytes) => expect(bytes[0]).toBe(1))
    expect(first.byteLength).toBe(0)
    expect(live(windowBufferAllocator())).toEqual(before)
    expect(keptSealedWindows().at(-1)).toBe(kept)
    expect(contentOf(kept).every((b) => b === 0)).toBe(true)
    key.dispose()
    expect(kept.freed).toBe(true)
    expect(keptSealedWindows()).not.toContain(kept)
  })

  it(`only the ${KEPT_SEALED} most recently opened keys keep one; the oldest are freed as others open`, () => {
    const before = live(windowBufferAllocator())
    const keys = Array.from({ length: 3 * KEPT_SEALED }, () => SealedKey.random(24))
    for (const k of keys) k.read(() => {})
    const kept = keptSealedWindows().filter((a) => !a.freed)
    expect(kept.length).toBeLessThanOrEqual(KEPT_SEALED)
    expect(live(windowBufferAllocator()).allocations - before.allocations).toBeLessThanOrEqual(KEPT_SEALED)
    // Reading one again makes it the most recent, and brings back no more than the bound.
    keys[0].read(() => {})
    expect(keptSealedWindows().filter((a) => !a.freed).length).toBeLessThanOrEqual(KEPT_SEALED)
    for (const k of keys) k.dispose()
    expect(live(windowBufferAllocator()).allocations).toBeLessThanOrEqual(before.allocations)
  })

  it('an open window is never pushed out: its buffer stays while others come and go', () => {
    const held = SealedKey.from(Buffer.alloc(16, 7))
    const w = held.reader()
    const others = Array.from({ length: 2 * KEPT_SEALED }, () => SealedKey.random(16))
    for (const k of others) k.read(() => {})
    expect(Array.from(w.bytes)).toEqual(new Array(16).fill(7))
    w.close()
    for (const k of [held, ...others]) k.dispose()
  })

  it(`more than ${KEPT_SEALED} windows open at once all open; the kept list shrinks back to the bound as they close`, async () => {
    const keys = Array.from({ length: 2 * KEPT_SEALED + 3 }, (_, i) => SealedKey.from(Buffer.alloc(32, i + 1)))
    const guards = keys.map((k) => k.reader())
    guards.forEach((g, i) => expect(g.bytes[0]).toBe(i + 1))
    for (const g of guards) g.close()
    expect(keptSealedWindows().filter((a) => !a.freed).length).toBeLessThanOrEqual(KEPT_SEALED)
    // Concurrent async windows, as concurrent requests would open them.
    const seen = await Promise.all(keys.map((k) => k.readAsync(async (bytes) => {
      await new Promise((resolve) => setImmediate(resolve))
      return bytes[0]
    })))
    expect(seen).toEqual(keys.map((_, i) => i + 1))
    expect(keptSealedWindows().filter((a) => !a.freed).length).toBeLessThanOrEqual(KEPT_SEALED)
    for (const k of keys) k.dispose()
  })

  it('an allocator\'s code that opens the key being opened is refused (ERR_WINDOW_CONFLICT), and the outer window is right', () => {
    let inner = null
    let reenter = null
    const custom = heapAllocator({
      copyOut: () => {
        if (reenter !== null) {
          const key = reenter
          reenter = null
          try {
            key.read(() => {})
          } catch (err) {
            inner = err.code
          }
        }
      }
    })
    const key = SealedKey.from(Buffer.alloc(32, 9), { allocator: custom })
    reenter = key
    expect(key.read((bytes) => bytes[31])).toBe(9)
    expect(inner).toBe('ERR_WINDOW_CONFLICT')
    reenter = key
    key.write((bytes) => { bytes[0] = 1 })
    expect(inner).toBe('ERR_WINDOW_CONFLICT')
    expect(key.read((bytes) => bytes[0])).toBe(1)
    key.dispose()
  })

  it('a key above half a page keeps none: its buffer is freed at every close', () => {
    const key = SealedKey.random(4096)
    const before = live(windowBufferAllocator())
    key.read(() => {})
    expect(live(windowBufferAllocator())).toEqual(before)
    expect(keptSealedWindows().some((a) => a.byteLength === 4096 && !a.freed)).toBe(false)
    key.dispose()
  })

  it('purge() frees every kept buffer', () => {
    const keys = [SealedKey.random(32), SealedKey.random(48)]
    for (const k of keys) k.read(() => {})
    const kept = keptSealedWindows().filter((a) => !a.freed)
    expect(kept.length).toBeGreaterThanOrEqual(2)
    purge()
    for (const a of kept) expect(a.freed).toBe(true)
    expect(keptSealedWindows()).toEqual([])
    for (const k of keys) expect(k.disposed).toBe(true)
  })
})
