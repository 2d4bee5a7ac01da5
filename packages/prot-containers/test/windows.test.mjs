// Window rules: many nested readers or one writer; conflicts throw
// ERR_WINDOW_CONFLICT and leave the key usable; guards close by hand or with
// [Symbol.dispose]; a callback that returns a promise or thenable is refused
// with the window already closed (checked in /proc/self/smaps too: the key's
// pages never open, the window's copy is gone).
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { PS, PageAllocator, ProtKey, expectCode, expectNoAccessVma, expectNoWindow, expectWindowCopy, locateKeyPages, warmWindowMemory } from './helpers.mjs'
import { dataMapping, findBytes, smaps as readMappings } from '@tarsjs/test-kit'

let made = []
const keep = (c) => { made.push(c); return c }
afterEach(() => {
  for (const c of made) c.dispose()
  made = []
})

function closedAndUsable (key, secret) {
  expect(key.windows).toEqual({ readers: 0, writer: false })
  expectNoWindow(key)
  expect(key.equals(secret)).toBe(true)
  key.write((b) => { b[0] ^= 1 })
  key.write((b) => { b[0] ^= 1 })
  expect(key.equals(secret)).toBe(true)
}

describe('nesting', () => {
  it('nested reads share one window and one view; the key closes when the last one ends', () => {
    const key = keep(ProtKey.random(32))
    key.read((outer) => {
      key.read((inner) => {
        expect(inner).toBe(outer)
        expect(key.windows.readers).toBe(2)
        key.read(() => expect(key.windows.readers).toBe(3))
      })
      // The inner windows closed, the outer is still open and its view still readable.
      expect(key.windows.readers).toBe(1)
      expectWindowCopy(key)
      expect(outer.byteLength).toBe(32)
    })
    expectNoWindow(key)
  })

  it('readers from reader() and read() nest in any order and may close out of order', () => {
    const key = keep(ProtKey.random(32))
    const r1 = key.reader()
    const r2 = key.reader()
    key.read((b) => expect(b).toBe(r1.bytes))
    r1.close()
    expectWindowCopy(key)
    expect(r2.bytes.byteLength).toBe(32)
    r2.close()
    expectNoWindow(key)
    expect(r1.bytes.byteLength).toBe(0)
  })

  it('a write inside a read is ERR_WINDOW_CONFLICT; the read window is unaffected', () => {
    const secret = randomBytes(32)
    const key = keep(ProtKey.from(secret))
    let ran = false
    key.read((b) => {
      expectCode(() => key.write(() => { ran = true }), 'ERR_WINDOW_CONFLICT', 'ContainerError')
      expectCode(() => key.writer(), 'ERR_WINDOW_CONFLICT')
      expectWindowCopy(key)
      expect(key.windows).toEqual({ readers: 1, writer: false })
      expect(b.byteLength).toBe(32)
    })
    expect(ran).toBe(false)
    closedAndUsable(key, secret)
  })

  it('a read inside a write, or a second write, is ERR_WINDOW_CONFLICT; the write window is unaffected', () => {
    const secret = randomBytes(32)
    const key = keep(ProtKey.from(secret))
    key.write((b) => {
      expectCode(() => key.read(() => {}), 'ERR_WINDOW_CONFLICT')
      expectCode(() => key.reader(), 'ERR_WINDOW_CONFLICT')
      expectCode(() => key.write(() => {}), 'ERR_WINDOW_CONFLICT')
      expectCode(() => key.writer(), 'ERR_WINDOW_CONFLICT')
      expectWindowCopy(key)
      expect(key.windows).toEqual({ readers: 0, writer: true })
      b[1] ^= 0xff // still writable
      b[1] ^= 0xff
    })
    closedAndUsable(key, secret)
  })

  it('the same conflicts through guards', () => {
    const secret = randomBytes(32)
    const key = keep(ProtKey.from(secret))
    const r = key.reader()
    expectCode(() => key.writer(), 'ERR_WINDOW_CONFLICT')
    r[Symbol.dispose]()
    const w = key.writer()
    expectCode(() => key.reader(), 'ERR_WINDOW_CONFLICT')
    expectCode(() => key.writer(), 'ERR_WINDOW_CONFLICT')
    w[Symbol.dispose]()
    closedAndUsable(key, secret)
  })

  it('windows of different keys are independent', () => {
    const a = keep(ProtKey.random(32))
    const b = keep(ProtKey.random(32))
    const a0 = a.read((ab) => ab[0])
    a.read((ab) => b.write((bb) => {
      bb[0] = 1
      // Each has a copy of its own.
      expect(bb.buffer).not.toBe(ab.buffer)
      expect(ab[0]).toBe(a0)
      expectWindowCopy(a)
      expectWindowCopy(b)
    }))
    expectNoWindow(a)
    expectNoWindow(b)
    expect(b.read((bb) => bb[0])).toBe(1)
  })
})

