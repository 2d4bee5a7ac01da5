// In child processes: views kept past their window or past dispose have
// length 0 and never crash the process; writing through a read window is
// stopped by the kernel (SIGSEGV), as documented.
import { describe, expect, it } from 'vitest'
import { SECRETMEM, records, runFixture } from './helpers.mjs'

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
    it(`kills the child with SIGSEGV (${mode}), after the read succeeded`, () => {
      const res = runFixture('segv.cjs', [mode])
      expect(res.signal, res.stderr).toBe('SIGSEGV')
      expect(res.status).toBe(null)
      const rec = records(res.stdout)
      expect(rec.KEY.secretmem).toBe(mode === 'read-anonymous' ? false : SECRETMEM)
      expect(rec.READ).toEqual({ value: 0, length: 32 })
      expect(rec.WRITING).toEqual({})
      expect(rec.WROTE).toBeUndefined()
      expect(rec.OK).toBeUndefined()
    })
  }

  it('control: the same write in a write window succeeds and the child exits 0', () => {
    const res = runFixture('segv.cjs', ['write'])
    expect(res.signal, res.stderr).toBe(null)
    expect(res.status).toBe(0)
    const rec = records(res.stdout)
    expect(rec.WROTE).toEqual({ value: 1 })
    expect(rec.OK).toEqual({})
  })
})
