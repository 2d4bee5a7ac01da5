// Runs the demo (`pnpm demo`) in a child process and checks what it prints:
// the host report, the HMAC key in a ProtKey, the kernel's facts about its
// pages, the stale view, the ProtBuf statistics and the timing table; with
// this process's privileges and again without CAP_IPC_LOCK under low
// RLIMIT_MEMLOCK values, where the refusals must be reported and the run still
// succeed.

import memlock from '@tarsjs/os-memlock'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { withoutMemfdSecret } from '@tarsjs/test-kit'
import { canDropPrivilege, run, runUnprivileged } from './helpers.mjs'

const caps = memlock.capabilities()

function expectCommonLines (out) {
  expect(out).toContain('tarsjs demo: secrets in protected memory')
  expect(out).toContain('── 1. What this host can give secrets')
  expect(out).toMatch(/\[(ok {2}|WARN|FAIL)\] Locking memory \(mlock\): /)
  expect(out).toMatch(/\[(ok {2}|WARN)\] memfd_secret\(2\): /)
  // The HMAC key: redacted everywhere, a MAC computed inside a window.
  expect(out).toContain('String(key)        → ProtKey(32 bytes, no access)')
  expect(out).toContain('util.inspect(key)  → ProtKey(32 bytes, no access)')
  expect(out).toContain('JSON.stringify(key) → {"key":"ProtKey(32 bytes, no access)"}')
  expect(out).toMatch(/\n {2}HMAC-SHA256 {2}[0-9a-f]{64}\n/)
  expect(out).toContain('✓ a second read window gives the same MAC')
  // The kernel's view of the key's pages.
  expect(out).toContain('✓ smaps lists one new no-dump mapping for the key: its 4 kB of data pages')
  expect(out).toContain('✓ VmFlags dd: left out of core dumps')
  expect(out).toContain('✓ the pages right before and right after are ---: guard pages')
  // The stale view.
  expect(out).toContain('✓ inside the window: kept.byteLength is 32, kept[0] is a number')
  expect(out).toContain('✓ after it: kept.byteLength is 0')
  expect(out).toContain('✓ kept[0] is undefined: reading it gives nothing, and the process does not crash')
  expect(out).toContain('✓ new Uint8Array(kept.buffer) throws TypeError')
  expect(out).toContain('✓ key.dispose() wipes the key at once: ProtKey(32 bytes, disposed)')
  // ProtBuf statistics.
  expect(out).toMatch(/stats\(\): 1,000 allocations \(32,000 bytes\) in \d+ kernel mappings? of [\d,]+ KiB/)
  expect(out).toContain('✓ 1,000 live allocations, 32,000 bytes')
  expect(out).toMatch(/✓ the kernel's VmLck grew by [\d,]+ KiB: exactly stats\(\)\.lockedBytes/)
  expect(out).toContain('✓ each ProtBuf has an ArrayBuffer of its own, exactly 32 bytes')
  expect(out).toContain('✓ no live allocations')
  expect(out).toContain('✓ a view of a disposed ProtBuf has length 0')
  // The verdict.
  expect(out).not.toMatch(/^ *✗/m)
  expect(out).toMatch(/\nDemo OK: \d+ facts checked, the kernel agrees with every one\.\n$/)
}

/** The lines of one section of the demo's output. */
function section (out, number) {
  const start = out.indexOf(`── ${number}.`)
  const end = out.indexOf('\n── ', start + 1)
  return out.slice(start, end === -1 ? undefined : end)
}

describe('pnpm demo', () => {
  it('prints the key facts, the kernel agrees with each, and exits 0', () => {
    const { status, signal, stdout, stderr } = run('demo.mjs')
    expect(stderr).toBe('')
    expect(signal).toBe(null)
    expect(status).toBe(0)
    expectCommonLines(stdout)
    const kernel = section(stdout, 3)
    const s = caps.memfdSecret ? 's' : 'p'
    // The key's pages: no access inside and outside the window (a protection key where the CPU has one).
    const perms = caps.protectionKeys ? `rw-${s}` : `---${s}`
    expect(kernel).toMatch(new RegExp(`kernel: [0-9a-f]+-[0-9a-f]+ ${perms} 4 kB`))
    expect(kernel).not.toMatch(new RegExp(`kernel: [0-9a-f]+-[0-9a-f]+ r--${s}`))
    if (caps.protectionKeys) expect(kernel).toMatch(new RegExp(`✓ rw-${s} with ProtectionKey [1-9][0-9]*: every thread's PKRU register denies these pages`))
    else expect(kernel).toContain(`✓ ---${s}: no access at all`)
    expect(kernel).toContain(`✓ inside the window: ${perms}, still no access (the callback reads a copy)`)
    expect(kernel).toMatch(/✓ the copy's window memory: read-write, (locked|not locked), no-dump; wiped when the window closes/)
    expect(kernel).toContain(`✓ after the window: ${perms}, no access at all`)
    if (caps.mlock) {
      expect(kernel).toMatch(/✓ VmFlags lo: locked in RAM/)
      expect(stdout).toContain('[ok  ] Locking memory (mlock)')
      expect(stdout).toMatch(/locked 32 KiB, \d+ pages cached/)
      expect(stdout).toContain("✓ the kernel's VmLck grew by 32 KiB: exactly stats().lockedBytes")
    }
    if (caps.memfdSecret) {
      expect(kernel).toContain('memfd_secret yes')
      expect(kernel).toContain('✓ named /secretmem')
      expect(kernel).toContain('✓ VmFlags dc: a forked child does not get these pages at all')
    } else {
      expect(kernel).toContain('✓ VmFlags wf: a forked child sees zeros here')
    }
    // The timing table against sodium-native 4.3.1 (a devDependency here, so always present).
    const timing = section(stdout, 6)
    expect(timing).toContain('sodium-native 4.3.1; median of 9 rounds of 1000 operations each')
    expect(timing).toMatch(/32-byte buffer: alloc, write, free +[\d.]+ µs +[\d.]+ µs +tarsjs [\d.]+× (faster|slower)/)
    expect(timing).toMatch(/32-byte key: open a read window, read, close +[\d.]+ µs +[\d.]+ µs +tarsjs [\d.]+× (faster|slower)/)
    expect(timing).toContain('`pnpm bench` has the real numbers')
    expect(stdout).toContain('One layer down, one system call at a time: node examples/demo.mjs --walkthrough')
  })

  it('--walkthrough appends the os-memlock walkthrough, whose verdict counts too', () => {
    const { status, stdout, stderr } = run('demo.mjs', ['--walkthrough', '--no-timing'])
    expect(stderr).toBe('')
    expect(status).toBe(0)
    expect(stdout).not.toContain('── 6. The same operations')
    const at = stdout.indexOf('tarsjs · os-memlock walkthrough')
    expect(at).toBeGreaterThan(stdout.indexOf('── 5.'))
    expect(stdout.slice(at)).toMatch(/\nOK: \d+ facts checked, all as the calls reported\.\n/)
    expectCommonLines(stdout)
  })

  it('exits 1 and names each contradicted fact when an allocator does not do what it reports', () => {
    // A broken allocator, loaded ahead of the demo: protect(..., 'none') leaves the pages readable.
    const broken = fileURLToPath(new URL('./fixtures/never-none.mjs', import.meta.url))
    const { status, signal, stdout } = run('demo.mjs', ['--no-timing'], { nodeArgs: ['--import', broken] })
    expect(signal).toBe(null)
    expect(status).toBe(1)
    const s = caps.memfdSecret ? 's' : 'p'
    expect(stdout).toContain(`✗ FAIL r--${s}: no access at all`)
    expect(stdout).toContain(`✗ FAIL inside the window: r--${s}, still no access`)
    expect(stdout).toContain(`✗ FAIL after the window: r--${s}, no access at all`)
    expect(stdout).toMatch(/\nDemo FAIL: \d+ of \d+ facts contradict what tarsjs reported:\n/)
  })

  it('refuses an unknown option with exit status 2', () => {
    const { status, stderr } = run('demo.mjs', ['--nope'])
    expect(status).toBe(2)
    expect(stderr).toContain('unknown option --nope')
  })

  it.skipIf(!canDropPrivilege)('without CAP_IPC_LOCK and RLIMIT_MEMLOCK 0: reports every refusal, the kernel agrees, exits 0', () => {
    const { status, signal, stdout, stderr } = runUnprivileged(0, 'demo.mjs', ['--no-timing'])
    expect(signal).toBe(null)
    expect(status).toBe(0)
    expectCommonLines(stdout)
    expect(stdout).toContain('[FAIL] Locking memory (mlock): RLIMIT_MEMLOCK is 0 B and CAP_IPC_LOCK is absent')
    expect(stdout).toContain('(doctor would exit 1 here to stop a deployment; the demo goes on')
    // The key falls back from memfd_secret (which counts against RLIMIT_MEMLOCK) to anonymous memory, unlocked.
    const kernel = section(stdout, 3)
    expect(kernel).toContain('locked no, no-dump yes, wipe-on-fork yes')
    const perms = caps.protectionKeys ? 'rw-p' : '---p'
    expect(kernel).toMatch(new RegExp(`kernel: [0-9a-f]+-[0-9a-f]+ ${perms} 4 kB`))
    expect(kernel).toContain('✓ no lo: not locked, exactly as protections() reported')
    expect(kernel).toContain('! the key may be swapped: mlock was refused on this host')
    expect(kernel).toContain('✓ VmFlags wf: a forked child sees zeros here')
    expect(kernel).toContain(`✓ after the window: ${perms}, no access at all`)
    expect(kernel).toContain('! the window memory is not locked: mlock was refused for it')
    expect(stdout).toContain('locked 0 KiB, 8 pages cached')
    expect(stdout).toContain("✓ the kernel's VmLck grew by 0 KiB: exactly stats().lockedBytes")
    expect(stdout).toContain('! 1,000 allocations are not locked (mlock refused); stats() says so')
    // Each refusal is also one process warning with a stable code, reported in the output.
    expect(stdout).toContain('! warning TARSJS_MLOCK_FAILED (also on stderr)')
    expect(stderr).toContain('[TARSJS_MLOCK_FAILED]')
    if (caps.memfdSecret) {
      expect(stdout).toContain('! warning TARSJS_SECRETMEM_FALLBACK (also on stderr): tarsjs: memfd_secret mapping failed (EAGAIN)')
      expect(stderr).toContain('[TARSJS_SECRETMEM_FALLBACK]')
    }
  })

  it.skipIf(!canDropPrivilege)('without CAP_IPC_LOCK and RLIMIT_MEMLOCK 16 KiB: the key is locked, most ProtBufs are not, and it says which', () => {
    const { status, stdout, stderr } = runUnprivileged(16384, 'demo.mjs', ['--no-timing'])
    expect(status).toBe(0)
    expectCommonLines(stdout)
    expect(stdout).toContain('[WARN] Locking memory (mlock): RLIMIT_MEMLOCK 16 KiB')
    expect(section(stdout, 3)).toMatch(/✓ VmFlags lo: locked in RAM/)
    const unlocked = /! ([\d,]+) allocations are not locked \(mlock refused\)/.exec(stdout)
    expect(unlocked).not.toBe(null)
    const n = Number(unlocked[1].replaceAll(',', ''))
    expect(n).toBeGreaterThan(0)
    expect(n).toBeLessThan(1000)
    expect(stdout).toContain(`${n} unlocked`)
    expect(stderr).toContain('[TARSJS_MLOCK_FAILED]')
  })

  const noSecretmem = withoutMemfdSecret()
  it.skipIf(noSecretmem === null)('on a kernel without memfd_secret (simulated by a seccomp filter): the key is in anonymous pages and the kernel agrees', () => {
    const { status, signal, stdout, stderr } = run('demo.mjs', ['--no-timing'], { prefix: noSecretmem })
    expect(signal).toBe(null)
    expect(status).toBe(0)
    expect(stderr).toBe('')
    expectCommonLines(stdout)
    expect(stdout).toMatch(/\[WARN\] memfd_secret\(2\): unavailable/)
    const kernel = section(stdout, 3)
    const perms = caps.protectionKeys ? 'rw-p' : '---p'
    expect(kernel).toMatch(new RegExp(`kernel: [0-9a-f]+-[0-9a-f]+ ${perms} 4 kB`))
    expect(kernel).toContain(`✓ after the window: ${perms}, no access at all`)
    expect(kernel).toContain('✓ VmFlags lo: locked in RAM')
    expect(kernel).not.toContain('/secretmem')
  })
})
