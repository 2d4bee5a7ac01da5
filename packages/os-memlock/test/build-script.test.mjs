// `pnpm build` compiles the addon into build/ once and writes no prebuild:
// prebuilds are written only by the release scripts, always tagged with the
// libc (scripts/prebuild-all.sh → `pnpm run build:prebuilds`).
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PKG } from './helpers.mjs'

const ROOT = join(PKG, '..', '..')
const manifest = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))

/** Every package.json of the workspace: the root and each packages/* and private workspace. */
function workspaceManifests () {
  const dirs = [ROOT, ...readdirSync(join(ROOT, 'packages')).map((d) => join(ROOT, 'packages', d)), ...['docs', 'examples', 'bench'].map((d) => join(ROOT, d))]
  return dirs.filter((d) => existsSync(join(d, 'package.json'))).map((d) => ({ dir: d, manifest: manifest(d) }))
}

describe('build scripts', () => {
  it('no script runs as a pre- or post-script of another (so `build` never prebuilds)', () => {
    const hooks = []
    for (const { dir, manifest: m } of workspaceManifests()) {
      const names = Object.keys(m.scripts ?? {})
      for (const name of names) {
        const hooked = /^(pre|post)(.+)$/.exec(name)
        if (hooked && names.includes(hooked[2])) hooks.push(`${m.name ?? dir}: ${name}`)
      }
    }
    expect(hooks).toEqual([])
  })

  it('the prebuild script tags the libc; prebuild-all.sh names the libc of each target', () => {
    const script = manifest(PKG).scripts['build:prebuilds']
    expect(script).toMatch(/^prebuildify --napi --strip --tag-libc -t \d+\.\d+\.\d+$/)
    const all = readFileSync(join(PKG, 'scripts', 'prebuild-all.sh'), 'utf8')
    expect(all).toContain('pnpm run build:prebuilds --arch="$arch" --libc="$libc"')
  })

  it('`pnpm run build` compiles build/Release once and writes nothing under prebuilds/', () => {
    const stage = mkdtempSync(join(tmpdir(), 'os-memlock-build-'))
    try {
      for (const f of ['package.json', 'binding.gyp', 'index.js', 'src']) cpSync(join(PKG, f), join(stage, f), { recursive: true })
      symlinkSync(join(PKG, 'node_modules'), join(stage, 'node_modules'), 'dir')
      const res = spawnSync('pnpm', ['run', 'build'], { cwd: stage, encoding: 'utf8', timeout: 240000 })
      expect(res.status, res.stdout + res.stderr).toBe(0)
      const log = res.stdout + res.stderr
      expect(existsSync(join(stage, 'build', 'Release', 'os_memlock.node'))).toBe(true)
      expect(existsSync(join(stage, 'prebuilds'))).toBe(false)
      expect(log).not.toContain('prebuildify')
      expect(log.match(/gyp info ok/g) ?? []).toHaveLength(1)
    } finally {
      rmSync(stage, { recursive: true, force: true })
    }
  })
})
