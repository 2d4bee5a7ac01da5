// ProtKey, ProtBuf and the doctor on a kernel without memfd_secret(2). This
// kernel has it, so children run under a seccomp filter that answers the call
// with ENOSYS, as older kernels (or ones booted without secretmem) do.
import { spawnSync } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { withoutMemfdSecret } from '@tarsjs/test-kit'

const PREFIX = withoutMemfdSecret()
const HERE = fileURLToPath(new URL('.', import.meta.url))
// The `tarsjs` command of @tarsjs/doctor, as installed next to this package.
const BIN = join(dirname(createRequire(import.meta.url).resolve('@tarsjs/doctor/package.json')), 'bin', 'tarsjs.cjs')

function run (args) {
  const argv = [...PREFIX, process.execPath, ...args]
  return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30000 })
}

describe.skipIf(PREFIX === null)('without memfd_secret(2)', () => {
  it('ProtKey keeps its key in locked, no-dump, guarded anonymous pages, no access even inside windows (a window is a copy); ProtBuf works', () => {
    const r = run([join(HERE, 'fixtures', 'no-secretmem.cjs')])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.keyProtections).toMatchObject({ secretmem: false, locked: true, noDump: true, wipeOnFork: true, guardPages: true, isolated: true, access: 'none', window: null })
    // Inside a window the key's pages stay no access; its copy is in locked, no-dump, wipe-on-fork window memory.
    expect(out.inside.access).toBe('none')
    expect(out.inside.window).toMatchObject({ access: 'readwrite', locked: true, noDump: true, wipeOnFork: true, secretmem: false })
    expect(out.mac).toBe(createHmac('sha256', Buffer.alloc(32, 0x11)).update('message').digest('hex'))
    expect(out.bufProtections).toMatchObject({ secretmem: false, locked: true, noDump: true })
    expect(out.warnings).toEqual([])
  })

  it('doctor reports memfd_secret unavailable with the fix, passes by default, and fails when secretmem is required strictly', () => {
    const text = run([BIN, 'doctor'])
    expect(text.status).toBe(0)
    expect(text.stdout).toMatch(/\[WARN\] memfd_secret\(2\): unavailable/)
    expect(text.stdout).toContain('secretmem.enable=1')

    const json = run([BIN, 'doctor', '--json'])
    expect(json.status).toBe(0)
    const finding = JSON.parse(json.stdout).findings.find((f) => f.id === 'secretmem')
    expect(finding).toMatchObject({ verdict: 'warn', data: { available: false } })

    const strict = run([BIN, 'doctor', '--strict', '--require=secretmem'])
    expect(strict.status).toBe(1)
    expect(strict.stdout).toContain('Result: a required protection is missing (exit code 1).')
  })
})
