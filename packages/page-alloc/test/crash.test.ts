// In child processes: a one-byte overflow or underflow into a canary ends the
// process on free (SIGABRT, one stderr line); a write to a read-only page
// allocation faults (SIGSEGV); stale views are detached and never fault.
import { describe, expect, it } from 'vitest'
import { expectClean, runFixture } from './helpers.js'

const ABORT_LINE = /^tarsjs: integrity failure: (.*); aborting$/m

describe('a canary overwritten by one byte is caught on free', () => {
  const cases = [
    ['slot-overflow', 'canary after a 20-byte slot was overwritten (buffer overflow)'],
    ['page-underflow', 'canary before a 100-byte page allocation was overwritten (buffer underflow)'],
    ['page-overflow', 'canary after a 100-byte page allocation was overwritten (buffer overflow)']
  ] as const

  for (const [which, message] of cases) {
    it(`${which}: SIGABRT with the integrity line, after the data was left intact`, () => {
      const run = runFixture('canary.cjs', [which])
      expect(run.signal).toBe('SIGABRT')
      expect(run.status).toBe(null)
      // The corruption touched only the canary: both allocations' data are intact.
      expect(run.rec.DATA).toEqual({ a: true, neighbour: true })
      expect(run.rec.BEFORE_FREE.protections.canary).toBe(true)
      expect(run.rec.AFTER_FREE).toBeUndefined()
      expect(ABORT_LINE.exec(run.stderr)?.[1]).toBe(message)
      // One clear line, first on stderr.
      expect(run.stderr.split('\n')[0]).toBe(`tarsjs: integrity failure: ${message}; aborting`)
    })
  }

  for (const which of ['slot-intact', 'page-intact']) {
    it(`${which}: the same run without the corruption exits 0 and frees everything`, () => {
      const run = runFixture('canary.cjs', [which])
      expectClean(run)
      expect(run.stderr).not.toMatch(/integrity/)
      expect(run.rec.AFTER_FREE).toEqual({ which })
      expect(run.rec.DONE.allocations).toBe(0)
      expect(run.rec.DONE.bytes).toBe(0)
    })
  }
})

describe('page protection is enforced by the kernel', () => {
  it("a write through a view after protect('read') dies with SIGSEGV", () => {
    const run = runFixture('protect.cjs', ['write-after-read'])
    expect(run.rec.READ).toEqual({ value: 7, access: 'read' })
    expect(run.rec.SURVIVED).toBeUndefined()
    expect(run.signal).toBe('SIGSEGV')
  })

  it('the same on secretmem memory', () => {
    const run = runFixture('protect.cjs', ['write-after-read', 'secretmem'])
    expect(run.rec.READ).toEqual({ value: 7, access: 'read' })
    expect(run.signal).toBe('SIGSEGV')
  })

  it("reading after protect('read') and writing after protect('readwrite') are fine (exit 0)", () => {
    const run = runFixture('protect.cjs', ['read-after-read'])
    expectClean(run)
    expect(run.rec.READ).toEqual({ value: 7, access: 'read' })
    expect(run.rec.WRITTEN).toEqual({ value: 9 })
  })

  it("the keepViews opt-out (libsodium behaviour): a kept view read after protect('none') dies with SIGSEGV", () => {
    const run = runFixture('protect.cjs', ['keep-views-read'])
    expect(run.rec.PROTECTED).toEqual({ byteLength: 64, access: 'none' })
    expect(run.rec.SURVIVED).toBeUndefined()
    expect(run.signal).toBe('SIGSEGV')
  })
})

describe('stale views are detached, never faulting', () => {
  it("views read after free or after protect('none') have length 0 and read undefined; the child exits 0", () => {
    const run = runFixture('detached.cjs')
    expectClean(run)
    const detached = {
      byteLength: 0,
      typedLength: 0,
      reads: Array(9).fill('undefined'),
      constructs: 'TypeError',
      methods: 'TypeError'
    }
    expect(run.rec.SLOT_AFTER_FREE).toEqual(detached)
    expect(run.rec.LARGE_AFTER_FREE).toEqual(detached)
    expect(run.rec.PAGE_AFTER_NONE).toEqual(detached)
    expect(run.rec.PAGE_AFTER_READWRITE).toEqual({ byteLength: 64, intact: true, sameBuffer: false })
    expect(run.rec.PAGE_READ_ONLY).toEqual({ byteLength: 64, intact: true })
    expect(run.rec.PAGE_AFTER_FREE).toEqual(detached)
    expect(run.rec.EXIT).toEqual({ ok: true })
  })
})
