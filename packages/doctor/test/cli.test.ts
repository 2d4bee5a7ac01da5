// `tarsjs doctor` as a deployment gate: every check id, every exit code, and the
// same verdict for the same exposure.
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { EXIT, main } from '../src/cli.js'
import { CHECK_IDS, DEFAULT_REQUIRED, SCHEMA_VERSION, diagnose } from '../src/doctor.js'

const BIN = join(__dirname, '..', 'bin', 'tarsjs.cjs')
const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version

function cli(args: string[]): { code: number; out: string; err: string } {
  let out = ''
  let err = ''
  const code = main(args, (t) => (out += t), (t) => (err += t))
  return { code, out, err }
}

function json(args: string[]): { code: number; report: { schemaVersion: number; version: string; required: string[]; strict: boolean; ok: boolean } } {
  const r = cli([...args, '--json'])
  return { code: r.code, report: JSON.parse(r.out) }
}

// Children in a private mount namespace, with /proc/sys/kernel replaced by a tmpfs
// that has (or lacks) yama/ptrace_scope: the kernel's Yama state as the doctor reads it.
function canFakeYama(): boolean {
  const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs none /proc/sys/kernel'], { encoding: 'utf8' })
  return r.status === 0
}
const FAKE_YAMA = canFakeYama()

function withYama(scope: string | null, args: string[]) {
  const setup = scope === null ? 'true' : `mkdir /proc/sys/kernel/yama && echo ${scope} > /proc/sys/kernel/yama/ptrace_scope`
  const script = `mount -t tmpfs none /proc/sys/kernel && ${setup} && exec "$0" "$@"`
  return spawnSync('unshare', ['-m', 'sh', '-c', script, process.execPath, BIN, ...args], { encoding: 'utf8', timeout: 30000 })
}

