// Window rules: many nested readers or one writer; conflicts throw
// ERR_WINDOW_CONFLICT and leave the key usable; guards close by hand or with
// [Symbol.dispose]; a callback that returns a promise or thenable is refused
// with the window already closed (checked in /proc/self/smaps too).
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { PS, PageAllocator, ProtKey, expectCode } from './helpers.mjs'
import { dataMapping, locateData, smaps as readMappings } from '@tarsjs/test-kit'

let made = []
const keep = (c) => { made.push(c); return c }
afterEach(() => {
  for (const c of made) c.dispose()
  made = []
})

function closedAndUsable (key, secret) {
  expect(key.windows).toEqual({ readers: 0, writer: false })
  expect(key.protections().access).toBe('none')
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
      expect(key.protections().access).toBe('read')
      expect(outer.byteLength).toBe(32)
    })
    expect(key.protections().access).toBe('none')
  })

  it('readers from reader() and read() nest in any order and may close out of order', () => {
    const key = keep(ProtKey.random(32))
    const r1 = key.reader()
    const r2 = key.reader()
    key.read((b) => expect(b).toBe(r1.bytes))
    r1.close()
    expect(key.protections().access).toBe('read')
    expect(r2.bytes.byteLength).toBe(32)
    r2.close()
    expect(key.protections().access).toBe('none')
    expect(r1.bytes.byteLength).toBe(0)
  })

  it('a write inside a read is ERR_WINDOW_CONFLICT; the read window is unaffected', () => {
    const secret = randomBytes(32)
    const key = keep(ProtKey.from(secret))
    let ran = false
    key.read((b) => {
      expectCode(() => key.write(() => { ran = true }), 'ERR_WINDOW_CONFLICT', 'ContainerError')
      expectCode(() => key.writer(), 'ERR_WINDOW_CONFLICT')
      expect(key.protections().access).toBe('read')
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
      expect(key.protections().access).toBe('readwrite')
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
    a.read(() => b.write((bb) => { bb[0] = 1 }))
    expect(a.protections().access).toBe('none')
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
        after = { length: b.byteLength, first: b[0], access: key.protections().access }
        b[0] = 1 // a write to a detached view is a no-op
      }), 'ERR_ASYNC_CALLBACK', 'ContainerError')
      expect(err.message).toMatch(/await/)
      expect(first).toBe(32)
      expect(key.protections().access).toBe('none')
      expect(key.windows).toEqual({ readers: 0, writer: false })
      resume()
      await new Promise((resolve) => setImmediate(resolve))
      expect(after).toEqual({ length: 0, first: undefined, access: 'none' })
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
    expect(key.protections().access).toBe('none')
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
    expect(key.protections().access).toBe('none')
  })

  for (const secretmem of ['off', 'auto']) {
    it(`leaves the pages inaccessible in /proc/self/smaps (secretmem: ${secretmem})`, () => {
      const allocator = new PageAllocator({ secretmem })
      const before = readMappings()
      const key = keep(ProtKey.random(5000, { allocator }))
      const w = key.writer()
      const range = locateData(before, readMappings())
      w.close()
      const shared = key.protections().secretmem
      const none = shared ? '---s' : '---p'
      expect(dataMapping(range, PS).data.perms).toBe(none)
      let inside = null
      expectCode(() => key.read(async () => {
        inside = dataMapping(range, PS).data.perms
        await null
      }), 'ERR_ASYNC_CALLBACK')
      expect(inside).toBe(shared ? 'r--s' : 'r--p')
      expect(dataMapping(range, PS).data.perms).toBe(none)
      expectCode(() => key.write(async () => { await null }), 'ERR_ASYNC_CALLBACK')
      expect(dataMapping(range, PS).data.perms).toBe(none)
    })
  }
})
