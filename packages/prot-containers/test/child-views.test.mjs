// In child processes: views kept past their window or past dispose have
// length 0 and never crash the process; writing through a read window writes
// into the window's copy only (the key keeps its value, the process lives);
// a view of a key allocator's no-access pages kept on purpose (keepViews) is
// stopped by the kernel (SIGSEGV), with a protection key or PROT_NONE.
import { describe, expect, it } from 'vitest'
import { PKEYS, SECRETMEM, records, runFixture } from './helpers.mjs'

const DETACHED = {
  byteLength: 0,
  length: 0,
  bufferLength: 0,
  read: { value: 'undefined' },
  readLast: { value: 'undefined' },
  wrote: { value: 'undefined' },
  construct: { threw: 'TypeError' },
  bufferFrom: { value: 0 },
  fill: { threw: 'TypeError' },
  set: { threw: 'TypeError' },
  reduce: { threw: 'TypeError' }
}

function byTag (stdout) {
  const out = {}
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z_]+) (\{.*\})$/.exec(line)
    if (!m) continue
    ;(out[m[1]] ??= []).push(JSON.parse(m[2]))
  }
  return out
}

describe('stale views in a child process', () => {
  it('have length 0, read undefined, ignore writes, throw TypeError where JS checks; the child exits 0', () => {
    const res = runFixture('stale.cjs')
    expect(res.signal, res.stderr).toBe(null)
    expect(res.status, res.stderr).toBe(0)
    expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
    const got = byTag(res.stdout)
    for (const tag of ['KEY_READ', 'KEY_WRITE', 'KEY_READER', 'KEY_NESTED', 'KEY_DISPOSED', 'KEY_ASYNC']) {
      expect(got[tag].map((r) => r.allocator)).toEqual(['default', 'anonymous'])
      for (const { allocator, ...view } of got[tag]) expect(view, `${tag} ${allocator}`).toEqual(DETACHED)
    }
    expect(got.KEY_NESTED_OPEN).toEqual([{ length: 32 }, { length: 32 }])
    expect(got.KEY_ASYNC_REFUSED).toEqual([{ code: 'ERR_ASYNC_CALLBACK' }, { code: 'ERR_ASYNC_CALLBACK' }])
    expect(got.BUF_DISPOSED.map((r) => r.allocator)).toEqual(['slot', 'page'])
    for (const { allocator, ...view } of got.BUF_DISPOSED) expect(view, `ProtBuf ${allocator}`).toEqual(DETACHED)
    expect(got.BUF_VIEW_DISPOSED).toEqual([
      { allocator: 'slot', length: 0, read: { value: 'undefined' } },
      { allocator: 'page', length: 0, read: { value: 'undefined' } }
    ])
  })
})

describe('writing through a read window', () => {
  for (const mode of ['read', 'read-anonymous', 'reader']) {
    it(`writes into the window's copy only (${mode}): the child lives and the key keeps its value`, () => {
      const res = runFixture('read-window-write.cjs', [mode])
      expect(res.signal, res.stderr).toBe(null)
      expect(res.status, res.stderr).toBe(0)
      const rec = records(res.stdout)
      const anonymous = mode === 'read-anonymous'
      expect(rec.KEY).toEqual({ secretmem: anonymous ? false : SECRETMEM, protectionKey: anonymous ? false : PKEYS })
      expect(rec.READ).toEqual({ value: 0, length: 32 })
      expect(rec.WRITING).toEqual({})
      // The copy took the write; the key's own pages stayed no access meanwhile.
      expect(rec.WROTE).toEqual({ value: 1, access: 'none' })
      if (mode === 'reader') expect(rec.CLOSED).toEqual({ length: 0 })
      // Closing a read window writes nothing back.
      expect(rec.AFTER).toEqual({ value: 0, windows: { readers: 0, writer: false } })
      expect(rec.OK).toEqual({})
    })
  }

  it('control: the same write in a write window changes the key and the child exits 0', () => {
    const res = runFixture('read-window-write.cjs', ['write'])
    expect(res.signal, res.stderr).toBe(null)
    expect(res.status).toBe(0)
    const rec = records(res.stdout)
    expect(rec.WROTE).toEqual({ value: 1, access: 'none' })
    expect(rec.AFTER).toEqual({ value: 1, windows: { readers: 0, writer: false } })
    expect(rec.OK).toEqual({})
  })
})

describe("a view of a key allocator's no-access pages kept with keepViews", () => {
  const allocators = [
    ['the default key allocator', 'default', {}, PKEYS],
    ['a PageAllocator with protectionKey off', 'off', {}, false],
    ['the default key allocator without protection keys', 'default', { TARSJS_OS_MEMLOCK_SIMULATE_NO_PKEYS: '1' }, false]
  ]
  // When the view is touched: at once, inside a window of a ProtKey on the same allocator (whose copy
  // opened the protection key for itself alone), or after windows closed.
  const moments = [['now', 'read'], ['now', 'write'], ['in-read', 'write'], ['in-write', 'read'], ['after', 'read']]
  for (const [name, which, env, keyed] of allocators) {
    for (const [when, touch] of moments) {
      it(`kills the child with SIGSEGV on a ${touch}, ${when} (${name})`, () => {
        const res = runFixture('kept-view.cjs', [which, touch, when], { env })
        expect(res.signal, res.stderr).toBe('SIGSEGV')
        expect(res.status).toBe(null)
        const rec = records(res.stdout)
        // Still attached (length 32): only the kernel stops the access, through the key or PROT_NONE.
        expect(rec.PAGES).toEqual({ access: 'none', protectionKey: keyed, length: 32 })
        if (when !== 'now') expect(rec.WINDOW).toEqual({ value: 7 })
        expect(rec.TOUCHING).toEqual({})
        expect(rec.VALUE).toBeUndefined()
        expect(rec.SURVIVED).toBeUndefined()
      })
    }

    it(`control: the same view after protect(readwrite, keepViews) reads and writes, and the child lives (${name})`, () => {
      for (const touch of ['read', 'write']) {
        const res = runFixture('kept-view.cjs', [which, touch, 'reopened'], { env })
        expect(res.signal, res.stderr).toBe(null)
        expect(res.status, res.stderr).toBe(0)
        const rec = records(res.stdout)
        expect(rec.PAGES).toEqual({ access: 'none', protectionKey: keyed, length: 32 })
        if (touch === 'read') expect(rec.VALUE).toEqual({ value: 5 })
        expect(rec.SURVIVED).toEqual({})
      }
    })
  }
})
