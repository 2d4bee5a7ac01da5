// dispose(): idempotent, wipes and frees at once, detaches every view; use
// after dispose throws ERR_DISPOSED without touching memory; a key cannot be
// disposed while a window is open, and stays usable when refused.
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { CountingAllocator, PageAllocator, ProtBuf, ProtKey, SlotAllocator, expectCode, expectNoWindow, expectWindowCopy, live, pc } from './helpers.mjs'

function counting () {
  return new CountingAllocator(new PageAllocator({ secretmem: 'off' }))
}

describe('dispose', () => {
  it('is idempotent and frees exactly once (ProtBuf, ProtKey, via [Symbol.dispose] too)', () => {
    const a = counting()
    const buf = ProtBuf.random(32, { allocator: a })
    const key = ProtKey.random(32, { allocator: a })
    expect(live(a.inner)).toEqual({ allocations: 2, bytes: 64 })
    buf.dispose()
    buf.dispose()
    buf[Symbol.dispose]()
    key[Symbol.dispose]()
    key.dispose()
    expect(a.calls.free).toBe(2)
    expect(live(a.inner)).toEqual({ allocations: 0, bytes: 0 })
    expect(buf.disposed && key.disposed).toBe(true)
  })

  it('wipes before the memory is reused: the next allocation of the same pages reads zero', () => {
    // A page allocator with a cache (and no quarantine) hands the same mapping back; it was wiped on free.
    const inner = new PageAllocator({ secretmem: 'off', cacheLimit: 4, quarantine: { frees: 0, bytes: 0 } })
    const secret = Buffer.alloc(64, 0x5a)
    const key = ProtKey.from(secret, { allocator: inner })
    key.dispose()
    const hits = inner.stats().cacheHits
    const again = ProtBuf.alloc(64, { allocator: inner })
    expect(inner.stats().cacheHits).toBe(hits + 1)
    expect(again.bytes.every((b) => b === 0)).toBe(true)
    again.dispose()
  })

  it('detaches every view: bytes, typed views, window views', () => {
    const buf = ProtBuf.random(64)
    const bytes = buf.bytes
    const f64 = buf.view(Float64Array)
    buf.dispose()
    expect(bytes.byteLength).toBe(0)
    expect(bytes[0]).toBeUndefined()
    expect(f64.length).toBe(0)
    expect(f64[0]).toBeUndefined()
    expect(() => new Uint8Array(bytes.buffer)).toThrow(TypeError)
  })
})

describe('use after dispose', () => {
  it('ProtBuf: every method throws ERR_DISPOSED and makes no allocator call', () => {
    const a = counting()
    const buf = ProtBuf.random(32, { allocator: a })
    const other = ProtBuf.random(32)
    buf.dispose()
    const calls = a.total()
    expectCode(() => buf.bytes, 'ERR_DISPOSED', 'ContainerError')
    expectCode(() => buf.view(Uint32Array), 'ERR_DISPOSED')
    expectCode(() => buf.equals(other), 'ERR_DISPOSED')
    expectCode(() => other.equals(buf), 'ERR_DISPOSED')
    expectCode(() => buf.equals(randomBytes(32)), 'ERR_DISPOSED')
    expectCode(() => buf.clone(), 'ERR_DISPOSED')
    expectCode(() => buf.toKey(), 'ERR_DISPOSED')
    expectCode(() => buf.protections(), 'ERR_DISPOSED')
    expect(a.total()).toBe(calls) // nothing touched, nothing allocated (clone/toKey included)
    expect(live(a.inner)).toEqual({ allocations: 0, bytes: 0 })
    // What stays available: length, state, printing.
    expect(buf.byteLength).toBe(32)
    expect(String(buf)).toBe('ProtBuf(32 bytes, disposed)')
    other.dispose()
  })

  it('ProtKey: every method throws ERR_DISPOSED and makes no allocator call', () => {
    const a = counting()
    const key = ProtKey.random(32, { allocator: a })
    const other = ProtKey.random(32)
    key.dispose()
    const calls = a.total()
    let ran = false
    expectCode(() => key.read(() => { ran = true }), 'ERR_DISPOSED')
    expectCode(() => key.write(() => { ran = true }), 'ERR_DISPOSED')
    expectCode(() => key.reader(), 'ERR_DISPOSED')
    expectCode(() => key.writer(), 'ERR_DISPOSED')
    expectCode(() => key.equals(other), 'ERR_DISPOSED')
    expectCode(() => other.equals(key), 'ERR_DISPOSED')
    expectCode(() => key.equals(randomBytes(32)), 'ERR_DISPOSED')
    expectCode(() => key.protections(), 'ERR_DISPOSED')
    expect(ran).toBe(false)
    expect(a.total()).toBe(calls)
    expectNoWindow(other) // the other key's window was closed again
    expect(key.windows).toEqual({ readers: 0, writer: false })
    other.dispose()
  })
})

