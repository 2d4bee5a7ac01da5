/**
 * The `tarsjs` command line: `tarsjs doctor [--json] [--strict] [--require=IDS] [--only]`.
 *
 * Exit codes, so it can gate a deployment:
 * - 0: every required protection is available;
 * - 1: a required protection is missing (or, with `--strict`, weaker than it could be);
 * - 2: usage error (unknown option or check id, empty `--require`), nothing was checked;
 * - 3: the checks could not run (for example the native addon failed to load).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CHECK_IDS, DEFAULT_REQUIRED, diagnose, formatReport, isCheckId, type CheckId } from './doctor.js'

const USAGE = `usage: tarsjs doctor [--json] [--strict] [--require=ID[,ID...]] [--only]
       tarsjs --version

Reports what protection this host can give secrets and how to fix what is missing.
  --json         machine-readable report (with a schemaVersion)
  --strict       a warning on a required check also fails
  --require=IDS  checks that must pass, added to the defaults (${DEFAULT_REQUIRED.join(',')});
                 may be given more than once
  --only         require only the checks named by --require, not the defaults
  --version      print the version and exit
ids: ${CHECK_IDS.join(', ')}
exit codes: 0 every required protection is available, 1 one is missing,
            2 usage error, 3 the checks could not run`

/** The exit codes of the command. */
export const EXIT = { OK: 0, MISSING: 1, USAGE: 2, ERROR: 3 } as const

/** The version of `@tarsjs/doctor` this command belongs to. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }
  return pkg.version
}

type Parsed = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; json: boolean; strict: boolean; required: CheckId[] } | { kind: 'usage'; message: string }

function parseIds(value: string, into: CheckId[]): string | null {
  if (value.length === 0) return `--require needs at least one id (valid ids: ${CHECK_IDS.join(', ')})`
  for (const id of value.split(',')) {
    if (!isCheckId(id)) {
      const shown = id.length === 0 ? 'an empty id' : `unknown id ${JSON.stringify(id)}`
      return `--require: ${shown} (valid ids: ${CHECK_IDS.join(', ')})`
    }
    if (!into.includes(id)) into.push(id)
  }
  return null
}

function parse(argv: readonly string[]): Parsed {
  const [command, ...flags] = argv
  if (command === '--version' || command === '-v') return { kind: 'version' }
  if (command === undefined || command === '--help' || command === '-h') return { kind: 'help' }
  if (command !== 'doctor') return { kind: 'usage', message: `unknown command ${JSON.stringify(command)}` }
  let json = false
  let strict = false
  let only = false
  let requireGiven = false
  const extra: CheckId[] = []
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i] as string
    if (flag === '--help' || flag === '-h') return { kind: 'help' }
    if (flag === '--version' || flag === '-v') return { kind: 'version' }
    if (flag === '--json') json = true
    else if (flag === '--strict') strict = true
    else if (flag === '--only') only = true
    else if (flag === '--require' || flag.startsWith('--require=')) {
      let value: string
      if (flag === '--require') {
        const next = flags[i + 1]
        if (next === undefined || next.startsWith('--')) return { kind: 'usage', message: `--require needs a value (valid ids: ${CHECK_IDS.join(', ')})` }
        value = next
        i++
      } else {
        value = flag.slice('--require='.length)
      }
      const error = parseIds(value, extra)
      if (error !== null) return { kind: 'usage', message: error }
      requireGiven = true
    } else {
      return { kind: 'usage', message: `unknown option ${JSON.stringify(flag)}` }
    }
  }
  if (only && !requireGiven) return { kind: 'usage', message: '--only needs --require (which checks to require)' }
  const required = only ? extra : [...DEFAULT_REQUIRED, ...extra.filter((id) => !DEFAULT_REQUIRED.includes(id))]
  return { kind: 'run', json, strict, required }
}

/**
 * Runs the command and returns its exit code (see {@link EXIT}). `write` receives
 * the report (stdout), `writeError` usage errors and failures (stderr).
 *
 * @example
 * ```sh
 * npx tarsjs doctor --require=secretmem,ptrace --strict
 * ```
 */
export function main(
  argv: readonly string[],
  write: (text: string) => void = (t) => process.stdout.write(t),
  writeError: (text: string) => void = (t) => process.stderr.write(t)
): number {
  const parsed = parse(argv)
  switch (parsed.kind) {
    case 'help':
      write(`${USAGE}\n`)
      return EXIT.OK
    case 'version':
      write(`${version()}\n`)
      return EXIT.OK
    case 'usage':
      writeError(`tarsjs: ${parsed.message}\n${USAGE}\n`)
      return EXIT.USAGE
    case 'run':
      break
  }
  let report
  try {
    report = diagnose(parsed.required, parsed.strict)
  } catch (err) {
    writeError(`tarsjs doctor: the checks could not run: ${err instanceof Error ? err.message : String(err)}\n`)
    return EXIT.ERROR
  }
  if (parsed.json) write(`${JSON.stringify({ ...report, version: version() }, null, 2)}\n`)
  else write(`${formatReport(report)}\n`)
  return report.ok ? EXIT.OK : EXIT.MISSING
}
