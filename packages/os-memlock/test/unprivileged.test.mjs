// Without CAP_IPC_LOCK, RLIMIT_MEMLOCK bites: locking past it and secret
// (memfd_secret) mappings past it fail with the OS error, and the process goes on.
// The child drops CAP_IPC_LOCK from its bounding and inheritable sets with
// setpriv, so the node it execs starts without it, and prlimit sets the limit.
import { describe, expect, it } from 'vitest'
import { OS_CODES, PS, records, runFixture, which } from './helpers.mjs'

const SETPRIV = which('setpriv')
const PRLIMIT = which('prlimit')
const missing = [!SETPRIV && 'setpriv', !PRLIMIT && 'prlimit'].filter(Boolean)
const reason = missing.length ? ` (skipped: ${missing.join(' and ')} not found; install util-linux)` : ''

function runUnprivileged (memlock) {
  const wrap = [SETPRIV, '--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', '--', PRLIMIT, `--memlock=${memlock}`, '--core=0']
  const res = runFixture('unprivileged.cjs', [], { wrap })
  expect(res.stderr).toBe('')
  expect(res.signal).toBe(null)
  expect(res.status).toBe(0)
  expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
  const rec = records(res.stdout)
  expect(rec.CAP_IPC_LOCK).toBe(false) // otherwise the limits would not apply
  expect(rec.WORKS).toBe(true)
  return rec
}

function expectOsFailure (step, code, syscall) {
  expect(step.ok).toBe(false)
  expect(step.name).toBe('Error')
  expect(OS_CODES).toContain(step.code)
  expect(step.code).toBe(code)
  expect(step.syscall).toBe(syscall)
  expect(step.errno).toBeGreaterThan(0)
}

describe.skipIf(missing.length > 0)(`without CAP_IPC_LOCK${reason}`, () => {
  it('RLIMIT_MEMLOCK = 64 KiB: locks up to the limit, fails past it with ENOMEM from mlock, secret maps fail with EAGAIN from mmap', () => {
    expect(65536 % PS).toBe(0)
    const rec = runUnprivileged(65536)
    expect(rec.LIMIT).toEqual({ soft: 65536, hard: 65536 })
    expect(rec.CAPS.mlock).toBe(true) // one page fits under the limit
    expect(rec.LOCK_WITHIN).toEqual({ ok: true })
    expectOsFailure(rec.LOCK_PAST, 'ENOMEM', 'mlock')
    expect(rec.WORKS_AFTER_LOCK_PAST).toBe(true)
    expect(rec.LOCK_EXACT).toEqual({ ok: true }) // exactly the limit is allowed
    expect(rec.UNLOCK).toEqual({ ok: true })
    if (!rec.CAPS.memfdSecret) return // this kernel has no memfd_secret
    // memfd_secret memory is charged to RLIMIT_MEMLOCK when it is mapped:
    // mmap refuses at once (EAGAIN); nothing is left to fault later
    expectOsFailure(rec.SECRET_PAST, 'EAGAIN', 'mmap')
    expect(rec.SECRET_WITHIN).toEqual({ ok: true })
    expect(rec.SECRET_WORKS).toBe(true)
    expectOsFailure(rec.SECRET_SECOND_PAST, 'EAGAIN', 'mmap')
    // ... and shares the budget with mlock
    expectOsFailure(rec.LOCK_PAST_SHARED, 'ENOMEM', 'mlock')
    expect(rec.LOCK_REST).toEqual({ ok: true })
    expect(rec.LOCK_AFTER_SECRET_UNMAP).toEqual({ ok: true })
  })

  it('RLIMIT_MEMLOCK = 0: capabilities().mlock is false, lock fails with EPERM, secret maps with EAGAIN', () => {
    const rec = runUnprivileged(0)
    expect(rec.LIMIT).toEqual({ soft: 0, hard: 0 })
    expect(rec.CAPS.mlock).toBe(false)
    expectOsFailure(rec.LOCK_ONE_PAGE, 'EPERM', 'mlock')
    expectOsFailure(rec.LOCK_BUFFER, 'EPERM', 'mlock')
    if (rec.CAPS.memfdSecret) expectOsFailure(rec.SECRET_ONE_PAGE, 'EAGAIN', 'mmap')
  })
})