describe('a callback that returns a promise or thenable', () => {
  for (const method of ['read', 'write']) {
    it(`${method}: is refused with ERR_ASYNC_CALLBACK after the window closed; the continuation sees a length-0 view`, async () => {
      const secret = randomBytes(32)
      const key = keep(ProtKey.from(secret))
      /** @type {(value?: unknown) => void} */
      let resume
      const gate = new Promise((resolve) => { resume = resolve })
      let first = null
      let after = null
      const err = expectCode(() => key[method](async (b) => {
        first = b.byteLength // readable until the first await
        await gate
        after = { length: b.byteLength, first: b[0], access: key.protections().access, window: key.protections().window }
        b[0] = 1 // a write to a detached view is a no-op
      }), 'ERR_ASYNC_CALLBACK', 'ContainerError')
      expect(err.message).toMatch(/await/)
      expect(first).toBe(32)
      expectNoWindow(key)
      expect(key.windows).toEqual({ readers: 0, writer: false })
      resume()
      await new Promise((resolve) => setImmediate(resolve))
      expect(after).toEqual({ length: 0, first: undefined, access: 'none', window: null })
      closedAndUsable(key, secret)
    })
  }

  it('a thenable that is not a Promise is refused too; an async function that throws raises no unhandled rejection', async () => {
    const key = keep(ProtKey.random(32))
    let thenCalled = 0
    const thenable = { then (ok) { thenCalled++; ok(1) } }
    expectCode(() => key.read(() => thenable), 'ERR_ASYNC_CALLBACK')
    expectCode(() => key.write(() => thenable), 'ERR_ASYNC_CALLBACK')
    // A refused promise that rejects is handled here: vitest fails the run on an unhandled rejection.
    expectCode(() => key.read(async () => { throw new Error('inside the refused callback') }), 'ERR_ASYNC_CALLBACK')
    expectCode(() => key.read(() => Promise.reject(new Error('rejected'))), 'ERR_ASYNC_CALLBACK')
    await new Promise((resolve) => setTimeout(resolve, 10))
    expectNoWindow(key)
    expect(thenCalled).toBe(2)
  })

  it('a nested refusal closes only the inner read; non-thenable objects are returned as they are', () => {
    const key = keep(ProtKey.random(32))
    key.read(() => {
      expectCode(() => key.read(async () => 1), 'ERR_ASYNC_CALLBACK')
      expect(key.windows.readers).toBe(1)
    })
    const value = { then: 'not a function' }
    expect(key.read(() => value)).toBe(value)
    expect(key.read(() => null)).toBe(null)
    expectNoWindow(key)
  })

  for (const [secretmem, protectionKey] of [['off', 'off'], ['auto', 'off'], ['off', 'auto'], ['auto', 'auto']]) {
    it(`leaves the pages inaccessible in /proc/self/smaps and the copy wiped (secretmem: ${secretmem}, protectionKey: ${protectionKey})`, () => {
      const allocator = new PageAllocator({ secretmem, protectionKey })
      const secret = randomBytes(5000)
      warmWindowMemory(ProtKey, 5000)
      const before = readMappings()
      const key = keep(ProtKey.from(secret, { allocator }))
      const range = locateKeyPages(before, readMappings())
      const p = key.protections()
      const noAccess = () => expectNoAccessVma(dataMapping(range, PS).data, p)
      // The plaintext outside the key's own pages (its window copy), in readable wipe-on-fork memory.
      const marker = secret.subarray(0, 64)
      const copyAt = () => findBytes(marker, (v) => v.flags.has('wf') && v.start !== range.start)
      noAccess()
      let inside = null
      expectCode(() => key.read(async () => {
        inside = { copy: copyAt() !== undefined, window: key.protections().window !== null }
        noAccess()
        await null
      }), 'ERR_ASYNC_CALLBACK')
      expect(inside).toEqual({ copy: true, window: true })
      noAccess()
      expect(copyAt()).toBeUndefined()
      expectCode(() => key.write(async () => { await null }), 'ERR_ASYNC_CALLBACK')
      noAccess()
      expect(copyAt()).toBeUndefined()
      expectNoWindow(key)
    })
  }
})
