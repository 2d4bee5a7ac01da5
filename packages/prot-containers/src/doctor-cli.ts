/**
 * The `tarsjs` command line: `tarsjs doctor [--json] [--strict] [--require=a,b]`.
 * Exit code 0 when every required protection is available, 1 when one is
 * missing, 2 on a usage error — so it can gate a deployment.
 */
import { DEFAULT_REQUIRED, diagnose, formatReport } from './doctor.js'

const USAGE = `usage: tarsjs doctor [--json] [--strict] [--require=ID[,ID...]]

Reports what protection this host can give secrets and how to fix what is missing.
  --json         machine-readable report
  --strict       a warning on a required check also fails
  --require=IDS  checks that must pass (default: ${DEFAULT_REQUIRED.join(',')});
                 ids: memlock, secretmem, madvise, external-buffers, map-count, core-dumps, swap, ptrace`

/** Runs the command; returns the exit code. `write` receives stdout text. */
export function main(argv: readonly string[], write: (text: string) => void = (t) => process.stdout.write(t)): number {
  const [command, ...flags] = argv
  if (command !== 'doctor') {
    write(`${USAGE}\n`)
    return command === undefined || command === '--help' || command === '-h' ? 0 : 2
  }
  let json = false
  let strict = false
  let required: readonly string[] = DEFAULT_REQUIRED
  for (const flag of flags) {
    if (flag === '--json') json = true
    else if (flag === '--strict') strict = true
    else if (flag.startsWith('--require=')) required = flag.slice('--require='.length).split(',').filter((s) => s.length > 0)
    else {
      write(`unknown option ${JSON.stringify(flag)}\n${USAGE}\n`)
      return 2
    }
  }
  const report = diagnose(required, strict)
  write(json ? `${JSON.stringify({ ...report, required, strict }, null, 2)}\n` : `${formatReport(report)}\n`)
  return report.ok ? 0 : 1
}
