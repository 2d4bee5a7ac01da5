// The unprotected development mode, seen from the containers: ProtBuf and
// ProtKey work on ordinary memory, every protection reads false, `required`
// policies throw, one loud warning, refused in production, and `tarsjs doctor`
// fails with a clear verdict. Also a simulated macOS without the mode: import
// works, first use throws ERR_UNSUPPORTED_PLATFORM. Each case in a fresh process.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FIXTURES, HERE, records } from './helpers.mjs'

// The `tarsjs` command of @tarsjs/doctor, as installed next to this package.
const BIN = join(dirname(createRequire(import.meta.url).resolve('@tarsjs/doctor/package.json')), 'bin', 'tarsjs.cjs')
const BASE = { ...process.env }
delete BASE.TARSJS_UNPROTECTED_DEV
delete BASE.TARSJS_TEST_PLATFORM
delete BASE.NODE_ENV

const NOTHING = { locked: false, noDump: false, wipeOnFork: false, dontFork: false, guardPages: false, canary: false, secretmem: false }

function node (args, env) {
  const res = spawnSync(process.execPath, args, { cwd: HERE, env: { ...BASE, ...env }, encoding: 'utf8', timeout: 60000 })
  if (res.error) throw res.error
  return res
}

function fixture (env, args = []) {
  const res = node([join(FIXTURES, 'development-mode.cjs'), ...args], env)
  expect(res.status, res.stdout + res.stderr).toBe(0)
  expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
  return records(res.stdout)
}

function expectContainersWork (rec) {
  expect(rec.BUF).toEqual({
    threw: false,
    value: {
      length: 28,
      own: 28,
      text: 'correct horse battery staple',
      equals: true,
      differs: false,
      printed: 'ProtBuf(28 bytes, read-write)',
      protections: { ...NOTHING, isolated: false, access: 'readwrite' },
      afterDispose: 0
    }
  })
  // No protection key in this mode: the field is false or left out.
  const { protectionKey = false, ...keyProtections } = rec.KEY.value?.protections ?? {}
  expect(protectionKey).toBe(false)
  expect({ ...rec.KEY, value: { ...rec.KEY.value, protections: keyProtections } }).toEqual({
    threw: false,
    value: {
      read: 32,
      keptAfterWindow: 0, // the window's view is detached when it closes, as in production
      printed: 'ProtKey(32 bytes, no access)',
      protections: { ...NOTHING, isolated: true, access: 'none', window: null },
      // Inside a window its copy's memory claims nothing either.
      window: { ...NOTHING, isolated: false, access: 'readwrite' },
      afterWrite: true,
      equals: true
    }
  })
  // mlock: 'required' throws as where the kernel refuses; protect('none') still detaches views
  expect(rec.POLICY.required).toEqual({ threw: true, code: 'ERR_MLOCK_FAILED' })
  expect(rec.POLICY.pages).toEqual({ threw: false, value: { detached: 0, back: true, protections: { ...NOTHING, isolated: true, access: 'readwrite' } } })
  expect(rec.MODE).toBe(true)
  // doctor fails, and says why first
  expect(rec.DOCTOR.ok).toBe(false)
  expect(rec.DOCTOR.first).toMatchObject({ id: 'platform', verdict: 'fail', data: { unprotectedDevelopmentMode: true } })
  expect(rec.DOCTOR.first.detail).toContain('UNPROTECTED DEVELOPMENT MODE')
  expect(rec.DOCTOR.ids[0]).toBe('platform')
  expect(rec.DOCTOR.ids).toContain('memlock')
  // one warning for the mode; the allocators report their refused mlock as usual
  expect(rec.WARNINGS.filter((w) => w.code === 'TARSJS_UNPROTECTED_DEV')).toEqual([{ name: 'TarsjsWarning', code: 'TARSJS_UNPROTECTED_DEV' }])
  expect(rec.WARNINGS[0].code).toBe('TARSJS_UNPROTECTED_DEV')
  expect(rec.WARNINGS.every((w) => ['TARSJS_UNPROTECTED_DEV', 'TARSJS_MLOCK_FAILED'].includes(w.code))).toBe(true)
}