describe('dispose during an open window', () => {
  it('throws ERR_WINDOW_OPEN inside read/write callbacks; the key stays usable', () => {
    const secret = randomBytes(32)
    const key = ProtKey.from(secret)
    key.read(() => {
      expectCode(() => key.dispose(), 'ERR_WINDOW_OPEN', 'ContainerError')
      expectCode(() => key[Symbol.dispose](), 'ERR_WINDOW_OPEN')
    })
    key.write(() => expectCode(() => key.dispose(), 'ERR_WINDOW_OPEN'))
    expect(key.disposed).toBe(false)
    expectNoWindow(key)
    expect(key.equals(secret)).toBe(true)
    key.dispose()
    expect(key.disposed).toBe(true)
  })

  it('throws ERR_WINDOW_OPEN while a reader or writer guard is open; works once it is closed', () => {
    const a = new PageAllocator({ secretmem: 'off' })
    const key = ProtKey.random(32, { allocator: a })
    const r1 = key.reader()
    const r2 = key.reader()
    expectCode(() => key.dispose(), 'ERR_WINDOW_OPEN')
    r1.close()
    expectCode(() => key.dispose(), 'ERR_WINDOW_OPEN')
    expect(r2.bytes.byteLength).toBe(32) // still readable through the remaining window
    r2.close()
    const w = key.writer()
    expectCode(() => key.dispose(), 'ERR_WINDOW_OPEN')
    expectWindowCopy(key)
    w.close()
    key.dispose()
    expect(live(a)).toEqual({ allocations: 0, bytes: 0 })
  })

  it('a ProtBuf has no windows: dispose always works', () => {
    const a = new SlotAllocator()
    const buf = ProtBuf.random(32, { allocator: a })
    const view = buf.bytes
    buf.dispose()
    expect(view.byteLength).toBe(0)
    expect(live(a)).toEqual({ allocations: 0, bytes: 0 })
  })
})

describe('a wipeSource that the kernel forbids', () => {
  it('is refused with ERR_REGION_PROTECTED, not a crash, and leaks nothing', () => {
    // Read-only pages: a view of an allocation protected 'read'.
    const pages = new PageAllocator({ secretmem: 'off' })
    const source = pages.alloc(32)
    new Uint8Array(pages.view(source)).fill(9)
    pages.protect(source, 'read')
    const bytes = new Uint8Array(pages.view(source))
    for (const make of [(b) => ProtBuf.from(b, { wipeSource: true }), (b) => ProtKey.from(b, { wipeSource: true })]) {
      const slots = pc.defaultBufAllocator().stats().allocations
      const keys = pc.defaultKeyAllocator().stats().allocations
      let code
      try { make(bytes) } catch (err) { code = err.code }
      expect(code).toBe('ERR_REGION_PROTECTED')
      expect(bytes.every((x) => x === 9)).toBe(true)
      expect(pc.defaultBufAllocator().stats().allocations).toBe(slots)
      expect(pc.defaultKeyAllocator().stats().allocations).toBe(keys)
    }
    pages.free(source)
    expect(live(pages)).toEqual({ allocations: 0, bytes: 0 })
  })

  it("a read window's bytes are a writable copy: wipeSource wipes the copy, the key keeps its value", () => {
    const secret = randomBytes(32)
    const key = ProtKey.from(secret)
    for (const make of [(b) => ProtBuf.from(b, { wipeSource: true }), (b) => ProtKey.from(b, { wipeSource: true })]) {
      let wiped = null
      const made = key.read((bytes) => {
        const copy = make(bytes)
        wiped = bytes.every((x) => x === 0)
        return copy
      })
      expect(wiped).toBe(true)
      expect(made.equals(secret)).toBe(true)
      expect(key.equals(secret)).toBe(true)
      made.dispose()
    }
    key.dispose()
  })
})
