// ProtKey: every constructor and method, on the default page allocator; and
// windows that work on a copy of the key (its own pages stay no access).
import { spawnSync } from 'node:child_process'
import { randomBytes, randomFillSync } from 'node:crypto'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { dataMapping, smaps } from '@tarsjs/test-kit'
import {
  FIXTURES, KERNEL_PKEYS, PKEYS, PS, PageAllocator, ProtBuf, ProtKey, SECRETMEM, expectCode, expectNoAccessVma, expectNoWindow,
  expectWindowCopy, live, locateKeyPages, os, pc, protectionKeyAt, records, runFixture, warmWindowMemory
} from './helpers.mjs'

const require = createRequire(import.meta.url)
const { windowBufferAllocator } = require('../dist/sealed-allocators.js')
const { escapedWindows } = require('../dist/window-buffers.js')

/**
 * How to run a Node with ArrayBuffer.prototype.transfer(): this one (22+), this
 * one with V8's flag (Node 20), or the one TARSJS_NODE22 names; null if none.
 */
function transferNode () {
  if (typeof ArrayBuffer.prototype.transfer === 'function') return [process.execPath]
  const flag = '--harmony-rab-gsab-transfer'
  const probe = spawnSync(process.execPath, [flag, '-e', 'process.exit(typeof ArrayBuffer.prototype.transfer === "function" ? 0 : 1)'])
  if (probe.status === 0) return [process.execPath, flag]
  return process.env.TARSJS_NODE22 ? [process.env.TARSJS_NODE22] : null
}
const TRANSFER = transferNode()

let made = []
const keep = (c) => { made.push(c); return c }
let baseline
beforeEach(() => { baseline = live(pc.defaultKeyAllocator()) })
afterEach(() => {
  for (const c of made) c.dispose()
  made = []
  expect(live(pc.defaultKeyAllocator())).toEqual(baseline)
})

describe('ProtKey.alloc', () => {
  it('gives a zero-filled key with no access, in pages of its own', () => {
    const key = keep(ProtKey.alloc(32))
    expect(key.byteLength).toBe(32)
    expect(key.allocator).toBe(pc.defaultKeyAllocator())
    expect(pc.defaultKeyAllocator()).toBeInstanceOf(PageAllocator)
    const p = key.protections()
    expect(p).toMatchObject({ access: 'none', isolated: true, guardPages: true, locked: true, noDump: true, canary: true, window: null })
    // The default key allocator denies access with a memory protection key where the CPU has one.
    expect(p.protectionKey).toBe(PKEYS)
    // Where the kernel offers memfd_secret, the default key allocator uses it; otherwise wipe-on-fork.
    expect(p.secretmem).toBe(SECRETMEM)
    expect(p.wipeOnFork).toBe(!SECRETMEM)
    expect(p.dontFork).toBe(SECRETMEM)
    expect(key.windows).toEqual({ readers: 0, writer: false })
    expect(key.read((b) => [b.byteLength, b.buffer.byteLength, b.every((x) => x === 0)])).toEqual([32, 32, true])
  })

  it('counts in the allocator until disposed', () => {
    const a = new PageAllocator({ secretmem: 'off' })
    const key = ProtKey.alloc(100, { allocator: a })
    expect(live(a)).toEqual({ allocations: 1, bytes: 100 })
    key.dispose()
    expect(live(a)).toEqual({ allocations: 0, bytes: 0 })
  })

  it('handles keys of several pages', () => {
    const key = keep(ProtKey.alloc(3 * 4096 + 1))
    key.write((b) => { b[0] = 1; b[b.length - 1] = 2 })
    expect(key.read((b) => [b.length, b[0], b[b.length - 1]])).toEqual([3 * 4096 + 1, 1, 2])
  })
})

describe('ProtKey.random', () => {
  it('fills the key from the CSPRNG and leaves it with no access', () => {
    const a = keep(ProtKey.random(32))
    const b = keep(ProtKey.random(32))
    expect(a.protections().access).toBe('none')
    expect(a.read((x) => x.some((v) => v !== 0))).toBe(true)
    expect(a.equals(b)).toBe(false)
  })
})

describe('ProtKey.from', () => {
  it('copies the source; wipeSource zeroes it (read back)', () => {
    const src = randomBytes(32)
    const secret = Buffer.from(src)
    const kept = keep(ProtKey.from(src))
    expect(src.equals(secret)).toBe(true)
    expect(kept.equals(secret)).toBe(true)
    const wiped = keep(ProtKey.from(src, { wipeSource: true }))
    expect(src.every((x) => x === 0)).toBe(true)
    expect(wiped.equals(secret)).toBe(true)
    expect(wiped.protections().access).toBe('none')
  })

  it('accepts an ArrayBuffer and a DataView', () => {
    const ab = new Uint8Array([5, 6, 7]).buffer
    expect(keep(ProtKey.from(ab)).read((b) => [...b])).toEqual([5, 6, 7])
    expect(keep(ProtKey.from(new DataView(ab, 1))).read((b) => [...b])).toEqual([6, 7])
  })
})

