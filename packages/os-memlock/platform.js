'use strict'
// Chooses, at first use, what stands behind the API:
//
// - the native addon, on Linux;
// - the unprotected development mode (unprotected.js: ordinary memory, nothing
//   protected), only when asked for, with TARSJS_UNPROTECTED_DEV=1 or
//   enableUnprotectedDevelopmentMode(), and never when NODE_ENV=production;
// - otherwise nothing: every call throws ERR_UNSUPPORTED_PLATFORM.
//
// Loading the package is never a use, so installing and importing it works on
// every OS. pageSize() is not a use either: the packages above read it when
// they are loaded. It answers everywhere, and the same before and after the
// choice.

const SUPPORTED = 'linux'
const DEV_ENV = 'TARSJS_UNPROTECTED_DEV'
/** The page size of the development mode when the addon is not loaded. */
const DEV_PAGE_SIZE = 4096
const WARN_UNPROTECTED_DEV = 'TARSJS_UNPROTECTED_DEV'
const GUIDE = 'docs/platform-support.md'

let load = null // loads the native addon
let table = null // the object index.js calls through
let names = []
let binding = null // the addon, once loaded
let chosen = null // the implementation in use, once chosen
let mode = null // 'native' | 'unprotected'

function error (Class, code, message) {
  const err = new Class(message)
  err.code = code
  return err
}

/**
 * The OS tarsjs believes it runs on: process.platform, unless a test simulates
 * another with TARSJS_TEST_PLATFORM (honoured only when NODE_ENV is 'test').
 */
function currentPlatform () {
  const simulated = process.env.TARSJS_TEST_PLATFORM
  if (simulated !== undefined && simulated !== '' && process.env.NODE_ENV === 'test') return simulated
  return process.platform
}

/** TARSJS_UNPROTECTED_DEV: '1' asks for the mode; unset, '' or '0' does not; anything else is refused. */
function requestedByEnv () {
  const value = process.env[DEV_ENV]
  if (value === undefined || value === '' || value === '0') return false
  if (value === '1') return true
  throw error(TypeError, 'ERR_INVALID_ARG_VALUE',
    `@tarsjs/os-memlock: ${DEV_ENV} must be '1' (on), '0' or unset (off); got ${JSON.stringify(value)}`)
}

function loadBinding () {
  if (binding === null) binding = load()
  return binding
}

function use (implementation, name) {
  chosen = implementation
  mode = name
  for (const key of names) table[key] = implementation[key]
  return implementation
}

function chooseUnprotected () {
  if (process.env.NODE_ENV === 'production') {
    throw error(Error, 'ERR_UNPROTECTED_DEV_IN_PRODUCTION',
      '@tarsjs/os-memlock: the unprotected development mode is refused when NODE_ENV=production: ' +
      `it keeps secrets in ordinary memory. Unset ${DEV_ENV} and deploy on Linux (see ${GUIDE})`)
  }
  const pageSize = binding !== null ? binding.pageSize() : DEV_PAGE_SIZE
  const implementation = use(require('./unprotected.js').create(pageSize), 'unprotected')
  process.emitWarning(
    'tarsjs runs in UNPROTECTED DEVELOPMENT MODE: secrets live in ordinary memory, which may be swapped, ' +
    'dumped and copied; nothing is locked, guarded or excluded, and every protections() field is false. ' +
    `For development and tests only; refused when NODE_ENV=production. See ${GUIDE}`,
    { type: 'TarsjsWarning', code: WARN_UNPROTECTED_DEV }
  )
  return implementation
}

function unsupported (name, where) {
  return error(Error, 'ERR_UNSUPPORTED_PLATFORM',
    `@tarsjs/os-memlock: ${name}() is not supported on ${where} (${process.arch}): tarsjs protects memory on Linux only. ` +
    `To develop and test here on ordinary, unprotected memory, set ${DEV_ENV}=1 or call ` +
    `enableUnprotectedDevelopmentMode() from @tarsjs/os-memlock before first use (never in production); see ${GUIDE}`)
}

/** The implementation in use; chosen by the first call that needs one. */
function resolve (name) {
  if (chosen !== null) return chosen
  if (requestedByEnv()) return chooseUnprotected()
  const where = currentPlatform()
  if (where !== SUPPORTED) throw unsupported(name, where)
  return use(loadBinding(), 'native')
}

function pageSize () {
  if (chosen !== null) return chosen.pageSize()
  if (binding === null && (process.env[DEV_ENV] === '1' || currentPlatform() !== SUPPORTED)) return DEV_PAGE_SIZE
  return loadBinding().pageSize()
}

function entry (name) {
  return function (...args) {
    return resolve(name)[name](...args)
  }
}

/**
 * The object index.js calls through: one function per name, each choosing
 * the implementation on its first call, then replaced by that implementation's
 * own function. `loadNative` loads the addon (only on Linux, only when needed).
 */
function backend (allNames, loadNative) {
  load = loadNative
  names = allNames
  table = {}
  for (const name of allNames) table[name] = name === 'pageSize' ? pageSize : entry(name)
  return table
}

/**
 * Runs the whole API on ordinary memory from now on (see unprotected.js).
 * Must come before first use; refused when NODE_ENV=production.
 */
function enableUnprotectedDevelopmentMode () {
  if (mode === 'unprotected') return
  if (mode === 'native') {
    throw error(Error, 'ERR_UNPROTECTED_DEV_TOO_LATE',
      '@tarsjs/os-memlock: enableUnprotectedDevelopmentMode() must be called before first use; ' +
      'the native addon is already in use in this thread')
  }
  chooseUnprotected()
}

/** True once the unprotected development mode is in use in this thread. */
function unprotectedDevelopmentMode () {
  return mode === 'unprotected'
}

module.exports = {
  SUPPORTED,
  WARN_UNPROTECTED_DEV,
  backend,
  currentPlatform,
  enableUnprotectedDevelopmentMode,
  unprotectedDevelopmentMode
}
