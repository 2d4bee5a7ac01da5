// A small test runner that every runtime can execute without a test framework:
// Node.js, Bun (`bun FILE`) and Deno (`deno run -A FILE`). Tests run one after
// the other; each prints `ok`, `not ok` (with the reason) or `skip`, and the
// last line is the count, which scripts/runtimes.mjs adds to the CI total:
//   # runtimes: N passed, N failed, N skipped

const tests = []

/** Registers a test; `fn` may be async. */
export function test (name, fn) {
  tests.push({ name, fn })
}

/** Registers a test that is reported as skipped, with the reason, when `condition` holds. */
test.skipIf = (condition, reason) => (name, fn) => tests.push({ name, fn, skip: condition ? reason : undefined })

export class AssertionError extends Error {}

function show (value) {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

export function ok (value, message) {
  if (!value) throw new AssertionError(message ?? `expected a truthy value, got ${show(value)}`)
}

export function equal (actual, expected, message) {
  if (!Object.is(actual, expected)) {
    throw new AssertionError(`${message ? message + ': ' : ''}expected ${show(expected)}, got ${show(actual)}`)
  }
}

export function deepEqual (actual, expected, message) {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  if (a !== e) throw new AssertionError(`${message ? message + ': ' : ''}expected ${e}, got ${a}`)
}

/** Calls `fn` and checks that it throws: an instance of `type` (when given) whose `code` is `code` (when given). */
export function throws (fn, { type, code } = {}, message) {
  let error
  try {
    fn()
  } catch (err) {
    error = err
  }
  const what = message ? message + ': ' : ''
  if (error === undefined) throw new AssertionError(`${what}expected an exception, none was thrown`)
  if (type !== undefined && !(error instanceof type)) {
    throw new AssertionError(`${what}expected ${type.name}, got ${error?.constructor?.name}: ${error?.message}`)
  }
  if (code !== undefined && error?.code !== code) {
    throw new AssertionError(`${what}expected code ${code}, got ${show(error?.code)}: ${error?.message}`)
  }
  return error
}

/** Runs every registered test and prints the count; sets the exit code when one failed. */
export async function run () {
  let passed = 0
  let failed = 0
  let skipped = 0
  for (const { name, fn, skip } of tests) {
    if (skip !== undefined) {
      skipped++
      console.log(`skip - ${name} (${skip})`)
      continue
    }
    try {
      await fn()
      passed++
      console.log(`ok - ${name}`)
    } catch (err) {
      failed++
      console.log(`not ok - ${name}`)
      for (const line of String(err?.stack ?? err).split('\n')) console.log(`  # ${line}`)
    }
  }
  console.log(`# runtimes: ${passed} passed, ${failed} failed, ${skipped} skipped`)
  if (failed > 0) process.exitCode = 1
}
