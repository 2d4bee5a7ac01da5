// Containers work the same on any Allocator: the defaults, a PageAllocator
// without memfd_secret, a custom SlotAllocator, and an allocator written by a
// user (a plain object delegating to another). Same behaviour, same stats.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { CountingAllocator, PageAllocator, ProtBuf, ProtKey, SlotAllocator, expectCode, expectNoWindow, expectWindowCopy, live, pc } from './helpers.mjs'

const dir = mkdtempSync(join(tmpdir(), 'prot-containers-alloc-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The allocator a container reports, seen through a user wrapper. */
const inner = (a) => (a instanceof CountingAllocator ? a.inner : a)

/** @type {Array<[string, () => any]>} */
const BUF_ALLOCATORS = [
  ['default slot allocator', () => pc.defaultBufAllocator()],
  ['custom SlotAllocator', () => new SlotAllocator({ pagesPerMapping: 2, cacheLimit: 0, secretmem: 'off' })],
  ['PageAllocator secretmem off', () => new PageAllocator({ secretmem: 'off' })],
  ['PageAllocator secretmem auto', () => new PageAllocator()],
  ['user-written allocator', () => new CountingAllocator(new SlotAllocator())]
]

/** @type {Array<[string, () => any]>} */
const KEY_ALLOCATORS = [
  ['default page allocator', () => pc.defaultKeyAllocator()],
  ['PageAllocator secretmem off', () => new PageAllocator({ secretmem: 'off' })],
  ['PageAllocator aligned 64, no front canary, no cache', () => new PageAllocator({ secretmem: 'off', alignment: 64, frontCanary: 0, cacheLimit: 0 })],
  ['user-written allocator', () => new CountingAllocator(new PageAllocator({ secretmem: 'off' }))]
]

describe.each(BUF_ALLOCATORS)('ProtBuf on %s', (_, make) => {
  it('constructors, views, equals, clone, toKey and dispose behave the same; stats return to the start', async () => {
    const allocator = make()
    const start = live(inner(allocator))
    const opts = { allocator }
    const secret = randomBytes(64)
    const a = ProtBuf.from(secret, opts)
    const b = ProtBuf.random(64, opts)
    const z = ProtBuf.alloc(64, opts)
    const big = ProtBuf.random(5000, opts)
    expect(a.allocator).toBe(allocator)
    expect(live(inner(allocator))).toEqual({ allocations: start.allocations + 4, bytes: start.bytes + 64 * 3 + 5000 })
    expect(a.equals(secret)).toBe(true)
    expect(b.equals(a)).toBe(false)
    expect(z.bytes.every((x) => x === 0)).toBe(true)
    expect(a.bytes.buffer.byteLength).toBe(64)
    expect(a.view(Float64Array).length).toBe(8)
    expect(a.view(BigUint64Array).buffer).toBe(a.bytes.buffer)
    const c = a.clone()
    expect(c.allocator).toBe(allocator)
    expect(c.equals(a)).toBe(true)
    const p = a.protections()
    expect(p).toMatchObject({ guardPages: true, noDump: true, access: 'readwrite' })
    expect(p.isolated).toBe(inner(allocator).capabilities.protect)

    const path = join(dir, 'buf-secret')
    writeFileSync(path, secret)
    const f = ProtBuf.fromFile(path, opts)
    const s = await ProtBuf.fromStream(Readable.from([Buffer.from(secret)]), opts)
    expect(f.equals(secret) && s.equals(secret)).toBe(true)

    const key = c.toKey()
    expect(c.disposed).toBe(true)
    expect(key.equals(secret)).toBe(true)
    key.dispose()

    const stale = a.bytes
    for (const x of [a, b, z, big, f, s]) x.dispose()
    expect(stale.byteLength).toBe(0)
    expect(live(inner(allocator))).toEqual(start)
    expectCode(() => a.bytes, 'ERR_DISPOSED')
  })
})

describe.each(KEY_ALLOCATORS)('ProtKey on %s', (_, make) => {
  it('constructors, windows, equals, readers and dispose behave the same; stats return to the start', async () => {
    const allocator = make()
    const start = live(inner(allocator))
    const opts = { allocator }
    const secret = randomBytes(32)
    const a = ProtKey.from(secret, opts)
    const b = ProtKey.random(32, opts)
    const z = ProtKey.alloc(32, opts)
    expect(a.allocator).toBe(allocator)
    expect(live(inner(allocator))).toEqual({ allocations: start.allocations + 3, bytes: start.bytes + 96 })
    for (const k of [a, b, z]) expect(k.protections()).toMatchObject({ access: 'none', isolated: true, guardPages: true, noDump: true, window: null })
    expect(a.equals(secret)).toBe(true)
    expect(a.equals(b)).toBe(false)
    expect(z.read((v) => v.every((x) => x === 0))).toBe(true)

    const stale = a.read((v) => {
      // The key's pages stay no access whatever the allocator: the window is a copy in window memory.
      expectWindowCopy(a)
      a.read((w) => expect(w).toBe(v))
      return v
    })
    expect(stale.byteLength).toBe(0)
    z.write((v) => v.set(secret))
    expect(z.equals(a)).toBe(true)
    a.read(() => expectCode(() => a.write(() => {}), 'ERR_WINDOW_CONFLICT'))
    expectCode(() => a.read(async () => {}), 'ERR_ASYNC_CALLBACK')
    expectNoWindow(a)

    const path = join(dir, 'key-secret')
    writeFileSync(path, secret)
    const f = ProtKey.fromFile(path, opts)
    const s = await ProtKey.fromStream(Readable.from([Buffer.from(secret)]), opts)
    expect(f.equals(secret) && s.equals(secret)).toBe(true)
    expectNoWindow(f)

    const r = a.reader()
    expectCode(() => a.dispose(), 'ERR_WINDOW_OPEN')
    r.close()
    for (const k of [a, b, z, f, s]) k.dispose()
    expect(live(inner(allocator))).toEqual(start)
  })
})

describe('allocator checks', () => {
  it('a SlotAllocator (shared pages) cannot hold a ProtKey; any allocator can hold a ProtBuf', () => {
    const slot = new SlotAllocator()
    expectCode(() => ProtKey.alloc(32, { allocator: slot }), 'ERR_NOT_ISOLATED')
    expectCode(() => ProtKey.alloc(32, { allocator: new CountingAllocator(slot) }), 'ERR_NOT_ISOLATED')
    expect(live(slot)).toEqual({ allocations: 0, bytes: 0 })
  })

  it('a user-written allocator sees every call the container makes, and a ProtKey window costs exactly two protect calls', () => {
    const a = new CountingAllocator(new PageAllocator({ secretmem: 'off' }))
    const key = ProtKey.random(32, { allocator: a })
    const protects = a.calls.protect
    key.read(() => key.read(() => {}))
    expect(a.calls.protect - protects).toBe(2) // open once (nested read shares), close once
    key.dispose()
    expect(a.calls.free).toBe(1)
  })
})
