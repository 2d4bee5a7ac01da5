import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { diagnose, formatReport } from '../src/doctor.js'
import { DoctorError } from '../src/errors.js'

const BIN = join(__dirname, '..', 'bin', 'tarsjs.cjs')
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(existsSync)

function run(args: string[], memlock?: number) {
  const cmd = memlock === undefined ? process.execPath : (SETPRIV as string)
  const argv =
    memlock === undefined
      ? [BIN, ...args]
      : ['--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', '--', 'prlimit', `--memlock=${memlock}`, process.execPath, BIN, ...args]
  return spawnSync(cmd, argv, { encoding: 'utf8', timeout: 30000 })
}

describe('doctor', () => {
  it('reports every finding with a verdict, and the memlock limit the kernel gives', () => {
    const report = diagnose()
    const ids = report.findings.map((f) => f.id)
    expect(ids).toEqual(['memlock', 'secretmem', 'madvise', 'external-buffers', 'map-count', 'core-dumps', 'swap', 'ptrace', 'unprotected', 'secure-heap'])
    for (const f of report.findings) expect(['ok', 'warn', 'fail', 'info']).toContain(f.verdict)
    const text = formatReport(report)
    expect(text.split('\n')).toHaveLength(report.findings.length + report.findings.filter((f) => f.fix !== '').length + 1)
  })

  it('counts the mappings this process really uses', () => {
    const f = diagnose().findings.find((x) => x.id === 'map-count')
    expect(f?.data.used).toBeGreaterThan(10)
    expect(f?.data.max).toBeGreaterThan(1000)
    // The budget: a reserve of at least 2% of vm.max_map_count (1,024 at least) is left to the runtime.
    expect(f?.data.limit).toBe(f?.data.max)
    expect(f?.data.reserve).toBe(Math.max(1024, Math.ceil((f?.data.max as number) * 0.02)))
    expect(f?.data.available).toBe((f?.data.limit as number) - (f?.data.reserve as number) - (f?.data.used as number))
  })

  it("reports OpenSSL's secure heap: off by default, on with --secure-heap (size and use read from secureHeapUsed())", () => {
    const off = JSON.parse(run(['doctor', '--json']).stdout)
    expect(off.findings.find((f: { id: string }) => f.id === 'secure-heap')).toMatchObject({ verdict: 'info', data: { enabled: false, total: 0 } })
    const on = spawnSync(process.execPath, ['--secure-heap=65536', BIN, 'doctor', '--json', '--only', '--require=secure-heap', '--strict'], { encoding: 'utf8', timeout: 30000 })
    const report = JSON.parse(on.stdout)
    const finding = report.findings.find((f: { id: string }) => f.id === 'secure-heap')
    expect(finding).toMatchObject({ verdict: 'ok', data: { enabled: true, total: 65536 } })
    expect(finding.detail).toContain('65536 bytes')
    expect(on.status).toBe(0)
  })

  it('exits 0 as root with CAP_IPC_LOCK and prints the text report', () => {
    const r = run(['doctor'])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('CAP_IPC_LOCK: no memlock limit applies')
    expect(r.stdout).toContain('Result: every required protection is available.')
  })

  it.skipIf(SETPRIV === undefined)('fails unprivileged with memlock 0, naming the fix', () => {
    const r = run(['doctor', '--json'], 0)
    expect(r.status).toBe(1)
    const report = JSON.parse(r.stdout)
    const memlock = report.findings.find((f: { id: string }) => f.id === 'memlock')
    expect(memlock.verdict).toBe('fail')
    expect(memlock.data.capIpcLock).toBe(false)
    expect(memlock.fix).toContain('LimitMEMLOCK=')
    expect(memlock.fix).toContain('--ulimit memlock')
  })

  it.skipIf(SETPRIV === undefined)('reports how many 32-byte secrets fit in an 8 MiB limit', () => {
    const r = run(['doctor', '--json'], 8 * 1024 * 1024)
    const report = JSON.parse(r.stdout)
    const memlock = report.findings.find((f: { id: string }) => f.id === 'memlock')
    expect(memlock.data.soft).toBe(8 * 1024 * 1024)
    // 8 MiB / 32 bytes, less what the process already has locked
    expect(memlock.data.secrets32).toBe(Math.floor((8 * 1024 * 1024 - memlock.data.lockedBytes) / 32))
    expect(memlock.verdict).toBe('ok')
    expect(r.status).toBe(0)
  })

  it.skipIf(SETPRIV === undefined)('warns below 100,000 secrets, and --strict turns that warning into a failure', () => {
    const lax = run(['doctor', '--json'], 1024 * 1024)
    expect(JSON.parse(lax.stdout).findings[0].verdict).toBe('warn')
    expect(lax.status).toBe(0)
    const strict = run(['doctor', '--json', '--strict'], 1024 * 1024)
    expect(strict.status).toBe(1)
  })

  it.skipIf(SETPRIV === undefined)('--require decides which failures gate the exit code', () => {
    const gated = run(['doctor', '--json', '--require=memlock'], 0)
    expect(gated.status).toBe(1)
    // --require adds to the defaults, so memlock still gates ...
    const added = run(['doctor', '--json', '--require=swap'], 0)
    expect(JSON.parse(added.stdout).required).toEqual(['memlock', 'external-buffers', 'madvise', 'swap'])
    expect(added.status).toBe(1)
    // ... unless --only replaces them.
    const ungated = run(['doctor', '--json', '--require=swap', '--only'], 0)
    expect(JSON.parse(ungated.stdout).required).toEqual(['swap'])
    expect(JSON.parse(ungated.stdout).findings[0].verdict).toBe('fail')
    expect(ungated.status).toBe(0)
  })

  it('diagnose: required must be an array of check ids, strict a boolean (typed errors, nothing checked)', () => {
    const expectCode = (fn: () => unknown, code: string, name: string) =>
      expect(fn).toThrow(expect.objectContaining({ constructor: DoctorError, code, name }))
    for (const r of [42, 'memlock', null, {}, [1], true]) expectCode(() => diagnose(r as never), 'ERR_INVALID_ARG_TYPE', 'TypeError')
    for (const s of [1, 'yes', null, {}]) expectCode(() => diagnose(undefined, s as never), 'ERR_INVALID_ARG_TYPE', 'TypeError')
    expectCode(() => diagnose(['memlok' as never]), 'ERR_INVALID_ARG_VALUE', 'DoctorError')
    expect(diagnose(undefined, undefined).findings.length).toBeGreaterThan(0)
    expect(diagnose(['memlock'], true).findings.length).toBeGreaterThan(0)
  })

  it.skipIf(SETPRIV === undefined)('counts the unlocked live allocations of the default allocators registered with page-alloc, and only those', () => {
    const fixture = join(__dirname, 'fixtures', 'unprotected.cjs')
    const r = spawnSync(
      SETPRIV as string,
      ['--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', '--', 'prlimit', '--memlock=0', process.execPath, '--no-warnings', fixture],
      { encoding: 'utf8', timeout: 30000 }
    )
    expect(r.status, r.stderr).toBe(0)
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '))
    const out = JSON.parse((line as string).slice('RESULT '.length))
    const none = { verdict: 'ok', fix: '', data: { protKeys: 0, protBufs: 0 } }
    // Nothing registered yet (no container was made), then registered but empty.
    expect(out.before).toMatchObject(none)
    expect(out.registeredEmpty).toMatchObject(none)
    // Under a memlock limit of 0 nothing can be locked: every live allocation counts.
    expect(out.stats).toEqual({ key: 3, buf: 2 })
    expect(out.live).toMatchObject({ verdict: 'warn', data: { protKeys: 3, protBufs: 2 } })
    expect(out.live.detail).toBe('3 ProtKeys and 2 ProtBufs of the default allocators are live without mlock: they may be swapped')
    expect(out.live.fix).toContain('RLIMIT_MEMLOCK')
    expect(out.withStray).toMatchObject({ data: { protKeys: 3, protBufs: 2 } })
    expect(out.after).toMatchObject(none)
  })

  it('rejects unknown options and commands with exit code 2', () => {
    expect(run(['doctor', '--bogus']).status).toBe(2)
    expect(run(['frobnicate']).status).toBe(2)
    const help = run(['--help'])
    expect(help.status).toBe(0)
    expect(help.stdout).toContain('usage: tarsjs doctor')
  })
})
