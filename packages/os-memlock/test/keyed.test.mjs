// Memory protection keys: protect(..., 'keyed') and keyedCopy. Where the CPU and kernel have
// them (x86-64 PKU), keyed pages are read-write in the page tables but every thread's PKRU
// denies them; only keyedCopy opens the key, for one copy. Tested by trying to read them.
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { Worker } from 'node:worker_threads'
import { PS, expectThrow, m, protectedErr, records, runFixture, typeErr } from './helpers.mjs'
import { mapLocated, mappingsOver } from './smaps.mjs'

const PKEYS = m.capabilities().protectionKeys

describe.runIf(PKEYS)("protect(..., 'keyed')", () => {
  it('detaches the views, marks the pages with a key in smaps (rw-p), and any other protect takes the key away', () => {
    const { region, range } = mapLocated(3 * PS)
    const view = new Uint8Array(m.view(region, PS, 8))
    m.protect(region, PS, PS, 'keyed')
    expect(view.length).toBe(0)
    const keyed = mappingsOver(range).filter((v) => v.protectionKey !== 0)
    expect(keyed.map((v) => [Number(v.end - v.start), v.perms])).toEqual([[PS, 'rw-p']])
    for (const access of ['read', 'readwrite', 'none']) {
      m.protect(region, PS, PS, 'keyed')
      m.protect(region, PS, PS, access)
      expect(mappingsOver(range).every((v) => v.protectionKey === 0)).toBe(true)
    }
    m.unmap(region)
  })

  it('keyed pages are refused to view, copy, equals, wipe and fill, as no-access pages are', () => {
    const region = m.map(PS)
    m.protect(region, 0, PS, 'keyed')
    const plain = new Uint8Array(8)
    expectThrow(() => m.view(region, 0, 8), Error, 'ERR_REGION_PROTECTED')
    protectedErr(() => m.copy(region, 0, plain, 0, 8))
    protectedErr(() => m.copy(plain, 0, region, 0, 8))
    protectedErr(() => m.equals(region, 0, plain, 0, 8))
    protectedErr(() => m.wipe(region, 0, 8))
    protectedErr(() => m.fill(region, 0, 8, 1))
    m.unmap(region)
  })

  it('keyedCopy reads and writes keyed pages, exactly the range asked, and leaves them keyed', () => {
    const { region, range } = mapLocated(2 * PS)
    m.copy(Uint8Array.from([1, 2, 3, 4, 5, 6]), 0, region, PS - 3, 6) // across the page boundary
    m.protect(region, 0, 2 * PS, 'keyed')
    const out = new Uint8Array(8).fill(0xee)
    m.keyedCopy(region, PS - 3, out, 1, 6)
    expect(Array.from(out)).toEqual([0xee, 1, 2, 3, 4, 5, 6, 0xee])
    m.keyedCopy(Uint8Array.from([9, 9]), 0, region, PS - 1, 2)
    m.keyedCopy(region, PS - 3, out, 0, 6)
    expect(Array.from(out.subarray(0, 6))).toEqual([1, 2, 9, 9, 5, 6])
    expect(mappingsOver(range).every((v) => v.protectionKey !== 0 && v.perms === 'rw-p')).toBe(true)
    m.protect(region, 0, 2 * PS, 'read')
    expect(Array.from(new Uint8Array(m.view(region, PS - 3, 6)))).toEqual([1, 2, 9, 9, 5, 6])
    m.unmap(region)
  })

  it('keyedCopy also copies between accessible memory, and refuses what copy refuses', () => {
    const region = m.map(2 * PS)
    m.keyedCopy(Uint8Array.of(7), 0, region, 0, 1)
    expect(new Uint8Array(m.view(region, 0, 1))[0]).toBe(7)
    m.protect(region, PS, PS, 'none')
    protectedErr(() => m.keyedCopy(region, PS, new Uint8Array(1), 0, 1)) // PROT_NONE is not keyed
    m.protect(region, PS, PS, 'read')
    protectedErr(() => m.keyedCopy(new Uint8Array(1), 0, region, PS, 1)) // read-only
    typeErr(() => m.keyedCopy({}, 0, new Uint8Array(1), 0, 1))
    expectThrow(() => m.keyedCopy(region, 0, new Uint8Array(1), 0, 2), RangeError, 'ERR_OUT_OF_RANGE')
    m.unmap(region)
    expectThrow(() => m.keyedCopy(region, 0, new Uint8Array(1), 0, 1), Error, 'ERR_REGION_UNMAPPED')
  })

  it('a worker thread can keyedCopy its own keyed memory; the process has one key for all threads', async () => {
    const src = `
      const { parentPort } = require('node:worker_threads')
      const m = require(${JSON.stringify(new URL('../index.js', import.meta.url).pathname)})
      const region = m.map(m.pageSize())
      m.copy(Uint8Array.of(42), 0, region, 0, 1)
      m.protect(region, 0, m.pageSize(), 'keyed')
      const out = new Uint8Array(1)
      m.keyedCopy(region, 0, out, 0, 1)
      parentPort.postMessage({ value: out[0], keys: m.capabilities().protectionKeys })
      m.unmap(region)`
    const w = new Worker(src, { eval: true })
    const msg = await new Promise((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
    })
    await w.terminate()
    expect(msg).toEqual({ value: 42, keys: true })
  })
})

describe.runIf(PKEYS)('keyed pages fault when read (child processes)', () => {
  it('a view kept across keyed (keepViews) kills the reader with SIGSEGV', () => {
    const res = runFixture('keyed.cjs', ['read-kept-view'])
    expect(res.signal).toBe('SIGSEGV')
    const rec = records(res.stdout)
    expect(rec.COPIED).toEqual({ value: 0x5a })
    expect(rec.READING).toEqual({})
    expect(rec.READ).toBeUndefined()
  })

  it('keyedCopy closes the key again before it returns: the read after it faults too', () => {
    const res = runFixture('keyed.cjs', ['read-after-copy'])
    expect(res.signal).toBe('SIGSEGV')
    expect(records(res.stdout).READ).toBeUndefined()
  })

  it('control: keyedCopy alone, no raw read: the child exits 0', () => {
    const res = runFixture('keyed.cjs', ['control'])
    expect(res.signal).toBe(null)
    expect(res.status).toBe(0)
    expect(records(res.stdout).READ).toEqual({ value: 0x5a })
  })
})

describe('without protection keys (TARSJS_OS_MEMLOCK_SIMULATE_NO_PKEYS=1, or a CPU without PKU)', () => {
  it("capabilities() says so, 'keyed' and keyedCopy throw ERR_UNSUPPORTED, and nothing is changed", () => {
    const code = `
      const m = require('./index.js')
      const region = m.map(m.pageSize())
      const out = {}
      out.keys = m.capabilities().protectionKeys
      try { m.protect(region, 0, m.pageSize(), 'keyed') } catch (e) { out.protect = e.code }
      try { m.keyedCopy(region, 0, new Uint8Array(1), 0, 1) } catch (e) { out.copy = e.code }
      out.view = m.view(region, 0, 4).byteLength
      console.log(JSON.stringify(out))`
    const res = spawnSync(process.execPath, ['-e', code], {
      cwd: new URL('..', import.meta.url).pathname,
      env: { ...process.env, TARSJS_OS_MEMLOCK_SIMULATE_NO_PKEYS: '1' },
      encoding: 'utf8'
    })
    expect(res.status).toBe(0)
    expect(JSON.parse(res.stdout.trim())).toEqual({ keys: false, protect: 'ERR_UNSUPPORTED', copy: 'ERR_UNSUPPORTED', view: 4 })
  })
})
