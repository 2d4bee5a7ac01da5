// A runtime that refuses external ArrayBuffers (napi_no_external_buffers_allowed,
// as under V8's sandbox), simulated with the test-only switch
// TARSJS_OS_MEMLOCK_SIMULATE_NO_EXTERNAL_BUFFERS=1 read at load.
import { describe, expect, it } from 'vitest'
import { m, records, runFixture } from './helpers.mjs'

describe('external buffers refused', () => {
  it('here they are allowed: capabilities().externalBuffers is true', () => {
    expect(m.capabilities().externalBuffers).toBe(true)
  })

  it('view() throws ERR_EXTERNAL_BUFFERS_UNAVAILABLE, takes no count, and the rest works; the capability says false', () => {
    const env = { ...process.env, TARSJS_OS_MEMLOCK_TEST: '1', TARSJS_OS_MEMLOCK_SIMULATE_NO_EXTERNAL_BUFFERS: '1' }
    const res = runFixture('no-external.cjs', [], { nodeArgs: ['--expose-gc'], env })
    expect(res.stderr).toBe('')
    expect(res.signal).toBe(null)
    expect(res.status).toBe(0)
    const rec = records(res.stdout)
    expect(rec.CAPS).toBe(false)
    expect(rec.REFUSED).toEqual({ codes: ['ERR_EXTERNAL_BUFFERS_UNAVAILABLE'], cls: 'Error' })
    expect(rec.WORKS).toBe(true)
    expect(rec.LIVE).toBe(1)
    expect(rec.AFTER_DROP).toBe(0) // no count leaked: the dropped handle released the region
    expect(rec.AFTER_UNMAP).toBe(0)
  })

  it('the switch must be exactly "1"', () => {
    const env = { ...process.env, TARSJS_OS_MEMLOCK_TEST: '1', TARSJS_OS_MEMLOCK_SIMULATE_NO_EXTERNAL_BUFFERS: 'yes' }
    const res = runFixture('no-external.cjs', [], { nodeArgs: ['--expose-gc'], env })
    expect(res.status).toBe(0)
    expect(records(res.stdout).CAPS).toBe(true)
    expect(records(res.stdout).REFUSED).toEqual({ codes: ['none'], cls: null })
  })
})
