// A free that meets a refused system call (ENOMEM near vm.max_map_count) is
// either retryable with nothing changed, or complete: never half-freed. The
// refusals are injected by a copy of os-memlock whose calls fail on demand
// (fixtures/failing-os.cjs), in a child process.
import { describe, expect, it } from 'vitest'
import { expectClean, runFixture } from './helpers.js'

describe('free when the kernel refuses', () => {
  const run = runFixture('failing-os.cjs')

  it('exits 0: no refusal escapes from a deferred quarantine release', () => {
    expectClean(run)
    expect(run.rec.DEFERRED).toEqual({ allocations: 0 })
    expect(run.rec.EXIT).toEqual({ ok: true })
  })

  it('slots: frees complete when retiring their page is refused (the page stays warm and locked, counted truly)', () => {
    expect(run.rec.SLOTS).toEqual({
      frees: ['ok'],
      freed: true,
      afterFailures: { allocations: 0, bytes: 0 },
      reuse: ['ok'],
      lockedMatchesKernel: true,
      doubleFree: 'ERR_DOUBLE_FREE'
    })
  })

  it('page allocations: a refused free changes nothing and can be retried; a refused release is never half-done', () => {
    expect(run.rec.PAGES).toEqual({
      first: 'ENOMEM',
      state: { freed: false, allocations: 1, access: 'none' },
      retry: 'ok',
      close: 'ENOMEM',
      reopened: 'ok',
      escapedBytes: 0,
      freed: true,
      quarantined: 'ok',
      fresh: true,
      stats: { allocations: 0, cachedPages: 1 }
    })
  })
})
