// A real npm install that nests a second copy of the addon: two os-memlock
// versions packed as tarballs (with this build as their prebuild, so nothing
// compiles), a project that depends on one while a dependency of it pins the
// other. Loading both in one process refuses the second with
// ERR_DUPLICATE_NATIVE_INSTANCE naming both copies; with compatible ranges npm
// dedupes to a single copy. Skipped, saying why, only when npm is missing.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FIXTURES, PKG } from './helpers.mjs'

const require = createRequire(import.meta.url)
const npmVersion = spawnSync('npm', ['--version'], { encoding: 'utf8' })
const haveNpm = npmVersion.error === undefined && npmVersion.status === 0
if (!haveNpm) console.log(`nested-install: skipped: npm is not on PATH (${npmVersion.error?.message ?? npmVersion.stderr})`)

// Children load the builds npm installed: no test-only binary override, no claim inherited from this process.
/** @type {NodeJS.ProcessEnv} */
const env = { ...process.env, PREBUILDS_ONLY: '1', npm_config_build_from_source: 'false' }
delete env.TARSJS_OS_MEMLOCK_BINARY
delete env.TARSJS_OS_MEMLOCK_INSTANCE
// Under scripts/asan-test.sh: npm and the children run the ordinary build, without the ASan runtime.
delete env.LD_PRELOAD

function run (cmd, args, cwd) {
  const res = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 })
  if (res.error) throw res.error
  return res
}

function must (res, what) {
  if (res.status !== 0) throw new Error(`${what} failed (${res.status}):\n${res.stdout}\n${res.stderr}`)
  return res
}

/** The host's prebuild name, as node-gyp-build looks it up: `<platform>-<arch>/node.napi.<libc>.node`. */
function prebuildName () {
  const libc = /** @type {{ header: { glibcVersionRuntime?: string } }} */ (process.report.getReport()).header.glibcVersionRuntime ? 'glibc' : 'musl'
  return join(`${process.platform}-${process.arch}`, `node.napi.${libc}.node`)
}

/** os-memlock at `version` as a tarball: the files it publishes, and this build as its only prebuild. */
function packOsMemlock (work, out, version) {
  const manifest = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8'))
  const stage = join(work, `os-memlock-${version}`)
  for (const f of manifest.files.filter((f) => !f.endsWith('/'))) {
    mkdirSync(dirname(join(stage, f)), { recursive: true })
    copyFileSync(join(PKG, f), join(stage, f))
  }
  const prebuild = join(stage, 'prebuilds', prebuildName())
  mkdirSync(dirname(prebuild), { recursive: true })
  copyFileSync(require('node-gyp-build').resolve(PKG), prebuild)
  writeFileSync(join(stage, 'package.json'), JSON.stringify({ ...manifest, version, devDependencies: undefined }, null, 2))
  return packDir(stage, out)
}

/** A small package that uses os-memlock through `range` (a version range or a `file:` tarball). */
function packUser (work, out, name, range) {
  const dir = join(work, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.js', dependencies: { '@tarsjs/os-memlock': range } }, null, 2))
  writeFileSync(join(dir, 'index.js'), "module.exports = require('@tarsjs/os-memlock')\n")
  return packDir(dir, out)
}

function packDir (dir, out) {
  const res = must(run('npm', ['pack', '--pack-destination', out, '--json'], dir), `npm pack in ${dir}`)
  return join(out, JSON.parse(res.stdout)[0].filename)
}

/** npm install of `tarballs` into a new project, from the cache (node-gyp-build is the one package from the registry). */
function install (work, name, tarballs) {
  const project = join(work, name)
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }, null, 2))
  const args = ['install', ...tarballs, '--no-audit', '--no-fund', '--foreground-scripts', '--loglevel=error']
  let res = run('npm', [...args, '--offline'], project)
  // A cache without node-gyp-build (a fresh CI machine): the registry, once.
  if (res.status !== 0 && /ENOTCACHED/.test(res.stderr)) res = run('npm', [...args, '--prefer-offline'], project)
  must(res, `npm install in ${project}`)
  return { project, log: res.stdout + res.stderr }
}

