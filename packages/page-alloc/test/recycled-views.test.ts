// Recycled slot views (src/recycled-view.ts). Where ArrayBuffer.prototype.transfer()
// exists (Node.js 22+, main thread), a freed slot's view is taken back with
// transfer() and handed out again as the slot's next view. Each test counts the
// views the addon makes (os.view) and the ones it detaches (os.detach), and
// checks what the guarantees say: the old holder's view is detached, each
// allocation gets its own ArrayBuffer of exactly its length over wiped memory,
// no spare outlives its page's access, and an escaped recycled view is found.
import { Worker } from 'node:worker_threads'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FIXTURES, expectClean, expectCode, os, pa, runFixture, slotPlace } from './helpers.js'

type Transfer = (this: ArrayBuffer) => ArrayBuffer
const PROTO = ArrayBuffer.prototype as { transfer?: Transfer }
const RECYCLES = typeof PROTO.transfer === 'function' && process.versions.bun === undefined && process.versions.deno === undefined
const NO_QUARANTINE = { frees: 0, bytes: 0 }

let made: ArrayBuffer[] = []
let detached: ArrayBuffer[] = []
const realView = os.view
const realDetach = os.detach
beforeEach(() => {
  made = []
  detached = []
  const o = os as { view: typeof os.view; detach: typeof os.detach }
  o.view = (region, offset, length) => {
    const ab = realView(region, offset, length)
    made.push(ab)
    return ab
  }
  o.detach = (ab) => {
    detached.push(ab)
    realDetach(ab)
  }
})
afterEach(() => {
  const o = os as { view: typeof os.view; detach: typeof os.detach }
  o.view = realView
  o.detach = realDetach
})

/** `cycles` allocations of `length` bytes, each viewed, written and freed; returns the views handed out. */
function cycle(s: InstanceType<typeof pa.SlotAllocator>, cycles: number, length = 32): ArrayBuffer[] {
  const views: ArrayBuffer[] = []
  for (let i = 0; i < cycles; i++) {
    const a = s.alloc(length)
    const view = s.view(a)
    expect(view.byteLength).toBe(length)
    const bytes = new Uint8Array(view)
    expect(bytes.every((b) => b === 0)).toBe(true) // wiped before it is handed out again
    bytes.fill(0x5a)
    views.push(view)
    s.free(a)
    expect(bytes.length).toBe(0) // the holder's view is detached by free
  }
  return views
}

