/**
 * Integrity failures: a canary or allocator metadata that does not hold what
 * it must. The heap can no longer be trusted, so by default the process writes
 * one clear line to stderr and aborts. The `throw` policy exists for tests.
 */
import { AllocError } from './errors.js'
import type { IntegrityPolicy } from './policy.js'

export function integrityFailure(policy: IntegrityPolicy, what: string): never {
  const message = `tarsjs: integrity failure: ${what}`
  if (policy === 'throw') throw new AllocError('ERR_INTEGRITY', message)
  process.stderr.write(`${message}; aborting\n`)
  process.abort()
}