/** Every installed copy of os-memlock under `dir`: path (relative) → version. */
function copies (dir, base = dir, found = {}) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    const p = join(dir, entry.name)
    if (entry.name === 'os-memlock' && p.endsWith(join('@tarsjs', 'os-memlock'))) {
      found[p.slice(base.length + 1)] = JSON.parse(readFileSync(join(p, 'package.json'), 'utf8')).version
    }
    copies(p, base, found)
  }
  return found
}

function both (project, first, second) {
  const res = run(process.execPath, [join(FIXTURES, 'nested-copies.cjs'), first, second], project)
  return { res, out: res.status === 0 ? JSON.parse(res.stdout.trim().split('\n').pop()) : undefined }
}

describe.skipIf(!haveNpm)('a nested npm install of two os-memlock versions', () => {
  let work
  let nested
  let deduped
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'os-memlock-nested-'))
    const out = join(work, 'tarballs')
    mkdirSync(out)
    const v1 = packOsMemlock(work, out, '1.0.0')
    const v2 = packOsMemlock(work, out, '2.0.0')
    const v21 = packOsMemlock(work, out, '2.1.0')
    // legacy-signer pins 1.0.0; the project wants 2.0.0: npm must nest.
    const legacy = packUser(work, out, 'legacy-signer', `file:${v1}`)
    // modern-signer accepts ^2.0.0; the project has 2.1.0: npm can dedupe.
    const modern = packUser(work, out, 'modern-signer', '^2.0.0')
    nested = install(work, 'nested', [v2, legacy])
    deduped = install(work, 'deduped', [v21, modern])
  }, 240_000)
  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true })
  })

  it('npm nests the pinned version under its dependent, and compiles nothing', () => {
    expect(copies(join(nested.project, 'node_modules'))).toEqual({
      [join('@tarsjs', 'os-memlock')]: '2.0.0',
      [join('legacy-signer', 'node_modules', '@tarsjs', 'os-memlock')]: '1.0.0'
    })
    expect(nested.log).not.toMatch(/gyp info|CC\(target\)/)
    expect(existsSync(join(nested.project, 'node_modules', '@tarsjs', 'os-memlock', 'build'))).toBe(false)
  })

  for (const [label, first, second] of [
    ['the project’s copy first', '@tarsjs/os-memlock', 'legacy-signer'],
    ['the nested copy first', 'legacy-signer', '@tarsjs/os-memlock']
  ]) {
    it(`loading both in one process refuses the second with ERR_DUPLICATE_NATIVE_INSTANCE naming both paths; the first keeps working (${label})`, () => {
      const { res, out } = both(nested.project, first, second)
      expect(res.stderr).toBe('')
      expect([res.status, res.signal]).toEqual([0, null])
      const root = join(nested.project, 'node_modules', '@tarsjs', 'os-memlock')
      const inner = join(nested.project, 'node_modules', 'legacy-signer', 'node_modules', '@tarsjs', 'os-memlock')
      const [loaded, refused] = first === '@tarsjs/os-memlock' ? [root, inner] : [inner, root]
      expect(out.same).toBe(false)
      expect(out.first).toEqual({ works: true })
      expect(out.second.code).toBe('ERR_DUPLICATE_NATIVE_INSTANCE')
      expect(out.second.message).toContain(`(${join(loaded, 'prebuilds', prebuildName())})`)
      expect(out.second.message).toContain(`This copy, which was not loaded, is at ${refused}`)
      expect(out.second.message).toContain('Install one version')
      // Still refused on every call; the first copy is untouched.
      expect(out.firstAgain).toEqual({ works: true })
      expect(out.secondAgain).toEqual(out.second)
    })
  }

  it('with compatible ranges npm dedupes to one copy, and both dependents share it', () => {
    expect(copies(join(deduped.project, 'node_modules'))).toEqual({ [join('@tarsjs', 'os-memlock')]: '2.1.0' })
    const { res, out } = both(deduped.project, '@tarsjs/os-memlock', 'modern-signer')
    expect(res.stderr).toBe('')
    expect(res.status).toBe(0)
    expect(out).toEqual({ same: true, first: { works: true }, second: { works: true }, firstAgain: { works: true }, secondAgain: { works: true } })
  })
})
