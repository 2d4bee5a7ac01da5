// Sums vitest JSON reports (`--reporter=json --outputFile=FILE`): the counts
// behind the plain total "N passed, N failed, N skipped". A missing file counts
// nothing (the caller decides what a missing report means); a report that
// cannot be read (a run that died while writing it) counts as one failure.
import { existsSync, readFileSync } from 'node:fs'

export function readReports (files) {
  const sum = { passed: 0, failed: 0, skipped: 0 }
  for (const file of files) {
    if (!existsSync(file)) continue
    let report
    try {
      report = JSON.parse(readFileSync(file, 'utf8'))
    } catch {
      sum.failed++
      continue
    }
    sum.passed += report.numPassedTests
    sum.failed += report.numFailedTests
    sum.skipped += report.numPendingTests + report.numTodoTests
  }
  return sum
}
