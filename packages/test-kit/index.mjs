// What the tests of several tarsjs packages share: the kernel's view of a
// process's memory (smaps.cjs), child processes (child.cjs), a launcher that
// runs a child without one system call (syscalls.mjs), and the assertions on
// errors and on a child's clean exit. Test files import this module; fixtures
// that run in child processes require smaps.cjs or child.cjs directly (they
// have no test runner to load).
import { expect } from 'vitest'

export * from './smaps.cjs'
export * from './child.cjs'
export * from './syscalls.mjs'

/**
 * What `expectCode` checks besides the code: `Class`, the error's class
 * (`exact`: its prototype is exactly `Class.prototype`, not a subclass's),
 * `name`, and `props`, properties that must equal the given values.
 * @typedef {object} ErrorShape
 * @property {abstract new (...args: any[]) => Error} [Class]
 * @property {boolean} [exact]
 * @property {string} [name]
 * @property {Record<string, unknown>} [props]
 */

/**
 * Calls `fn`, expects it to throw an Error with `code` and a message that
 * explains (more than 10 characters), and checks `shape`. Returns the error.
 * @param {() => unknown} fn
 * @param {string} code
 * @param {ErrorShape} [shape]
 * @returns {Error & { code: string, [key: string]: any }}
 */
export function expectCode (fn, code, shape = {}) {
  let err
  let threw = false
  try {
    fn()
  } catch (e) {
    threw = true
    err = e
  }
  expect(threw, `expected a throw with code ${code}`).toBe(true)
  return checkError(err, code, shape)
}

/**
 * The same as `expectCode` for a promise: expects a rejection with `code`.
 * @param {Promise<unknown>} promise
 * @param {string} code
 * @param {ErrorShape} [shape]
 * @returns {Promise<Error & { code: string, [key: string]: any }>}
 */
export async function expectReject (promise, code, shape = {}) {
  let err
  let rejected = false
  try {
    await promise
  } catch (e) {
    rejected = true
    err = e
  }
  expect(rejected, `expected a rejection with code ${code}`).toBe(true)
  return checkError(err, code, shape)
}

/**
 * @param {unknown} err
 * @param {string} code
 * @param {ErrorShape} shape
 * @returns {Error & { code: string, [key: string]: any }}
 */
function checkError (err, code, { Class, exact = false, name, props = {} }) {
  expect(err).toBeInstanceOf(Error)
  const e = /** @type {Error & { code: string, [key: string]: any }} */ (err)
  if (Class !== undefined) {
    expect(e).toBeInstanceOf(Class)
    if (exact) expect(Object.getPrototypeOf(e)).toBe(Class.prototype)
  }
  expect(e.code).toBe(code)
  if (name !== undefined) expect(e.name).toBe(name)
  expect(typeof e.message).toBe('string')
  expect(e.message.length).toBeGreaterThan(10)
  for (const [k, v] of Object.entries(props)) expect(e[k]).toEqual(v)
  return e
}

/**
 * Fails, showing the end of the child's stderr, unless it exited with status 0.
 * @param {{ status: number | null, signal: NodeJS.Signals | null, stderr: string }} run
 * @returns {void}
 */
export function expectClean (run) {
  expect({ status: run.status, signal: run.signal, stderr: run.stderr.slice(-2000) }).toEqual({ status: 0, signal: null, stderr: expect.any(String) })
}
