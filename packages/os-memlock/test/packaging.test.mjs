// The published package: prebuild, pack, install the tarball into an empty
// project, and load it from the bundled prebuild alone (PREBUILDS_ONLY=1).
// Runs in a staged copy of the package so the working build/ is never rebuilt
// under the other test files that load it.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PKG, records, runFixture, which } from './helpers.mjs'

const PNPM = which('pnpm')
const NPM = which('npm')
const SKIP_IN_STAGE = new Set(['node_modules', 'build', 'prebuilds', 'test-results.json', '.turbo'])

function run (cmd, args, opts) {
  const res = spawnSync(cmd, args, { encoding: 'utf8', timeout: 50000, ...opts })
  if (res.error) throw res.error
  return res
}

describe.skipIf(!PNPM || !NPM)('packaging', () => {
  it('pnpm pack → npm install → loads from the prebuild with no build/ directory', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'os-memlock-pack-'))
    try {
      // 1. a copy of the package sources, sharing its dev dependencies, in a
      //    copy of the workspace layout (pnpm pack resolves `catalog:` ranges
      //    from the workspace's pnpm-workspace.yaml)
      const stage = join(tmp, 'packages', 'os-memlock')
      mkdirSync(join(tmp, 'packages'))
      cpSync(join(PKG, '..', '..', 'pnpm-workspace.yaml'), join(tmp, 'pnpm-workspace.yaml'))
      cpSync(PKG, stage, {
        recursive: true,
        filter: (src) => !(SKIP_IN_STAGE.has(basename(src)) || src.endsWith('.tgz'))
      })
      symlinkSync(join(PKG, 'node_modules'), join(stage, 'node_modules'), 'dir')

      // 2. the package's own prebuild script (prebuildify --napi --strip --tag-libc)
      const pre = run(PNPM, ['run', 'build:prebuilds'], { cwd: stage })
      expect(pre.status, pre.stdout + pre.stderr).toBe(0)
      const platformDir = join(stage, 'prebuilds', `linux-${process.arch}`)
      const built = readdirSync(platformDir).filter((f) => f.endsWith('.node'))
      const libc = /** @type {{ header: { glibcVersionRuntime?: string } }} */ (process.report.getReport()).header.glibcVersionRuntime ? 'glibc' : 'musl'
      expect(built).toEqual([`@tarsjs+os-memlock.${libc}.node`])

      // 3. pack, and check what the tarball holds
      const out = join(tmp, 'out')
      mkdirSync(out)
      const pack = run(PNPM, ['pack', '--pack-destination', out], { cwd: stage })
      expect(pack.status, pack.stdout + pack.stderr).toBe(0)
      const tgzs = readdirSync(out).filter((f) => f.endsWith('.tgz'))
      expect(tgzs).toHaveLength(1)
      const tgz = join(out, tgzs[0])
      const list = run('tar', ['-tzf', tgz]).stdout.split('\n').filter(Boolean).sort()
      expect(list).toEqual([
        'package/LICENSE',
        'package/LICENSE-APACHE',
        'package/LICENSE-MIT',
        'package/README.md',
        'package/binding.gyp',
        'package/index.d.ts',
        'package/index.js',
        'package/install.js',
        'package/package.json',
        'package/platform.js',
        `package/prebuilds/linux-${process.arch}/${built[0]}`,
        'package/src/binding.c',
        'package/unprotected.js'
      ])

      // 4. install the tarball into an empty project; the install script
      //    (install.js: node-gyp-build on Linux) must find the prebuild and compile nothing
      const project = join(tmp, 'project')
      mkdirSync(project)
      writeFileSync(join(project, 'package.json'), JSON.stringify({
        name: 'os-memlock-pack-check',
        version: '1.0.0',
        private: true,
        allowScripts: { '@tarsjs/os-memlock': true }
      }))
      const install = run(NPM, ['install', tgz, '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts'], {
        cwd: project,
        env: { ...process.env, npm_config_build_from_source: 'false' }
      })
      const log = install.stdout + install.stderr
      expect(install.status, log).toBe(0)
      expect(log).toMatch(/>\s*node install\.js/) // the install script ran ...
      expect(log).not.toMatch(/gyp info|CC\(target\)/) // ... and did not compile
      const installed = join(project, 'node_modules', '@tarsjs', 'os-memlock')
      expect(existsSync(join(installed, 'build'))).toBe(false)
      expect(existsSync(join(installed, 'prebuilds', `linux-${process.arch}`, built[0]))).toBe(true)

      // 5. load it from the prebuild alone, in a fresh process
      const res = runFixture('load-installed.cjs', [project], { cwd: project, env: { ...process.env, PREBUILDS_ONLY: '1' } })
      expect(res.stderr).toBe('')
      expect(res.status).toBe(0)
      expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
      const rec = records(res.stdout)
      expect(rec.RESOLVED.binary).toBe(join(installed, 'prebuilds', `linux-${process.arch}`, built[0]))
      expect(rec.RESOLVED.main).toBe(join(installed, 'index.js'))
      expect(rec.USE).toEqual({ pageSize: rec.USE.pageSize, same: true, wiped: true, detached: true, mapped: false })
      expect(rec.USE.pageSize).toBeGreaterThanOrEqual(4096)
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  }, 240000)
})
