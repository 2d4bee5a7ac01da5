// The GC backstop (Backstop): batched registration, one error policy for a
// free that fails in the finalizer (a TARSJS_BACKSTOP_FAILED warning; an
// integrity failure keeps the allocator's policy), and leak warnings (off by
// default). The garbage collector's own path runs in child processes with
// --expose-gc; `collected()` runs the same path synchronously here.
import { describe, expect, it } from 'vitest'
import type { Allocation, Allocator } from '../src/index.js'
import { expectCode, pa, pagePlace, os, runFixture } from './helpers.js'

type Warning = { name: string; code: string | undefined; message: string }

/** Runs `fn` and returns the process warnings it emitted (emitted on a later tick). */
async function warningsOf(fn: () => void): Promise<Warning[]> {
  const seen: Warning[] = []
  const listener = (w: Error & { code?: string }): void => {
    seen.push({ name: w.name, code: w.code, message: w.message })
  }
  process.on('warning', listener)
  try {
    fn()
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', listener)
  }
  return seen
}

const options = { kind: 'test secret', release: 'close()', leakCode: 'TEST_SECRET_LEAKED' }

/** An allocator whose free fails with `err` (and does nothing else), over a real PageAllocator. */
function failingFree(err: Error): { allocator: Allocator; pages: InstanceType<typeof pa.PageAllocator> } {
  const pages = new pa.PageAllocator()
  const allocator = Object.create(pages) as Allocator
  allocator.free = () => {
    throw err
  }
  return { allocator, pages }
}

