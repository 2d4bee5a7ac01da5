// The packed tarballs install into a fresh project as npm would on macOS
// (arm64) and Windows (x64). npm's `--os`/`--cpu` only steer optional
// dependencies, and its EBADPLATFORM check of each package's `os`/`cpu` fields
// uses the real platform; so each packed manifest is also put through that
// check (npm's own npm-install-checks) for the simulated platform. The install
// script of @tarsjs/os-memlock runs with the platform simulated
// (TARSJS_TEST_PLATFORM, honoured only with NODE_ENV=test). Then: every package imports, first use
// throws ERR_UNSUPPORTED_PLATFORM, and TARSJS_UNPROTECTED_DEV=1 runs ProtKey,
// ProtBuf and sodium_malloc on ordinary memory while `tarsjs doctor` fails.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pack, publicPackages, tarFile } from '../../scripts/check-tarballs.mjs'

const BASE = { ...process.env }
delete BASE.TARSJS_UNPROTECTED_DEV
delete BASE.TARSJS_TEST_PLATFORM
delete BASE.NODE_ENV

const SMOKE = `
const say = (k, v) => process.stdout.write(k + ' ' + JSON.stringify(v) + '\\n')
const os = require('@tarsjs/os-memlock')
const { PAGE_SIZE } = require('@tarsjs/page-alloc')
const { ProtBuf, ProtKey } = require('@tarsjs/prot-containers')
const { sodium_malloc, sodium_free, secureBufferProtections } = require('@tarsjs/sodium-allocator')
say('IMPORTED', { pageSize: PAGE_SIZE })
function attempt (fn) {
  try { return { threw: false, value: fn() } } catch (e) { return { threw: true, code: e.code, message: e.message } }
}
say('BUF', attempt(() => { const b = ProtBuf.random(16); const p = b.protections(); b.dispose(); return p }))
say('KEY', attempt(() => { const k = ProtKey.random(32); const n = k.read((b) => b.byteLength); const p = k.protections(); k.dispose(); return { n, locked: p.locked, noDump: p.noDump } }))
say('SODIUM', attempt(() => { const b = sodium_malloc(32); const secure = b.secure === true; const p = secureBufferProtections(b); sodium_free(b); return { secure, freed: b.byteLength, guardPages: p.guardPages } }))
say('MODE', os.unprotectedDevelopmentMode())
`

function run (cmd, args, options) {
  const res = spawnSync(cmd, args, { encoding: 'utf8', timeout: 240000, maxBuffer: 64 * 1024 * 1024, ...options })
  if (res.error) throw res.error
  return res
}

function records (stdout) {
  const out = {}
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z]+) (.*)$/.exec(line)
    if (m) out[m[1]] = JSON.parse(m[2])
  }
  return out
}

/** npm's own platform check (what refuses an install with EBADPLATFORM), from the npm that runs these installs. */
function npmInstallChecks () {
  // The npm on PATH (its bin/npm-cli.js), not `npm root -g`: under another Node.js
  // the global root follows that Node's prefix, where no npm is installed.
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim()
  const npmDir = dirname(dirname(realpathSync(which)))
  return createRequire(join(npmDir, 'package.json'))('npm-install-checks')
}

let tmp
let tarballs

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tarsjs-other-os-'))
  const out = join(tmp, 'out')
  mkdirSync(out)
  tarballs = publicPackages().map((pkg) => pack(pkg.dir, out))
}, 240000)

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

describe.each([
  ['darwin', 'arm64'],
  ['win32', 'x64']
])('npm install --os=%s --cpu=%s of the five tarballs', (platform, cpu) => {
  const SIMULATED = { ...BASE, NODE_ENV: 'test', TARSJS_TEST_PLATFORM: platform }
  let project

  beforeAll(() => {
    project = join(tmp, `project-${platform}`)
    mkdirSync(project)
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `other-os-${platform}`, version: '1.0.0', private: true }))
    writeFileSync(join(project, 'smoke.cjs'), SMOKE)
  })

  it("passes npm's platform check (no EBADPLATFORM) for every packed manifest", () => {
    const { checkPlatform } = npmInstallChecks()
    for (const tgz of tarballs) {
      const manifest = JSON.parse(tarFile(tgz, 'package.json').toString('utf8'))
      expect(() => checkPlatform(manifest, false, { os: platform, cpu }), manifest.name).not.toThrow()
    }
    // the check itself refuses a Linux-only package here
    expect(() => checkPlatform({ name: 'x', version: '1.0.0', os: ['linux'] }, false, { os: platform, cpu })).toThrow(/Unsupported platform/)
  })

  it('installs, compiling nothing, and the install script says why', () => {
    const install = run('npm', ['install', ...tarballs, `--os=${platform}`, `--cpu=${cpu}`, '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts'], {
      cwd: project,
      env: SIMULATED
    })
    const log = install.stdout + install.stderr
    expect(install.status, log).toBe(0)
    expect(log).not.toMatch(/EBADPLATFORM/)
    expect(log).toMatch(/>\s*node install\.js/) // os-memlock's install script ran ...
    expect(log).toContain(`@tarsjs/os-memlock: no native support on ${platform}-`) // ... saw the simulated OS ...
    expect(log).not.toMatch(/gyp info|CC\(target\)|node-gyp/) // ... and built nothing
  }, 240000)

  it('imports every package; first use throws ERR_UNSUPPORTED_PLATFORM', () => {
    const res = run(process.execPath, ['smoke.cjs'], { cwd: project, env: SIMULATED })
    expect(res.status, res.stdout + res.stderr).toBe(0)
    const rec = records(res.stdout)
    expect(rec.IMPORTED).toEqual({ pageSize: 4096 })
    for (const r of [rec.BUF, rec.KEY, rec.SODIUM]) {
      expect(r.threw).toBe(true)
      expect(r.code).toBe('ERR_UNSUPPORTED_PLATFORM')
      expect(r.message).toContain(platform)
      expect(r.message).toContain('TARSJS_UNPROTECTED_DEV=1')
    }
    expect(rec.MODE).toBe(false)
    expect(res.stderr).toBe('')
  })

  it('TARSJS_UNPROTECTED_DEV=1: the containers work on ordinary memory, loudly; doctor fails', () => {
    const env = { ...SIMULATED, TARSJS_UNPROTECTED_DEV: '1' }
    const res = run(process.execPath, ['smoke.cjs'], { cwd: project, env })
    expect(res.status, res.stdout + res.stderr).toBe(0)
    const rec = records(res.stdout)
    expect(rec.BUF.threw).toBe(false)
    expect(Object.entries(rec.BUF.value).filter(([, v]) => v === true)).toEqual([])
    expect(rec.KEY).toEqual({ threw: false, value: { n: 32, locked: false, noDump: false } })
    expect(rec.SODIUM).toEqual({ threw: false, value: { secure: true, freed: 0, guardPages: false } })
    expect(rec.MODE).toBe(true)
    expect(res.stderr.match(/\[TARSJS_UNPROTECTED_DEV\]/g)).toHaveLength(1)

    const doctor = run(process.execPath, [join(project, 'node_modules', '@tarsjs', 'doctor', 'bin', 'tarsjs.cjs'), 'doctor'], { cwd: project, env })
    expect(doctor.status).toBe(1)
    expect(doctor.stdout).toMatch(/^\[FAIL\] Platform: UNPROTECTED DEVELOPMENT MODE on /)
    expect(doctor.stdout).toContain('Result: tarsjs does not protect secrets here (exit code 1).')
  })
})
