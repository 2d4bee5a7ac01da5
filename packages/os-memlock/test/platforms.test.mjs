// Other operating systems, simulated with the test hook TARSJS_TEST_PLATFORM
// (honoured only with NODE_ENV=test), and the unprotected development mode:
// loading never throws, first use throws ERR_UNSUPPORTED_PLATFORM, and the
// development mode runs the whole API on ordinary memory, loudly, never in
// production. Each case runs in a fresh process (fixtures/modes.cjs).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PKG, m, records, runFixture } from './helpers.mjs'

const BASE = { ...process.env }
delete BASE.TARSJS_UNPROTECTED_DEV
delete BASE.TARSJS_TEST_PLATFORM
delete BASE.NODE_ENV

function modes (scenario, env) {
  const res = runFixture('modes.cjs', [scenario], { env: { ...BASE, ...env } })
  expect(res.stderr).not.toMatch(/Error:|at .*modes\.cjs/)
  expect(res.status, res.stdout + res.stderr).toBe(0)
  expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
  return records(res.stdout)
}

const ALL = Object.keys(m).filter((name) => name !== 'enableUnprotectedDevelopmentMode').sort()
const OTHERS = [['darwin', 'arm64'], ['win32', 'x64']]

describe.each(OTHERS)('a simulated %s', (platform) => {
  const SIMULATED = { NODE_ENV: 'test', TARSJS_TEST_PLATFORM: platform }

  it('loads without the addon; pageSize answers; every other function throws ERR_UNSUPPORTED_PLATFORM at first use', () => {
    const rec = modes('calls', SIMULATED)
    expect(rec.LOADED).toBe(0)
    expect(Object.keys(rec.CALLS).sort()).toEqual(ALL)
    expect(rec.CALLS.pageSize).toEqual({ threw: false, value: 4096 })
    expect(rec.CALLS.unprotectedDevelopmentMode).toEqual({ threw: false, value: false })
    for (const name of ALL.filter((n) => n !== 'pageSize' && n !== 'unprotectedDevelopmentMode')) {
      const r = rec.CALLS[name]
      expect(r.threw, name).toBe(true)
      expect(r.name).toBe('Error')
      expect(r.code).toBe('ERR_UNSUPPORTED_PLATFORM')
      // names the call, the platform, what is needed and the way out
      expect(r.message).toContain(`${name}() is not supported on ${platform}`)
      expect(r.message).toContain('Linux only')
      expect(r.message).toContain('TARSJS_UNPROTECTED_DEV=1')
      expect(r.message).toContain('enableUnprotectedDevelopmentMode()')
    }
    expect(rec.WARNINGS).toEqual([])
  })

  it('TARSJS_UNPROTECTED_DEV=1 runs the API on ordinary memory, with one warning', () => {
    const rec = modes('use', { ...SIMULATED, TARSJS_UNPROTECTED_DEV: '1' })
    expectDevelopmentMode(rec)
  })

  it('enableUnprotectedDevelopmentMode() before first use does the same', () => {
    const rec = modes('enable', SIMULATED)
    expect(rec.ENABLE).toEqual({ first: { threw: false, value: null }, again: { threw: false, value: null } })
    expect(rec.SAME_PAGE_SIZE).toBe(true)
    expectDevelopmentMode(rec)
  })

  it('the development mode is refused when NODE_ENV=production: every use throws ERR_UNPROTECTED_DEV_IN_PRODUCTION', () => {
    const rec = modes('calls', { TARSJS_TEST_PLATFORM: platform, NODE_ENV: 'production', TARSJS_UNPROTECTED_DEV: '1' })
    for (const name of ALL.filter((n) => n !== 'pageSize' && n !== 'unprotectedDevelopmentMode')) {
      expect(rec.CALLS[name].code, name).toBe('ERR_UNPROTECTED_DEV_IN_PRODUCTION')
      expect(rec.CALLS[name].message).toContain('NODE_ENV=production')
    }
    expect(rec.LOADED).toBe(0)
    expect(rec.WARNINGS).toEqual([])
  })
})

/** What the `use` scenario must show in the development mode. */
function expectDevelopmentMode (rec) {
  expect(rec.LOADED).toBe(0)
  expect(rec.MODE).toEqual({ before: false, after: true })
  expect(rec.REGION).toEqual({ byteLength: 3 * 4096, secret: false, frozen: true, mapped: true })
  expect(rec.VIEWS).toEqual({ aLength: 4, bLength: 8, distinct: true, bSeesA: [3, 4], equals: true, notEquals: false })
  expect(rec.IN_STEP).toEqual({ aAfterFill: [1, 2, 9, 9], cAfterCopy: 0x42 })
  expect(rec.WIPE_VIEW).toEqual({ region: true, a: 0 })
  expect(rec.NONE).toEqual({ a: 0, b: 0, bReadsUndefined: true, refusedView: 'ERR_REGION_PROTECTED', refusedWipe: 'ERR_REGION_PROTECTED' })
  expect(rec.READ).toEqual({ refusedFill: 'ERR_REGION_PROTECTED', kept: [0, 9, 0, 0, 0, 0, 0, 0x42] })
  const r = rec.REFUSED
  expect(r.capabilities).toEqual({ mlock: false, madviseDontDump: false, madviseWipeOnFork: false, madviseDontFork: false, memfdSecret: false, protectionKeys: false })
  expect(r.memlockLimit).toEqual({ soft: 0, hard: 0 })
  expect(r.lock).toMatchObject({ threw: true, name: 'Error', code: 'EPERM', errno: 1, syscall: 'mlock' })
  expect(r.lockOnFault).toMatchObject({ threw: true, code: 'EPERM', syscall: 'mlock2' })
  expect(r.lockBuffer).toMatchObject({ threw: true, code: 'EPERM', syscall: 'mlock' })
  expect(r.lockView).toMatchObject({ threw: true, code: 'ERR_REGION_OWNED' })
  expect(r.unlock).toEqual({ threw: false, value: null })
  for (const advice of ['dontdump', 'wipeonfork', 'dontfork']) {
    expect(r[advice]).toMatchObject({ threw: true, code: 'EINVAL', syscall: 'madvise' })
  }
  expect(r.dodump).toEqual({ threw: false, value: null })
  expect(r.secret).toMatchObject({ threw: true, code: 'ENOSYS', syscall: 'memfd_secret' })
  expect(rec.END).toEqual({
    detached: 0,
    keptByDetach: 7,
    wipedAll: true,
    lastView: 0,
    mapped: false,
    afterUnmap: 'ERR_REGION_UNMAPPED',
    plainDetach: 0,
    badDetach: 'ERR_INVALID_ARG_TYPE',
    badSize: 'ERR_OUT_OF_RANGE'
  })
  expect(rec.WARNINGS).toHaveLength(1)
  expect(rec.WARNINGS[0]).toMatchObject({ name: 'TarsjsWarning', code: 'TARSJS_UNPROTECTED_DEV' })
  expect(rec.WARNINGS[0].message).toContain('UNPROTECTED DEVELOPMENT MODE')
}