describe('Backstop', () => {
  it('frees a live allocation of a collected owner, and counts it; a freed one is left alone', async () => {
    const pages = new pa.PageAllocator()
    const backstop = new pa.Backstop(options)
    const a = pages.alloc(16)
    const b = pages.alloc(16)
    pages.free(b)
    const warnings = await warningsOf(() => {
      backstop.collected(a)
      backstop.collected(b)
    })
    expect(a.freed).toBe(true)
    expect(backstop.reclaimed).toBe(1)
    expect(pages.stats().allocations).toBe(0)
    expect(warnings).toEqual([]) // leak warnings are off by default
  })

  it('a free that fails is a TARSJS_BACKSTOP_FAILED warning, never an exception; the allocation stays live', async () => {
    const pages = new pa.PageAllocator()
    const a = pages.alloc(8)
    const err = Object.assign(new Error('munmap failed'), { code: 'EINVAL' })
    const backstop = new pa.Backstop({ ...options, free: () => { throw err } })
    const warnings = await warningsOf(() => backstop.collected(a))
    expect(warnings).toEqual([
      { name: 'TarsjsWarning', code: pa.WARN_BACKSTOP_FAILED, message: 'tarsjs: the backstop could not free a 8-byte test secret (EINVAL)' }
    ])
    expect(pa.WARN_BACKSTOP_FAILED).toBe('TARSJS_BACKSTOP_FAILED')
    expect(backstop.reclaimed).toBe(0)
    expect(a.freed).toBe(false)
    pages.free(a)
  })

  it('an error without a code is reported as unknown', async () => {
    const { allocator, pages } = failingFree(new Error('no code'))
    const a = pages.alloc(4)
    const backstop = new pa.Backstop({ ...options, free: (x: Allocation) => allocator.free(x) })
    const warnings = await warningsOf(() => backstop.collected(a))
    expect(warnings.map((w) => w.message)).toEqual(['tarsjs: the backstop could not free a 4-byte test secret (unknown)'])
    pages.free(a)
  })

  it("an integrity failure keeps the allocator's policy: under integrity 'throw' ERR_INTEGRITY is thrown, not warned about", async () => {
    const pages = new pa.PageAllocator({ integrity: 'throw' })
    const a = pages.alloc(32)
    const { region, start } = pagePlace(a)
    os.fill(region, start - 1, 1, 0x41) // underflow into the front canary
    const backstop = new pa.Backstop(options)
    let code: unknown
    const warnings = await warningsOf(() => {
      try {
        backstop.collected(a)
      } catch (err) {
        code = (err as { code?: unknown }).code
      }
    })
    expect(code).toBe('ERR_INTEGRITY')
    expect(warnings).toEqual([])
    expect(backstop.reclaimed).toBe(0)
  })

  it('with setLeakWarnings(true) reports each freed allocation once, with its backstop code; off again, silent', async () => {
    const pages = new pa.SlotAllocator()
    const backstop = new pa.Backstop(options)
    const a = pages.alloc(24)
    const b = pages.alloc(24)
    let warnings: Warning[]
    try {
      pa.setLeakWarnings(true)
      warnings = await warningsOf(() => {
        backstop.collected(a)
        backstop.collected(a)
      })
    } finally {
      pa.setLeakWarnings(false)
    }
    expect(warnings).toEqual([
      {
        name: 'TarsjsWarning',
        code: 'TEST_SECRET_LEAKED',
        message: 'tarsjs: a 24-byte test secret was garbage collected without close(); the backstop wiped and freed it'
      }
    ])
    expect(await warningsOf(() => backstop.collected(b))).toEqual([])
    expect(backstop.reclaimed).toBe(2)
  })

  it('registers in batches: owners freed before the promotion are never registered; live ones are, once', () => {
    const pages = new pa.PageAllocator()
    const registered: Allocation[] = []
    const backstop = new pa.Backstop({ ...options, onRegister: (_owner, a) => registered.push(a) > 0 })
    const owners = Array.from({ length: 5 }, () => ({ allocation: pages.alloc(8) }))
    for (const o of owners) backstop.track(o, o.allocation)
    pages.free(owners[0]!.allocation)
    pages.free(owners[3]!.allocation)
    expect(registered).toEqual([])
    backstop.promote()
    expect(registered).toEqual([owners[1]!.allocation, owners[2]!.allocation, owners[4]!.allocation])
    backstop.promote()
    expect(registered).toHaveLength(3)
    for (const o of owners) if (!o.allocation.freed) {
      backstop.untrack(o.allocation)
      pages.free(o.allocation)
    }
  })

  it('promotes by itself before the 17th young owner and on the next turn', async () => {
    const pages = new pa.SlotAllocator()
    let registered = 0
    const backstop = new pa.Backstop({ ...options, onRegister: () => ++registered > 0 })
    const owners = Array.from({ length: 17 }, () => ({ allocation: pages.alloc(8) }))
    for (const o of owners) backstop.track(o, o.allocation)
    expect(registered).toBe(16)
    await new Promise((resolve) => setImmediate(resolve))
    expect(registered).toBe(17)
    for (const o of owners) pages.free(o.allocation)
  })

  it('onRegister returning false leaves an owner unregistered: collected() later still frees by allocation', () => {
    const pages = new pa.PageAllocator()
    const backstop = new pa.Backstop({ ...options, onRegister: () => false })
    const owner = { allocation: pages.alloc(8) }
    backstop.track(owner, owner.allocation)
    backstop.promote()
    backstop.collected(owner.allocation)
    expect(owner.allocation.freed).toBe(true)
  })

  it('refuses bad options and a non-boolean leak switch', () => {
    expectCode(() => new pa.Backstop(undefined as never), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => new pa.Backstop({ ...options, kind: '' }), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => new pa.Backstop({ ...options, leakCode: 1 as never }), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => new pa.Backstop({ ...options, free: 'free' as never }), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => new pa.Backstop({ ...options, onRegister: {} as never }), 'ERR_INVALID_ARG_TYPE')
    let err: unknown
    try {
      pa.setLeakWarnings('yes' as never)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(TypeError)
    expect((err as { code?: unknown }).code).toBe('ERR_INVALID_ARG_TYPE')
  })
})

describe('Backstop under the garbage collector (child processes, --expose-gc)', () => {
  const run = (mode: string) => runFixture('backstop.cjs', [mode], { nodeArgs: ['--expose-gc'] })

  it('frees every dropped owner once collected, silently by default', () => {
    const res = run('quiet')
    expect(res.status, res.stderr).toBe(0)
    expect(res.rec.RESULT).toMatchObject({ freed: 3, reclaimed: 3, live: 0, warnings: [] })
  })

  it('with leak warnings on, one warning per freed owner', () => {
    const res = run('leak')
    expect(res.status, res.stderr).toBe(0)
    const r = res.rec.RESULT
    expect(r).toMatchObject({ freed: 3, reclaimed: 3, live: 0 })
    expect(r.warnings).toHaveLength(3)
    for (const w of r.warnings) expect(w).toMatchObject({ name: 'TarsjsWarning', code: 'TEST_SECRET_LEAKED' })
  })

  it('a free that fails in the finalizer is a warning and the process lives on', () => {
    const res = run('failing')
    expect(res.status, res.stderr).toBe(0)
    expect(res.rec.RESULT).toEqual({
      liveAfter: true,
      freedAfterRetry: true,
      reclaimed: 0,
      warnings: [{ name: 'TarsjsWarning', code: 'TARSJS_BACKSTOP_FAILED', message: 'tarsjs: the backstop could not free a 32-byte test secret (ENOMEM)' }]
    })
  })

  it('a corrupted canary found by the finalizer aborts the process (integrity policy abort, the default)', () => {
    const res = run('integrity')
    expect(res.rec.CORRUPTED).toBe(true)
    expect(res.rec.SURVIVED).toBeUndefined()
    expect(res.signal).toBe('SIGABRT')
    expect(res.stderr).toContain('tarsjs: integrity failure: canary before a 32-byte page allocation was overwritten')
  })
})
