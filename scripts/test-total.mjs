// Runs every package's tests through turbo, then prints the plain total of
// every test run, alone on the last line: "N passed, N failed[, N skipped]".
// Each package's vitest writes test-results.json (restored by turbo's cache,
// so a cached run still counts its tests).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const run = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit'
})

let passed = 0
let failed = 0
let skipped = 0
const dirs = ['packages', 'examples', 'bench']
for (const dir of dirs) {
  const base = join(root, dir)
  if (!existsSync(base)) continue
  const candidates = dir === 'packages' ? readdirSync(base).map((name) => join(base, name)) : [base]
  for (const pkg of candidates) {
    const file = join(pkg, 'test-results.json')
    if (!existsSync(file)) continue
    const report = JSON.parse(readFileSync(file, 'utf8'))
    passed += report.numPassedTests
    failed += report.numFailedTests
    skipped += report.numPendingTests + report.numTodoTests
  }
}

const failedRun = run.status !== 0 && failed === 0 ? 1 : 0
console.log(`${passed} passed, ${failed + failedRun} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(run.status === 0 ? 0 : 1)
