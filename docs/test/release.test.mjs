// The release flow: every unreleased public package has a pending changeset,
// `changeset version` (run in a scratch copy, so the changesets are not
// consumed) bumps the public packages only and writes their CHANGELOG.md, and
// the workflows build what the tarball check requires.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RELEASE_TARGETS, publicPackages } from '../../scripts/check-tarballs.mjs'

const ROOT = join(import.meta.dirname, '..', '..')
const PUBLIC = publicPackages(ROOT)

/** Package names each pending changeset bumps, with the bump type. */
function pendingChangesets () {
  const dir = join(ROOT, '.changeset')
  const bumps = []
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.md') && f !== 'README.md')) {
    const front = /^---\n([\s\S]*?)\n---/.exec(readFileSync(join(dir, file), 'utf8'))
    if (!front) continue
    for (const m of front[1].matchAll(/^\s*["']?(@?[^"':]+)["']?\s*:\s*(major|minor|patch)\s*$/gm)) bumps.push({ file, name: m[1], type: m[2] })
  }
  return bumps
}

describe('changesets', () => {
  it('every public package that was never released has a pending changeset', () => {
    const bumped = new Set(pendingChangesets().map((b) => b.name))
    const missing = PUBLIC.filter((p) => p.manifest.version === '0.0.0' && !bumped.has(p.name)).map((p) => p.name)
    expect(missing, 'add a changeset: pnpm changeset').toEqual([])
  })

  it('names only packages of this workspace', () => {
    const names = new Set(PUBLIC.map((p) => p.name))
    expect(pendingChangesets().filter((b) => !names.has(b.name))).toEqual([])
  })
})

describe('changeset version, in a scratch copy', () => {
  let scratch
  let result
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'tarsjs-changeset-'))
    const copy = (rel) => {
      if (!existsSync(join(ROOT, rel))) return
      mkdirSync(dirname(join(scratch, rel)), { recursive: true })
      cpSync(join(ROOT, rel), join(scratch, rel), { recursive: true })
    }
    for (const rel of ['package.json', 'pnpm-workspace.yaml', '.changeset']) copy(rel)
    for (const dir of ['packages', 'examples', 'bench', 'docs']) {
      if (dir === 'packages') for (const p of readdirSync(join(ROOT, 'packages'))) copy(`packages/${p}/package.json`)
      else copy(`${dir}/package.json`)
    }
    symlinkSync(join(ROOT, 'node_modules'), join(scratch, 'node_modules'), 'dir')
    const git = (...args) => spawnSync('git', args, { cwd: scratch, encoding: 'utf8' })
    git('init', '-q')
    git('add', '-A')
    git('-c', 'user.email=release@test', '-c', 'user.name=release test', 'commit', '-qm', 'scratch')
    result = spawnSync(process.execPath, [join(ROOT, 'node_modules', '@changesets', 'cli', 'bin.js'), 'version'], {
      cwd: scratch,
      encoding: 'utf8',
      env: { ...process.env, CI: 'true' }
    })
  })
  afterAll(() => rmSync(scratch, { recursive: true, force: true }))

  it('succeeds', () => {
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0)
  })

  it('bumps each public package with a changeset and writes its CHANGELOG.md', () => {
    const bumped = new Set(pendingChangesets().map((b) => b.name))
    for (const pkg of PUBLIC.filter((p) => bumped.has(p.name))) {
      const rel = `packages/${pkg.dir.split('/').pop()}`
      const after = JSON.parse(readFileSync(join(scratch, rel, 'package.json'), 'utf8'))
      expect(after.version, pkg.name).not.toBe(pkg.manifest.version)
      const changelog = readFileSync(join(scratch, rel, 'CHANGELOG.md'), 'utf8')
      expect(changelog).toContain(`# ${pkg.name}`)
      expect(changelog).toContain(`## ${after.version}`)
    }
  })

  it('leaves the private workspace packages alone and consumes the changesets', () => {
    for (const dir of ['examples', 'bench', 'docs']) {
      expect(existsSync(join(scratch, dir, 'CHANGELOG.md')), dir).toBe(false)
    }
    expect(readdirSync(join(scratch, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md')).toEqual([])
  })
})

describe('workflows', () => {
  const prebuild = readFileSync(join(ROOT, '.github/workflows/prebuild.yml'), 'utf8')
  const ci = readFileSync(join(ROOT, '.github/workflows/ci.yml'), 'utf8')

  it('prebuild builds and verifies every target the release tarball check requires', () => {
    const scripts = join(ROOT, 'packages/os-memlock/scripts')
    const buildAll = readFileSync(join(scripts, 'prebuild-all.sh'), 'utf8')
    const verify = readFileSync(join(scripts, 'verify-prebuilds.sh'), 'utf8')
    for (const [platformDir, libc] of RELEASE_TARGETS) {
      const arch = platformDir.replace('linux-', '')
      expect(buildAll).toMatch(new RegExp(`"${arch}\\s+${libc}\\s`))
      expect(verify).toContain(`${platformDir}/$NAME.${libc}.node`)
    }
    expect(buildAll).toContain('pnpm run build:prebuilds --arch="$arch" --libc="$libc"')
    expect(prebuild).toContain('run: bash packages/os-memlock/scripts/prebuild-all.sh --verify')
    expect(prebuild).toContain('path: packages/os-memlock/prebuilds')
    expect(prebuild).toContain('publish: pnpm run release')
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    expect(root.scripts.release).toContain('check-tarballs.mjs --release')
    expect(root.scripts.release).toContain('changeset publish')
  })

  it('ci runs .ci/run', () => {
    expect(ci).toMatch(/run: bash \.ci\/run/)
  })
})