describe(`slot views (Node ${process.versions.node}: ${RECYCLES ? 'recycled with transfer()' : 'no transfer(), one view per allocation'})`, () => {
  it('every allocation gets its own ArrayBuffer; freed ones stay detached (default quarantine)', async () => {
    const s = new pa.SlotAllocator({ pagesPerMapping: 1 })
    // The default quarantine releases slots after an event-loop turn: 20 turns of 100.
    const views: ArrayBuffer[] = []
    for (let turn = 0; turn < 20; turn++) {
      views.push(...cycle(s, 100))
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(new Set(views).size).toBe(2000)
    expect(views.every((v) => v.byteLength === 0)).toBe(true)
    // With transfer(), the addon makes a view only the first time a slot is used: 2 pages of 128 slots at most
    // (164 slots are in quarantine or freed in one turn), plus the one-time probe's 2.
    if (RECYCLES) expect(made.length).toBeLessThanOrEqual(2 * 128 + 2)
    else expect(made.length).toBe(2000)
    expect(s.stats()).toMatchObject({ allocations: 0, escapedBytes: 0 })
  })

  it('a page that retires detaches its spares before it becomes inaccessible', () => {
    const s = new pa.SlotAllocator({ pagesPerMapping: 2, quarantine: NO_QUARANTINE, cacheLimit: 0 })
    // Two full pages of 32-byte slots, each viewed; freeing them all retires one (the other stays warm).
    const all = Array.from({ length: 256 }, () => s.alloc(32))
    for (const a of all) new Uint8Array(s.view(a)).fill(1)
    detached = []
    for (const a of all) s.free(a)
    expect(s.stats().cachedPages).toBe(1)
    if (RECYCLES) {
      // The 128 spares of the retired page, each detached by the addon, none left attached.
      expect(detached.length).toBe(128)
      expect(detached.every((ab) => ab.byteLength === 0)).toBe(true)
    } else {
      expect(detached.length).toBe(256)
    }
  })

  it('a spare of another length is detached, and the new view covers exactly the new length (never the canary)', () => {
    const s = new pa.SlotAllocator({ pagesPerMapping: 1, quarantine: NO_QUARANTINE })
    const first = Array.from({ length: 128 }, () => s.alloc(30))
    for (const a of first) new Uint8Array(s.view(a)).fill(2)
    for (const a of first) s.free(a)
    made = []
    detached = []
    const second = Array.from({ length: 128 }, () => s.alloc(32))
    for (const a of second) expect(s.view(a).byteLength).toBe(32)
    expect(made.length).toBe(128)
    if (RECYCLES) expect(detached.length).toBe(128)
    // And back to 30 bytes: the canary after each 30-byte view is checked on free.
    for (const a of second) s.free(a)
    const third = Array.from({ length: 128 }, () => s.alloc(30))
    for (const a of third) expect(s.view(a).byteLength).toBe(30)
    for (const a of third) s.free(a)
  })

  // A view fresh from the addon cannot be put in a transfer list (DataCloneError); a recycled one is an
  // ordinary ArrayBuffer and moves. Both ways of moving it out are found the same way.
  const escapes: [string, (view: ArrayBuffer) => ArrayBuffer][] = [
    ['transfer()', (view) => (PROTO.transfer as Transfer).call(view)],
    ['a structuredClone transfer list', (view) => structuredClone(view, { transfer: [view] })]
  ]
  it.skipIf(!RECYCLES).each(escapes)('a recycled view that escapes through %s is found: wiped, never reused, view() refused', (_, move) => {
    const s = new pa.SlotAllocator({ pagesPerMapping: 1, quarantine: NO_QUARANTINE })
    // Every slot of the page used once: each has a spare.
    const all = Array.from({ length: 128 }, () => s.alloc(32))
    for (const a of all) new Uint8Array(s.view(a)).fill(3)
    for (const a of all) s.free(a)
    const before = made.length
    const a = s.alloc(32)
    const view = s.view(a)
    expect(made.length).toBe(before) // a recycled one
    new Uint8Array(view).fill(0x11)
    const { region, offset } = slotPlace(a)
    const escaped = new Uint8Array(move(view))
    expect(escaped[0]).toBe(0x11) // moved, not copied
    expectCode(() => s.view(a), 'ERR_VIEW_ESCAPED')
    s.free(a)
    expect(escaped.length).toBe(32)
    expect(escaped.every((b) => b === 0)).toBe(true)
    expect(s.stats().escapedBytes).toBe(32)
    const others = Array.from({ length: 127 }, () => s.alloc(32))
    expect(others.some((o) => slotPlace(o).region === region && slotPlace(o).offset === offset)).toBe(false)
    for (const o of others) new Uint8Array(s.view(o)).fill(0x22)
    expect(escaped.every((b) => b === 0)).toBe(true)
    for (const o of others) s.free(o)
  })

  it.skipIf(!RECYCLES)('ArrayBuffer.prototype.transfer replaced after load is never called', () => {
    const original = PROTO.transfer as Transfer
    let calls = 0
    PROTO.transfer = function(this: ArrayBuffer) {
      calls++
      return new ArrayBuffer(this.byteLength)
    }
    try {
      const s = new pa.SlotAllocator({ pagesPerMapping: 1, quarantine: NO_QUARANTINE })
      cycle(s, 2000)
      expect(calls).toBe(0)
      expect(made.length).toBeLessThanOrEqual(128 + 2)
    } finally {
      PROTO.transfer = original
    }
  })

  // Built-ins replaced after load must not reach a spare or the probe's buffers: a hook that got one kept
  // it attached past free and its page's retirement, read the slot's next secret, then faulted the process.
  it.skipIf(!RECYCLES).each(['array-setter', 'iterator', 'byte-length', 'escape-check', 'uint8array'])(
    'a built-in replaced after load (%s) never gets hold of slot memory',
    (mode) => {
      const run = runFixture('recycle-hooks.cjs', [mode])
      expectClean(run)
      expect(run.rec.HOOK).toEqual({ mode, kept: 0, readsSecret: false, threw: null, mappings: 0 })
      expect(run.rec.READ).toEqual({ zeros: true })
    }
  )

  it('in a worker thread, views are not recycled (the addon pins what a worker leaves attached at its exit)', async () => {
    const result = await new Promise<{ views: number; allDetached: boolean }>((resolve, reject) => {
      const w = new Worker(join(FIXTURES, 'recycle-worker.cjs'), { workerData: { cycles: 500 } })
      w.once('message', resolve)
      w.once('error', reject)
    })
    expect(result).toEqual({ views: 500, allDetached: true })
  })
})