describe('the unprotected development mode', () => {
  it('TARSJS_UNPROTECTED_DEV=1 on Linux: ProtBuf and ProtKey work, every protection is false', () => {
    expectContainersWork(fixture({ TARSJS_UNPROTECTED_DEV: '1' }))
  })

  it('enableUnprotectedDevelopmentMode() after importing every package, before first use', () => {
    const rec = fixture({}, ['enable'])
    expect(rec.ENABLE).toEqual({ threw: false })
    expectContainersWork(rec)
  })

  it('on a simulated macOS', () => {
    expectContainersWork(fixture({ NODE_ENV: 'test', TARSJS_TEST_PLATFORM: 'darwin', TARSJS_UNPROTECTED_DEV: '1' }))
  })

  it('is refused when NODE_ENV=production: first use throws ERR_UNPROTECTED_DEV_IN_PRODUCTION', () => {
    const rec = fixture({ NODE_ENV: 'production', TARSJS_UNPROTECTED_DEV: '1' })
    expect(rec.BUF).toMatchObject({ threw: true, code: 'ERR_UNPROTECTED_DEV_IN_PRODUCTION' })
    expect(rec.KEY).toMatchObject({ threw: true, code: 'ERR_UNPROTECTED_DEV_IN_PRODUCTION' })
    expect(rec.DOCTOR.ok).toBe(false)
    expect(rec.DOCTOR.first).toMatchObject({ id: 'platform', verdict: 'fail', data: { code: 'ERR_UNPROTECTED_DEV_IN_PRODUCTION' } })
    expect(rec.MODE).toBe(false)
    expect(rec.WARNINGS).toEqual([])
  })

  it('tarsjs doctor exits 1 and says so in its verdict', () => {
    const res = node([BIN, 'doctor'], { TARSJS_UNPROTECTED_DEV: '1' })
    expect(res.status).toBe(1)
    const lines = res.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^\[FAIL\] Platform: UNPROTECTED DEVELOPMENT MODE/)
    expect(lines.at(-1)).toBe('Result: tarsjs does not protect secrets here (exit code 1).')
    // --require cannot let it pass
    const lax = node([BIN, 'doctor', '--json', '--require=swap'], { TARSJS_UNPROTECTED_DEV: '1' })
    expect(lax.status).toBe(1)
    expect(JSON.parse(lax.stdout).ok).toBe(false)
  })
})

describe('a simulated macOS without the mode', () => {
  const DARWIN = { NODE_ENV: 'test', TARSJS_TEST_PLATFORM: 'darwin' }

  it('imports; first use of each container throws ERR_UNSUPPORTED_PLATFORM naming the way out', () => {
    const rec = fixture(DARWIN)
    for (const r of [rec.BUF, rec.KEY, rec.POLICY.pages]) {
      expect(r.threw).toBe(true)
      expect(r.code).toBe('ERR_UNSUPPORTED_PLATFORM')
      expect(r.message).toContain('darwin')
      expect(r.message).toContain('TARSJS_UNPROTECTED_DEV=1')
    }
    expect(rec.MODE).toBe(false)
    expect(rec.WARNINGS).toEqual([])
  })

  it('tarsjs doctor reports only the platform, and fails', () => {
    const res = node([BIN, 'doctor', '--json'], DARWIN)
    expect(res.status).toBe(1)
    const report = JSON.parse(res.stdout)
    expect(report.ok).toBe(false)
    expect(report.findings.map((f) => f.id)).toEqual(['platform'])
    expect(report.findings[0]).toMatchObject({ verdict: 'fail', data: { code: 'ERR_UNSUPPORTED_PLATFORM' } })
    expect(report.findings[0].fix).toContain('Deploy on Linux')
  })
})
