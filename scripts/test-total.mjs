// Runs the linter (`pnpm lint`), type-checks every package's tests (each
// package's `test:types`), runs every package's tests through turbo, then
// prints the plain total of every test run, alone on the last line:
// "N passed, N failed[, N skipped]". A lint failure and a type error each
// count as one failed test (the tests still run, so that all are reported).
// Each package's vitest writes test-results.json (restored by turbo's cache,
// so a cached run still counts its tests).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { readReports } from './lib/reports.mjs'

const root = new URL('..', import.meta.url).pathname
const resultFiles = []
for (const dir of ['packages', 'examples', 'bench', 'docs']) {
  const base = join(root, dir)
  if (!existsSync(base)) continue
  const candidates = dir === 'packages' ? readdirSync(base).map((name) => join(base, name)) : [base]
  for (const pkg of candidates) resultFiles.push(join(pkg, 'test-results.json'))
}

// A report left over from an earlier run must not be counted: every task that
// runs (or hits the cache) writes its report again.
for (const file of resultFiles) rmSync(file, { force: true })

// ESLint over every JavaScript and TypeScript file, and each package's lint:c.
const lint = spawnSync('pnpm', ['lint'], { cwd: root, stdio: 'inherit' })
const lintFailed = lint.status === 0 ? 0 : 1
if (lintFailed) console.log('pnpm lint failed: counted as one failed test')

// The tests run even when their types do not check, so that both are reported.
const types = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test:types', '--continue=dependencies-successful', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit'
})
const failedTypes = types.status !== 0 ? 1 : 0
if (failedTypes) console.log('test:types failed: counted as one failed test')

// --continue: one failing package must not cancel the others' tests, or the
// total would leave them out. Tests whose build failed still do not run.
const run = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', '--continue=dependencies-successful', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit'
})

const { passed, failed, skipped } = readReports(resultFiles)

const failedRun = run.status !== 0 && failed === 0 ? 1 : 0
console.log(`${passed} passed, ${failed + failedRun + lintFailed + failedTypes} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(run.status === 0 && !lintFailed && !failedTypes ? 0 : 1)