describe('ProtKey#read and #write', () => {
  it('open a window only for the callback and return what it returns', () => {
    const key = keep(ProtKey.random(32))
    const seen = []
    const result = key.read((b) => {
      // The key's pages stay no access: the window is a copy in window memory.
      expectWindowCopy(key)
      seen.push(key.windows.readers, String(key), b.byteLength)
      return 'value'
    })
    expect(result).toBe('value')
    expect(seen).toEqual([1, 'ProtKey(32 bytes, read window)', 32])
    expectNoWindow(key)
    expect(key.windows).toEqual({ readers: 0, writer: false })
  })

  it('write changes the key; read sees the change', () => {
    const key = keep(ProtKey.alloc(4))
    const out = key.write((b) => {
      expectWindowCopy(key)
      expect(key.windows).toEqual({ readers: 0, writer: true })
      expect(String(key)).toBe('ProtKey(4 bytes, read-write window)')
      b.set([1, 2, 3, 4])
      return b.length
    })
    expect(out).toBe(4)
    expect(key.read((b) => [...b])).toEqual([1, 2, 3, 4])
    expectNoWindow(key)
  })

  it('close the window when the callback throws, and rethrow', () => {
    const key = keep(ProtKey.random(16))
    const boom = new Error('boom')
    expect(() => key.read(() => { throw boom })).toThrow(boom)
    expectNoWindow(key)
    expect(() => key.write(() => { throw boom })).toThrow(boom)
    expectNoWindow(key)
    expect(key.windows).toEqual({ readers: 0, writer: false })
    expect(key.read((b) => b.length)).toBe(16)
  })

  it('give a fresh view per window; the previous one is detached', () => {
    const key = keep(ProtKey.random(32))
    const first = key.read((b) => b)
    let same = null
    const second = key.read((b) => { same = b === first; return b })
    expect(same).toBe(false)
    expect(first.byteLength).toBe(0)
    expect(second.byteLength).toBe(0)
    expect(first[0]).toBeUndefined()
  })
})

describe('ProtKey#reader and #writer', () => {
  it('are windows with bytes, closed, close() and [Symbol.dispose]', () => {
    const key = keep(ProtKey.random(32))
    const r = key.reader()
    expect(r.closed).toBe(false)
    expect(r.bytes.byteLength).toBe(32)
    expectWindowCopy(key)
    r.close()
    expect(r.closed).toBe(true)
    expect(r.bytes.byteLength).toBe(0)
    expectNoWindow(key)
    r.close() // idempotent
    r[Symbol.dispose]()
    expect(key.windows).toEqual({ readers: 0, writer: false })

    const w = key.writer()
    w.bytes.fill(7)
    expectWindowCopy(key)
    w[Symbol.dispose]()
    expect(w.closed).toBe(true)
    expect(w.bytes.byteLength).toBe(0)
    expectNoWindow(key)
    w.close()
    expect(key.read((b) => b.every((x) => x === 7))).toBe(true)
  })
})

describe('ProtKey#equals', () => {
  it('compares with another key (any allocator) and with plain bytes, in constant time windows', () => {
    const secret = randomBytes(32)
    const a = keep(ProtKey.from(secret))
    const b = keep(ProtKey.from(secret, { allocator: new PageAllocator({ secretmem: 'off' }) }))
    expect(a.equals(b)).toBe(true)
    expect(b.equals(a)).toBe(true)
    expect(a.equals(a)).toBe(true)
    expect(a.equals(secret)).toBe(true)
    const flipped = Buffer.from(secret)
    flipped[17] ^= 4
    expect(a.equals(flipped)).toBe(false)
    expect(a.equals(keep(ProtKey.from(flipped)))).toBe(false)
    // Both keys are closed again afterwards.
    expectNoWindow(a)
    expectNoWindow(b)
  })

  it('returns false for a length mismatch', () => {
    const secret = randomBytes(32)
    const a = keep(ProtKey.from(secret))
    expect(a.equals(secret.subarray(0, 31))).toBe(false)
    expect(a.equals(Buffer.concat([secret, Buffer.from([0])]))).toBe(false)
    expect(a.equals(keep(ProtKey.from(secret.subarray(0, 16))))).toBe(false)
  })

  it('works inside a read window of either key (reads nest) and refuses inside a write window', () => {
    const secret = randomBytes(32)
    const a = keep(ProtKey.from(secret))
    const b = keep(ProtKey.from(secret))
    expect(a.read(() => a.equals(b))).toBe(true)
    expect(b.read(() => a.equals(b))).toBe(true)
    expectNoWindow(a)
    expectNoWindow(b)
    a.write(() => expectCode(() => a.equals(b), 'ERR_WINDOW_CONFLICT'))
    expect(a.equals(b)).toBe(true)
  })

  it('refuses a ProtBuf or a non-view', () => {
    const a = keep(ProtKey.random(32))
    const buf = keep(ProtBuf.random(32))
    for (const other of [buf, 'x', 1, null, undefined, new ArrayBuffer(32), [1, 2]]) {
      expectCode(() => a.equals(other), 'ERR_INVALID_ARG_TYPE', 'TypeError')
    }
    expectNoWindow(a)
  })
})