describe('on Linux', () => {
  it('the platform hook is ignored unless NODE_ENV=test: the addon is used', () => {
    const rec = modes('calls', { TARSJS_TEST_PLATFORM: 'darwin' })
    expect(rec.LOADED).toBe(1)
    expect(rec.CALLS.capabilities.threw).toBe(false)
    expect(rec.CALLS.map.code).toBe('ERR_INVALID_ARG_TYPE') // the addon's own answer to map()
  })

  it('TARSJS_UNPROTECTED_DEV=1 gives the development mode without loading the addon', () => {
    expectDevelopmentMode(modes('use', { TARSJS_UNPROTECTED_DEV: '1' }))
  })

  it('enableUnprotectedDevelopmentMode() before first use gives it too, with the same page size', () => {
    const rec = modes('enable', {})
    expect(rec.SAME_PAGE_SIZE).toBe(true)
    expect(rec.ENABLE.first).toEqual({ threw: false, value: null })
    expect(rec.LOADED).toBe(1) // pageSize() loaded the addon; nothing else used it
    expect(rec.MODE).toEqual({ before: false, after: true })
    expect(rec.REFUSED.capabilities.mlock).toBe(false)
    expect(rec.WARNINGS.map((w) => w.code)).toEqual(['TARSJS_UNPROTECTED_DEV'])
  })

  it('enableUnprotectedDevelopmentMode() after the addon was used throws ERR_UNPROTECTED_DEV_TOO_LATE', () => {
    const rec = modes('too-late', {})
    expect(rec.ENABLE).toMatchObject({ threw: true, name: 'Error', code: 'ERR_UNPROTECTED_DEV_TOO_LATE' })
    expect(rec.MODE).toEqual({ before: false, after: false })
    expect(rec.WARNINGS).toEqual([])
  })

  it('enableUnprotectedDevelopmentMode() with NODE_ENV=production throws ERR_UNPROTECTED_DEV_IN_PRODUCTION', () => {
    const rec = modes('enable', { NODE_ENV: 'production' })
    expect(rec.ENABLE.first).toMatchObject({ threw: true, code: 'ERR_UNPROTECTED_DEV_IN_PRODUCTION' })
    expect(rec.REGION).toMatchObject({ mapped: true }) // refused, so the addon serves
    expect(rec.MODE).toEqual({ before: false, after: false })
    expect(rec.WARNINGS).toEqual([])
  })

  it.each([['true'], ['yes'], ['2'], [' 1']])('TARSJS_UNPROTECTED_DEV=%j is refused at first use with ERR_INVALID_ARG_VALUE', (value) => {
    const rec = modes('calls', { TARSJS_UNPROTECTED_DEV: value })
    expect(rec.CALLS.capabilities).toMatchObject({ threw: true, name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' })
    expect(rec.CALLS.capabilities.message).toContain('TARSJS_UNPROTECTED_DEV')
    expect(rec.LOADED).toBe(1) // pageSize() still answers from the addon
  })

  it.each([[''], ['0']])('TARSJS_UNPROTECTED_DEV=%j leaves the mode off', (value) => {
    const rec = modes('calls', { TARSJS_UNPROTECTED_DEV: value })
    expect(rec.CALLS.capabilities.threw).toBe(false)
    expect(rec.MODE).toEqual({ before: false, after: false })
  })
})

describe('the install script (install.js)', () => {
  function install (env) {
    return spawnSync(process.execPath, [join(PKG, 'install.js')], { cwd: PKG, env: { ...BASE, ...env, PATH: process.env.PATH }, encoding: 'utf8', timeout: 60000 })
  }

  it.each(OTHERS)('on a simulated %s exits 0 with a note and builds nothing', (platform) => {
    const res = install({ NODE_ENV: 'test', TARSJS_TEST_PLATFORM: platform })
    expect(res.status).toBe(0)
    expect(res.stderr).toBe('')
    expect(res.stdout).toContain(`no native support on ${platform}-`)
    expect(res.stdout).toContain('ERR_UNSUPPORTED_PLATFORM')
    expect(res.stdout).toContain('TARSJS_UNPROTECTED_DEV=1')
    expect(res.stdout).not.toMatch(/gyp/)
  })
})
