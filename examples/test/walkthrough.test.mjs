// Runs the os-memlock walkthrough (`node examples/os-memlock-walkthrough.mjs`,
// also shown by `node examples/demo.mjs --walkthrough`) as a user would, in a
// child process, and checks what it prints: with this process's privileges, and
// again without CAP_IPC_LOCK under a low RLIMIT_MEMLOCK, where mlock must be
// reported as refused with its OS code while the run still succeeds.

import memlock from '@tarsjs/os-memlock'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const walkthrough = fileURLToPath(new URL('../os-memlock-walkthrough.mjs', import.meta.url))
const caps = memlock.capabilities()
const length = 3 * memlock.pageSize()

const DROP_IPC_LOCK = ['--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', '--']

function run (prefix = []) {
  const argv = [...prefix, process.execPath, walkthrough]
  const child = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30000 })
  return { status: child.status, signal: child.signal, stdout: child.stdout, stderr: child.stderr }
}

function runUnprivileged (memlockBytes) {
  return run(['setpriv', ...DROP_IPC_LOCK, 'prlimit', `--memlock=${memlockBytes}`])
}

// setpriv needs CAP_SETPCAP to drop a capability from the bounding set.
const canDropPrivilege = spawnSync('setpriv', [...DROP_IPC_LOCK, 'prlimit', '--memlock=0', 'true']).status === 0

function expectCommonFacts (out) {
  expect(out).toContain('tarsjs · os-memlock walkthrough')
  expect(out).toContain(`✓ smaps lists a new ${length / 1024} kB rw-p mapping`)
  expect(out).toContain('✓ VmFlags dd: left out of core dumps')
  expect(out).toContain('✓ VmFlags wf: a forked child would see zeros')
  expect(out).toMatch(/kernel: [0-9a-f]+-[0-9a-f]+ r--p /)
  expect(out).toContain('✓ kernel: r--p, read-only')
  expect(out).toContain('✓ the old view still reads the secret')
  expect(out).toMatch(/kernel: [0-9a-f]+-[0-9a-f]+ ---p /)
  expect(out).toContain('✓ kernel: ---p, no access at all')
  expect(out).toContain('✓ the old view was detached first: byteLength 0')
  expect(out).toContain('✓ reading it gives undefined: no crash')
  expect(out).toContain('✓ new Uint8Array(oldView) throws TypeError')
  expect(out).toContain(`✓ a fresh view reads ${length} zero bytes`)
  expect(out).toContain('✓ smaps no longer lists the mapping')
  expect(out).toContain('✓ the dead handle throws ERR_REGION_UNMAPPED')
  expect(out).not.toMatch(/^ *✗/m)
  expect(out).toMatch(/\nOK: \d+ facts checked, all as the calls reported\.\n$/)
}

describe('os-memlock walkthrough', () => {
  it('prints what the kernel reports and exits 0', () => {
    const { status, signal, stdout, stderr } = run()
    expect(stderr).toBe('')
    expect(signal).toBe(null)
    expect(status).toBe(0)
    expectCommonFacts(stdout)
    if (caps.mlock) {
      expect(stdout).toContain('→ lock(region): ok')
      expect(stdout).toContain(`\n          Locked: ${length / 1024} kB\n`)
      expect(stdout).toContain(`✓ Locked: ${length / 1024} kB and VmFlags lo: every page pinned in RAM`)
    }
    if (caps.memfdSecret) {
      expect(stdout).toMatch(new RegExp(`kernel: [0-9a-f]+-[0-9a-f]+ rw-s ${memlock.pageSize() / 1024} kB /secretmem`))
      expect(stdout).toContain('✓ VmFlags lo dd: locked and no-dump by the kernel itself')
      expect(stdout).toContain("! advise(secret, 0, page, 'wipeonfork'): refused, EINVAL (errno 22, madvise)")
      expect(stdout).toContain('✓ no wf: refused, and reported, not swallowed')
    } else {
      expect(stdout).toContain('capabilities().memfdSecret is false on this kernel: skipped')
    }
  })

  it.skipIf(!canDropPrivilege)('without CAP_IPC_LOCK and RLIMIT_MEMLOCK 0: reports mlock EPERM, goes on, exits 0', () => {
    const { status, signal, stdout, stderr } = runUnprivileged(0)
    expect(stderr).toBe('')
    expect(signal).toBe(null)
    expect(status).toBe(0)
    expect(stdout).toMatch(/\n {4}mlock {10}no /)
    expect(stdout).toContain('memlockLimit()   soft 0 bytes, hard 0 bytes')
    expect(stdout).toContain('! lock(region): refused, EPERM (errno 1, mlock)')
    expect(stdout).toContain('✓ Locked: 0 kB, no lo: nothing locked, as mlock reported')
    expect(stdout).not.toContain('→ lock(region): ok')
    if (caps.memfdSecret) {
      // Secret memory counts against RLIMIT_MEMLOCK: with 0, the mapping is refused.
      expect(stdout).toContain('! map(pageSize(), { secret: true }): refused, EAGAIN (errno 11, mmap)')
    }
    expectCommonFacts(stdout)
  })

  it.skipIf(!canDropPrivilege)('without CAP_IPC_LOCK and RLIMIT_MEMLOCK below the region: reports mlock ENOMEM', () => {
    const limit = length - memlock.pageSize()
    const { status, stdout, stderr } = runUnprivileged(limit)
    expect(stderr).toBe('')
    expect(status).toBe(0)
    expect(stdout).toContain('! lock(region): refused, ENOMEM (errno 12, mlock)')
    expect(stdout).toContain('✓ Locked: 0 kB, no lo: nothing locked, as mlock reported')
    if (caps.memfdSecret) {
      // One secret page fits under the limit, since nothing else is locked.
      expect(stdout).toContain('✓ smaps lists it as /secretmem')
    }
    expectCommonFacts(stdout)
  })
})