describe('tarsjs doctor: check ids', () => {
  it.each(CHECK_IDS)('--require=%s is added to the default set; with --only it is the whole set', (id) => {
    const added = json(['doctor', `--require=${id}`])
    expect([EXIT.OK, EXIT.MISSING]).toContain(added.code)
    expect(added.report.required).toEqual([...DEFAULT_REQUIRED, ...(DEFAULT_REQUIRED.includes(id) ? [] : [id])])
    const only = json(['doctor', `--require=${id}`, '--only'])
    expect(only.report.required).toEqual([id])
    const spaced = json(['doctor', '--require', id, '--only'])
    expect(spaced.report.required).toEqual([id])
  })

  it('collects ids from lists and repeated flags, once each, in the order given', () => {
    const r = json(['doctor', '--only', '--require=ptrace,swap', '--require=ptrace', '--require=core-dumps'])
    expect(r.report.required).toEqual(['ptrace', 'swap', 'core-dumps'])
  })

  it.each([
    ['--require=memlok', 'unknown id "memlok"'],
    ['--require=MEMLOCK', 'unknown id "MEMLOCK"'],
    ['--require=memlock,', 'an empty id'],
    ['--require=,memlock', 'an empty id'],
    ['--require=', 'needs at least one id'],
    ['--require', 'needs a value']
  ])('%s exits 2 with the list of valid ids and checks nothing', (flag, message) => {
    const r = cli(['doctor', flag])
    expect(r.code).toBe(EXIT.USAGE)
    expect(r.out).toBe('')
    expect(r.err).toContain(message)
    expect(r.err).toContain(`valid ids: ${CHECK_IDS.join(', ')}`)
  })

  it('--only without --require, unknown options and commands exit 2; help exits 0', () => {
    expect(cli(['doctor', '--only']).code).toBe(EXIT.USAGE)
    expect(cli(['doctor', '--require', '--json']).code).toBe(EXIT.USAGE)
    expect(cli(['doctor', '--bogus']).code).toBe(EXIT.USAGE)
    expect(cli(['frobnicate']).code).toBe(EXIT.USAGE)
    for (const args of [[], ['--help'], ['-h'], ['doctor', '--help']]) {
      const r = cli(args)
      expect(r.code).toBe(EXIT.OK)
      expect(r.out).toContain('usage: tarsjs doctor')
      expect(r.out).toContain('--only')
    }
  })

  it('diagnose() refuses unknown ids and bad arguments with typed errors', () => {
    expect(() => diagnose(['memlok' as never])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
    expect(() => diagnose('memlock' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    expect(() => diagnose([], 'yes' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    expect(diagnose(['ptrace', 'ptrace']).required).toEqual(['ptrace'])
  })
})

describe('tarsjs doctor: output and exit codes', () => {
  it('--version prints the package version and exits 0', () => {
    for (const args of [['--version'], ['-v'], ['doctor', '--version']]) {
      const r = cli(args)
      expect(r.code).toBe(EXIT.OK)
      expect(r.out).toBe(`${VERSION}\n`)
    }
    const child = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' })
    expect(child.status).toBe(0)
    expect(child.stdout).toBe(`${VERSION}\n`)
  })

  it('the JSON report carries its schema version, the package version, the required set and strictness', () => {
    const r = json(['doctor', '--strict'])
    expect(r.report.schemaVersion).toBe(SCHEMA_VERSION)
    expect(SCHEMA_VERSION).toBe(1)
    expect(r.report.version).toBe(VERSION)
    expect(r.report.strict).toBe(true)
    expect(r.report.required).toEqual([...DEFAULT_REQUIRED])
    expect(r.code).toBe(r.report.ok ? EXIT.OK : EXIT.MISSING)
  })

  it('exit 1 names the checks that were not met', () => {
    // This host has no Yama, so ptrace warns; --strict makes a required warning fail.
    const report = diagnose(['ptrace'], true)
    const ptrace = report.findings.find((f) => f.id === 'ptrace')
    if (ptrace?.verdict !== 'warn') return
    const r = cli(['doctor', '--require=ptrace', '--only', '--strict'])
    expect(r.code).toBe(EXIT.MISSING)
    expect(r.out).toContain('Not met: ptrace.')
  })

  it('exits 3 when the checks cannot run', async () => {
    vi.resetModules()
    vi.doMock('../src/doctor.js', async (load) => ({
      ...(await load<typeof import('../src/doctor.js')>()),
      diagnose: () => {
        throw new Error('probe failed')
      }
    }))
    const { main: mocked } = await import('../src/cli.js')
    let err = ''
    expect(mocked(['doctor'], () => {}, (t) => (err += t))).toBe(EXIT.ERROR)
    expect(err).toContain('the checks could not run: probe failed')
    vi.doUnmock('../src/doctor.js')
  })

  it('the command exits 3 when it cannot load at all', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tarsjs-bin-'))
    try {
      mkdirSync(join(dir, 'bin'))
      copyFileSync(BIN, join(dir, 'bin', 'tarsjs.cjs'))
      const r = spawnSync(process.execPath, [join(dir, 'bin', 'tarsjs.cjs'), 'doctor'], { encoding: 'utf8' })
      expect(r.status).toBe(3)
      expect(r.stderr).toContain('tarsjs: could not load')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe.skipIf(!FAKE_YAMA)('tarsjs doctor: ptrace verdicts follow the exposure', () => {
  it.each([
    [null, 'warn', EXIT.MISSING],
    ['0', 'warn', EXIT.MISSING],
    ['1', 'ok', EXIT.OK],
    ['2', 'ok', EXIT.OK],
    ['3', 'ok', EXIT.OK]
  ])('ptrace_scope %s: %s; --require=ptrace --strict exits %i', (scope, verdict, code) => {
    const r = withYama(scope, ['doctor', '--json', '--require=ptrace', '--strict'])
    const report = JSON.parse(r.stdout)
    expect(report.findings.find((f: { id: string }) => f.id === 'ptrace')).toMatchObject({ verdict, data: { ptraceScope: scope } })
    expect(r.status).toBe(code)
    // Without --strict a warning never fails the gate.
    expect(withYama(scope, ['doctor', '--require=ptrace']).status).toBe(EXIT.OK)
  })
})