describe('ProtKey state', () => {
  it('windows reports nesting; protections reports access; printing shows length and state', () => {
    const key = ProtKey.random(32)
    expect(String(key)).toBe('ProtKey(32 bytes, no access)')
    key.read(() => key.read(() => {
      expect(key.windows).toEqual({ readers: 2, writer: false })
    }))
    key.dispose()
    expect(String(key)).toBe('ProtKey(32 bytes, disposed)')
    expect(key.disposed).toBe(true)
    expect(key.windows).toEqual({ readers: 0, writer: false })
  })
})

describe('windows work on a copy of the key', () => {
  it("a read window's bytes are a copy: writing into them (JS or native) changes nothing in the key and does not crash", async () => {
    const secret = randomBytes(32)
    const key = keep(ProtKey.from(secret))
    key.read((b) => {
      b.fill(0xee)
      expect(b.every((x) => x === 0xee)).toBe(true) // writable memory: the copy took the write
      key.read((inner) => expect(inner).toBe(b)) // nested readers share this one copy
      randomFillSync(b) // a native write too
      expectWindowCopy(key)
    })
    expectNoWindow(key)
    expect(key.equals(secret)).toBe(true)
    const r = key.reader()
    r.bytes.fill(0)
    r.close()
    await key.readAsync(async (b) => {
      await null
      b.fill(1)
    })
    // The next window copies the key again, untouched.
    expect(key.read((b) => Buffer.compare(b, secret))).toBe(0)
    expect(key.equals(secret)).toBe(true)
  })

  it('a view kept after its window closed has length 0, whatever opened it, and the window memory is given back', async () => {
    const key = keep(ProtKey.random(32))
    const buffers = windowBufferAllocator()
    const start = live(buffers)
    const kept = [key.read((b) => b), key.write((b) => b)]
    const r = key.reader()
    kept.push(r.bytes)
    r.close()
    const w = key.writer()
    kept.push(w.bytes)
    w.close()
    kept.push(await key.readAsync(async (b) => { await null; return b }))
    kept.push(await key.writeAsync((b) => b))
    let nested = null
    key.read(() => key.read((b) => { nested = b }))
    kept.push(nested)
    for (const v of kept) {
      expect([v.byteLength, v.length, v.buffer.byteLength, v[0]]).toEqual([0, 0, 0, undefined])
      v[0] = 1 // a write to a detached view is a no-op
      expect(v[0]).toBeUndefined()
    }
    expect(live(buffers)).toEqual(start)
    expect(key.read((b) => b.length)).toBe(32)
  })

  it('a write window whose view was detached by someone else throws ERR_VIEW_ESCAPED on close; the key keeps its content', () => {
    const secret = randomBytes(32)
    const key = keep(ProtKey.from(secret))
    const before = escapedWindows()
    expectCode(() => key.write((bytes) => {
      bytes[0] ^= 0xff
      os.detach(bytes.buffer)
    }), 'ERR_VIEW_ESCAPED', 'ContainerError')
    expect(key.windows).toEqual({ readers: 0, writer: false })
    expect(key.equals(secret)).toBe(true)
    const w = key.writer()
    w.bytes.fill(0)
    os.detach(w.bytes.buffer)
    expectCode(() => w.close(), 'ERR_VIEW_ESCAPED')
    expect(w.closed).toBe(true)
    expect(key.equals(secret)).toBe(true)
    // A read window's detached view costs nothing but its buffer: nothing to write back.
    key.read((bytes) => os.detach(bytes.buffer))
    expect(escapedWindows()).toBe(before + 3)
    expectNoWindow(key)
    key.write((bytes) => { bytes[0] = 0x5a })
    expect(key.read((bytes) => bytes[0])).toBe(0x5a)
  })

  it.skipIf(TRANSFER === null)('a write window whose view was moved out with transfer() throws ERR_VIEW_ESCAPED on close; the key keeps its content, the moved buffer reads zeros', () => {
    const [node, ...flags] = TRANSFER
    const r = spawnSync(node, [...flags, join(FIXTURES, 'key-escape.cjs')], { encoding: 'utf8', timeout: 30000 })
    expect(r.status, r.stderr).toBe(0)
    // The escapes are reported by the allocator's warning, and nothing else is printed.
    const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.includes('--trace-warnings'))
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) expect(line).toMatch(/\[TARSJS_ESCAPED_VIEW\]/)
    expect(JSON.parse(r.stdout)).toEqual({
      writeError: 'ERR_VIEW_ESCAPED',
      afterWrite: { kept: true, windows: { readers: 0, writer: false }, movedLength: 32, movedZeros: true },
      guardError: 'ERR_VIEW_ESCAPED',
      afterGuard: { closed: true, kept: true, windows: { readers: 0, writer: false }, movedZeros: true },
      later: { first: 0x66, movedZeros: true },
      escaped: 2
    })
  })

  it("on a PageAllocator with protectionKey 'off' windows work the same and the pages are PROT_NONE (---), windows included", () => {
    const allocator = new PageAllocator({ protectionKey: 'off' })
    const secret = randomBytes(32)
    warmWindowMemory(ProtKey, 32)
    const before = smaps()
    const key = ProtKey.from(secret, { allocator })
    const range = locateKeyPages(before, smaps())
    const p = expectNoWindow(key)
    expect(p.protectionKey).toBe(false)
    const none = p.secretmem ? '---s' : '---p'
    const pages = () => {
      const { data } = dataMapping(range, PS)
      expectNoAccessVma(data, p)
      return data.perms
    }
    expect(pages()).toBe(none)
    key.read((b) => {
      expect(pages()).toBe(none)
      expectWindowCopy(key)
      expect(Buffer.compare(b, secret)).toBe(0)
      b[0] ^= 1 // the copy only
    })
    expect(key.equals(secret)).toBe(true)
    key.write((b) => {
      expect(pages()).toBe(none)
      b[0] ^= 0xff
    })
    expect(key.read((b) => b[0])).toBe(secret[0] ^ 0xff)
    const r = key.reader()
    expect(pages()).toBe(none)
    expect(r.bytes[0]).toBe(secret[0] ^ 0xff)
    r.close()
    expect(r.bytes.length).toBe(0)
    expect(pages()).toBe(none)
    expect(protectionKeyAt(range.start) ?? 0).toBe(0)
    expectNoWindow(key)
    key.dispose()
    expect(live(allocator)).toEqual({ allocations: 0, bytes: 0 })
    // 'auto' is what the default key allocator uses: a protection key exactly where the CPU has one.
    const auto = ProtKey.random(32, { allocator: new PageAllocator({ protectionKey: 'auto' }) })
    expect(auto.protections().protectionKey).toBe(PKEYS)
    auto.dispose()
  })

  it('a child without memory protection keys (TARSJS_OS_MEMLOCK_SIMULATE_NO_PKEYS=1): protectionKey false, PROT_NONE pages, windows work', () => {
    const runs = {
      simulated: runFixture('no-pkeys.cjs', [], { env: { TARSJS_OS_MEMLOCK_SIMULATE_NO_PKEYS: '1' } }),
      control: runFixture('no-pkeys.cjs', [], { env: { TARSJS_OS_MEMLOCK_SIMULATE_NO_PKEYS: '' } })
    }
    const kind = SECRETMEM ? 's' : 'p'
    for (const [name, res] of Object.entries(runs)) {
      expect(res.status, res.stderr).toBe(0)
      const rec = records(res.stdout)
      const keyed = name === 'control' && PKEYS
      // Where the kernel shows protection keys, the pages carry this process's key (non-zero) or none (0).
      const pages = keyed ? { perms: `rw-${kind}`, pkey: expect.toSatisfy((k) => k > 0) } : { perms: `---${kind}`, pkey: KERNEL_PKEYS ? 0 : null }
      expect(rec.CAPS, name).toEqual({ protectionKeys: keyed })
      expect(rec.KEY.own, name).toMatchObject({ access: 'none', protectionKey: keyed, secretmem: SECRETMEM, locked: true })
      expect(rec.KEY.window, name).toBe(null)
      expect(rec.KEY.pages, name).toEqual(pages)
      expect(rec.WINDOWS, name).toEqual({
        written: { access: 'none', window: true, pages },
        read: { all: true, length: 32, access: 'none', window: true, nested: true, pages },
        guarded: { length: 32, first: 0x5a },
        guardAfterClose: 0,
        equals: true,
        after: { window: null, pages }
      })
      expect(rec.OK, name).toEqual({})
    }
  })
})
