// sodium_malloc and friends in the unprotected development mode (ordinary
// memory: same behaviour, every protection false, sodium_mlock refused as by
// a kernel that cannot lock) and on a simulated Windows without it (first use
// throws ERR_UNSUPPORTED_PLATFORM). Each case in a fresh process.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { records } from '@tarsjs/test-kit'
import { FIXTURES } from './helpers.js'

const BASE: NodeJS.ProcessEnv = { ...process.env }
delete BASE.TARSJS_UNPROTECTED_DEV
delete BASE.TARSJS_TEST_PLATFORM
delete BASE.NODE_ENV

/** Every protection flag, false. */
const NOTHING = Object.fromEntries(['locked', 'noDump', 'wipeOnFork', 'dontFork', 'guardPages', 'canary', 'secretmem'].map((k) => [k, false]))

/**
 * The fixture's report: one JSON value per line, keyed by its leading word.
 * Its shape differs per key, so the values stay untyped (`any`) for the
 * assertions to read.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function run(env: NodeJS.ProcessEnv): Record<string, any> {
  const res = spawnSync(process.execPath, [join(FIXTURES, 'development-mode.cjs')], { env: { ...BASE, ...env }, encoding: 'utf8', timeout: 60000 })
  expect(res.status, res.stdout + res.stderr).toBe(0)
  expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
  const out = records(res.stdout)
  return out
}

describe.each([
  ['on Linux', {}],
  ['on a simulated Windows', { NODE_ENV: 'test', TARSJS_TEST_PLATFORM: 'win32' }]
])('the unprotected development mode %s', (_where, env) => {
  it('sodium_malloc, mprotect, memcmp, memzero and free behave as in production; every protection is false', () => {
    const rec = run({ ...env, TARSJS_UNPROTECTED_DEV: '1' })
    expect(rec.MALLOC).toEqual({
      threw: false,
      value: {
        length: 40,
        own: 40,
        secure: true,
        filled: true,
        kept: true,
        memcmp: true,
        zeroed: true,
        protections: { ...NOTHING, isolated: true, access: 'readwrite' },
        afterFree: 0
      }
    })
    expect(rec.MLOCK).toEqual({ threw: true, code: 'EPERM', message: 'memory lock failed', cause: 'EPERM' })
    expect(rec.MUNLOCK).toEqual({ threw: false, value: true })
    expect(rec.WARNINGS.filter((c: string) => c === 'TARSJS_UNPROTECTED_DEV')).toHaveLength(1)
  })
})

describe('a simulated Windows without the mode', () => {
  it('loads; first use throws ERR_UNSUPPORTED_PLATFORM', () => {
    const rec = run({ NODE_ENV: 'test', TARSJS_TEST_PLATFORM: 'win32' })
    expect(rec.MALLOC).toMatchObject({ threw: true, code: 'ERR_UNSUPPORTED_PLATFORM' })
    expect(rec.MALLOC.message).toContain('win32')
    expect(rec.MUNLOCK).toMatchObject({ threw: true, code: 'ERR_UNSUPPORTED_PLATFORM' })
    expect(rec.WARNINGS).toEqual([])
  })
})
