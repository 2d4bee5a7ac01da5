// A failed view() leaves the region's counts exactly as before, whatever the
// failing Node-API call did with the view's finalizer (Node 20 runs it inside
// napi_create_external_arraybuffer, then throws ERR_BUFFER_TOO_LARGE).
import { constants } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import { records, runFixture } from './helpers.mjs'

const TEST_ENV = { ...process.env, TARSJS_OS_MEMLOCK_TEST: '1' }

describe('a view longer than buffer.constants.MAX_LENGTH', () => {
  it('fails with a typed error (Node 20) or succeeds (22+); the region keeps working and is unmapped once, after its last view', () => {
    const res = runFixture('view-too-large.cjs', [], { nodeArgs: ['--expose-gc'], env: TEST_ENV })
    expect(res.stderr).toBe('')
    expect(res.signal).toBe(null)
    expect(res.status).toBe(0)
    const out = records(res.stdout).OUTCOME
    if (constants.MAX_LENGTH < 2 ** 32 + 1) {
      expect(out.code).toBe('ERR_BUFFER_TOO_LARGE')
      expect(out.byteLength).toBe(null)
    } else {
      expect(out.code).toBe(null)
      expect(out.byteLength).toBe(2 ** 32 + 1)
    }
    expect(out).toMatchObject({ works: true, mapped: true, live: 1, afterDrop: 1, viewReadable: true, afterAll: 0 })
  })
})
