// A kernel without memfd_secret(2), simulated here: the child runs under a
// seccomp filter (@tarsjs/test-kit's without-syscall.c) that answers memfd_secret with
// ENOSYS, as a kernel before 5.14 (or one booted without secretmem) does.
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { PKG } from './helpers.mjs'
import { launcher, withoutMemfdSecret } from '@tarsjs/test-kit'

const HAVE_CC = launcher() !== null

const CHILD = `
const m = require('./index.js')
const out = { caps: m.capabilities() }
try { m.map(m.pageSize(), { secret: true }); out.secret = 'mapped' } catch (e) { out.secret = { code: e.code, errno: e.errno, syscall: e.syscall, message: e.message } }
const r = m.map(3 * m.pageSize())
m.lock(r, 0, m.pageSize())
m.advise(r, 0, m.pageSize(), 'dontdump')
const v = new Uint8Array(m.view(r, 0, 16))
v.fill(7)
m.wipe(r, 0, 16)
out.plain = { secret: r.secret, wiped: v.every((b) => b === 0) }
m.protect(r, 0, m.pageSize(), 'none')
out.detached = v.length === 0
m.unmap(r)
console.log(JSON.stringify(out))
`

function run (prefix) {
  const argv = [...prefix, process.execPath, '-e', CHILD]
  const res = spawnSync(argv[0], argv.slice(1), { cwd: PKG, encoding: 'utf8', timeout: 30_000 })
  expect(res.stderr).toBe('')
  expect(res.status).toBe(0)
  return JSON.parse(res.stdout)
}

describe.skipIf(!HAVE_CC)('without memfd_secret(2)', () => {
  it('capabilities() reports it missing; { secret: true } throws ENOSYS from memfd_secret; plain regions work', () => {
    const out = run(withoutMemfdSecret())
    expect(out.caps.memfdSecret).toBe(false)
    expect(out.caps.mlock).toBe(true)
    expect(out.secret).toMatchObject({ code: 'ENOSYS', errno: 38, syscall: 'memfd_secret' })
    expect(out.secret.message).toContain('memfd_secret')
    expect(out.plain).toEqual({ secret: false, wiped: true })
    expect(out.detached).toBe(true)
  })

  it('refused by a container seccomp profile instead (EPERM): the same, with EPERM', () => {
    const out = run([launcher(), '447', '1'])
    expect(out.caps.memfdSecret).toBe(false)
    expect(out.secret).toMatchObject({ code: 'EPERM', errno: 1, syscall: 'memfd_secret' })
    expect(out.secret.message).toContain('memfd_secret')
    expect(out.plain).toEqual({ secret: false, wiped: true })
    expect(out.detached).toBe(true)
  })

  it('control: the same child without the filter sees what this kernel has', () => {
    const out = run([])
    const here = spawnSync(process.execPath, ['-p', "require('./index.js').capabilities().memfdSecret"], { cwd: PKG, encoding: 'utf8' })
    expect(String(out.caps.memfdSecret)).toBe(here.stdout.trim())
    if (out.caps.memfdSecret) expect(out.secret).toBe('mapped')
  })

  it('the launcher refuses malformed arguments (exit 2) and reports a missing command (exit 127)', () => {
    const path = launcher()
    expect(spawnSync(path, ['x', '38', 'true']).status).toBe(2)
    expect(spawnSync(path, ['447', '-1', 'true']).status).toBe(2)
    expect(spawnSync(path, ['447']).status).toBe(2)
    expect(spawnSync(path, ['447', '38', '/nonexistent/command']).status).toBe(127)
    expect(spawnSync(path, ['447', '38', 'true']).status).toBe(0)
  })
})
