// Shared test helpers: the binding, error assertions, and child-process runs.
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { constants } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expectCode, records, runNode, which } from '@tarsjs/test-kit'
import { expect } from 'vitest'

const require = createRequire(import.meta.url)

export const m = require('../index.js')
export const PS = m.pageSize()
export const HERE = dirname(fileURLToPath(import.meta.url))
export const PKG = join(HERE, '..')
export const FIXTURES = join(HERE, 'fixtures')

/** Error codes the addon may report for an OS failure. */
export const OS_CODES = ['ENOMEM', 'EAGAIN', 'EPERM', 'EINVAL', 'ENOSYS', 'EFAULT', 'EBADF', 'EACCES', 'EMFILE', 'ENFILE', 'EOVERFLOW']

/**
 * Calls fn, expects it to throw, and checks the error's class (exactly, not a
 * subclass: an OS error is a plain Error), code and any extra properties.
 */
export function expectThrow (fn, Class, code, extra = {}) {
  return expectCode(fn, code, { Class, exact: true, props: extra })
}

/** An OS error: code, the positive errno matching it, and the syscall name. */
export function expectOsError (fn, code, syscall) {
  const err = expectThrow(fn, Error, code, { syscall })
  expect(err.errno).toBe(constants.errno[code])
  expect(err.message).toContain(syscall)
  return err
}

export const typeErr = (fn) => expectThrow(fn, TypeError, 'ERR_INVALID_ARG_TYPE')
export const valueErr = (fn) => expectThrow(fn, TypeError, 'ERR_INVALID_ARG_VALUE')
export const rangeErr = (fn) => expectThrow(fn, RangeError, 'ERR_OUT_OF_RANGE')
export const unmappedErr = (fn) => expectThrow(fn, Error, 'ERR_REGION_UNMAPPED')
export const protectedErr = (fn) => expectThrow(fn, Error, 'ERR_REGION_PROTECTED')

/**
 * Proves a region is intact and usable: random bytes written through a fresh
 * view at `offset` read back through another fresh view and through equals().
 */
export function assertWorks (region, offset = 0) {
  expect(m.isMapped(region)).toBe(true)
  const bytes = randomBytes(32)
  const a = new Uint8Array(m.view(region, offset, 32))
  a.set(bytes)
  const b = new Uint8Array(m.view(region, offset, 32))
  expect(Buffer.compare(Buffer.from(b), bytes)).toBe(0)
  expect(m.equals(region, offset, bytes, 0, 32)).toBe(true)
  m.wipe(region, offset, 32)
  expect(b.every((x) => x === 0)).toBe(true)
  m.detach(a.buffer)
  m.detach(b.buffer)
}

/** Reads all of a region through a fresh view (the view is detached afterwards). */
export function readAll (region, offset = 0, length = region.byteLength - offset) {
  const ab = m.view(region, offset, length)
  const copy = Buffer.from(new Uint8Array(ab))
  m.detach(ab)
  return copy
}

export { records, which }

/**
 * Runs `node [nodeArgs] fixtures/<name> [args]` synchronously. Core dumps are
 * switched off (prlimit --core=0, which execs node, so the signal is node's).
 * `wrap` is a command prefix (e.g. setpriv ... prlimit ...), used as given.
 */
export function runFixture (name, args = [], { nodeArgs = [], wrap = null, cwd = HERE, env = process.env, timeout = 60000 } = {}) {
  return runNode(join(FIXTURES, name), args, { nodeArgs, wrap, cwd, env, timeout })
}
