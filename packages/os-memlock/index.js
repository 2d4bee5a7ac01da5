'use strict'
// Loads the native binding: a bundled prebuild when one matches this platform,
// otherwise the local build (build/Release). Linux only: elsewhere every entry
// point but pageSize() throws ERR_UNSUPPORTED_PLATFORM at first use, unless the
// unprotected development mode was asked for (platform.js, unprotected.js).
//
// The native side hands out a type-tagged external per mapping. Here it is
// kept in a frozen Region object (a private field, so JavaScript cannot read
// or replace it) next to byteLength and secret. Every function passes the
// external on; the addon checks its type tag, so a forged object is refused.

const NAMES = [
  'pageSize', 'capabilities', 'memlockLimit', 'map', 'unmap', 'isMapped', 'protect',
  'lock', 'unlock', 'advise', 'wipe', 'fill', 'copy', 'equals', 'view', 'detach', 'remap', 'keyedCopy'
]

// The addon's capabilities() answers with bits (its CAP_* values): 1 << i is CAPABILITIES[i].
const CAPABILITIES = ['mlock', 'madviseDontDump', 'madviseWipeOnFork', 'madviseDontFork', 'memfdSecret', 'protectionKeys']

const { readFileSync } = require('node:fs')
const platform = require('./platform.js')

let loaded = null
/**
 * Loads the addon (on Linux, at first use) and checks the runtime under it.
 * TARSJS_OS_MEMLOCK_BINARY names a binary to load instead (tests only: the
 * AddressSanitizer build of scripts/asan-test.sh). Never set it in production.
 */
function loadNative () {
  if (loaded === null) {
    const binary = process.env.TARSJS_OS_MEMLOCK_BINARY
    loaded = checkRuntime(binary ? require(binary) : loadBuild())
  }
  return loaded
}

/** This copy's binary; a refusal as a second copy names both copies' paths (the addon names the first). */
function loadBuild () {
  try {
    return require('node-gyp-build')(__dirname)
  } catch (err) {
    if (err !== null && typeof err === 'object' && err.code === 'ERR_DUPLICATE_NATIVE_INSTANCE') {
      err.message += `. This copy, which was not loaded, is at ${__dirname}`
    }
    throw err
  }
}

const native = platform.backend(NAMES, loadNative)

/**
 * Other runtimes implement Node-API too (Bun, Deno). The guarantees rest on
 * two things the API alone does not promise: detaching an ArrayBuffer really
 * empties it (stale views have length 0), and finalizers exist (the
 * containers' backstop). Without either, every function throws
 * ERR_UNSUPPORTED_RUNTIME naming what is missing. Otherwise the addon's
 * functions are returned with the two answers JavaScript gives itself:
 * memlockLimit(), and the externalBuffers capability learnt by the same probe;
 * capabilities() names the addon's bits.
 */
function checkRuntime (binding) {
  const runtime = process.versions.bun ? `Bun ${process.versions.bun}` : process.versions.deno ? `Deno ${process.versions.deno}` : `Node.js ${process.version}`
  const missing = []
  const views = probeViews(binding)
  if (typeof FinalizationRegistry !== 'function' || typeof WeakRef !== 'function') missing.push('FinalizationRegistry and WeakRef')
  if (!views.detachEmpties) missing.push('napi_detach_arraybuffer that empties the ArrayBuffer')
  if (missing.length > 0) {
    const refused = {}
    for (const name of NAMES) {
      refused[name] = function () {
        const err = new Error(`@tarsjs/os-memlock: ${runtime} lacks ${missing.join(', ')}; tarsjs cannot keep its guarantees here`)
        err.code = 'ERR_UNSUPPORTED_RUNTIME'
        throw err
      }
    }
    return refused
  }
  return {
    ...binding,
    capabilities: () => {
      const bits = binding.capabilities()
      const caps = {}
      CAPABILITIES.forEach((name, i) => { caps[name] = (bits & (1 << i)) !== 0 })
      return { ...caps, externalBuffers: views.external }
    },
    memlockLimit
  }
}

/**
 * Detaches a view of a freshly mapped page (detach() accepts nothing else) and
 * reports whether the ArrayBuffer really became empty, and whether the runtime
 * hands out external ArrayBuffers at all. One that refuses them cannot hand
 * out a view: view() then throws its own typed error at every use, so there
 * is no detach to judge.
 */
function probeViews (binding) {
  const region = binding.map(binding.pageSize(), false)
  try {
    let view
    try {
      view = binding.view(region, 0, 8)
    } catch (err) {
      if (err && err.code === 'ERR_EXTERNAL_BUFFERS_UNAVAILABLE') return { external: false, detachEmpties: true }
      throw err
    }
    try {
      binding.detach(view)
    } catch {}
    return { external: true, detachEmpties: view.byteLength === 0 }
  } finally {
    binding.unmap(region)
  }
}

const LIMITS = '/proc/self/limits'
const MEMLOCK_ROW = 'Max locked memory'

/**
 * RLIMIT_MEMLOCK (soft and hard), as the kernel reports it for this process
 * in /proc/self/limits; "unlimited" (RLIM_INFINITY) is Infinity.
 */
function memlockLimit () {
  const row = readFileSync(LIMITS, 'latin1').split('\n').find((line) => line.startsWith(MEMLOCK_ROW))
  const [soft, hard] = (row ?? '').slice(MEMLOCK_ROW.length).trim().split(/\s+/)
  const value = (field) => (field === 'unlimited' ? Infinity : /^\d+$/.test(field ?? '') ? Number(field) : NaN)
  const limit = { soft: value(soft), hard: value(hard) }
  if (Number.isNaN(limit.soft) || Number.isNaN(limit.hard)) {
    const err = new Error(`@tarsjs/os-memlock: ${LIMITS} has no readable "${MEMLOCK_ROW}" row`)
    err.code = 'ERR_MEMLOCK_LIMIT_UNREADABLE'
    throw err
  }
  return limit
}

class Region {
  #handle

  constructor (handle, byteLength, secret) {
    this.#handle = handle
    this.byteLength = byteLength
    this.secret = secret
    Object.freeze(this)
  }

  /** The native handle of a Region; anything else is passed on for the addon to judge. */
  static handle (value) {
    return typeof value === 'object' && value !== null && #handle in value ? value.#handle : value
  }
}

const handle = Region.handle

/** One property of an optional options object, read once; the addon checks its type. */
function option (options, name) {
  if (options === undefined) return undefined
  if (typeof options !== 'object' || options === null) {
    const err = new TypeError('The "options" argument must be of type object')
    err.code = 'ERR_INVALID_ARG_TYPE'
    throw err
  }
  return options[name]
}

function map (byteLength, options) {
  const secret = option(options, 'secret')
  return new Region(native.map(byteLength, secret), byteLength, secret === true)
}

// Named one by one so that ESM `import { map } from '@tarsjs/os-memlock'` sees them.
// Each export reads the table at call time: platform.js replaces its entries
// with the chosen implementation's own functions on first use, and a function
// captured here at load would stay the choosing wrapper for good.
exports.pageSize = () => native.pageSize()
exports.capabilities = () => native.capabilities()
exports.memlockLimit = () => native.memlockLimit()
exports.map = map
exports.unmap = (region) => native.unmap(handle(region))
exports.isMapped = (region) => native.isMapped(handle(region))
exports.protect = (region, offset, length, access, options) =>
  native.protect(handle(region), offset, length, access, option(options, 'keepViews'))
exports.lock = (target, offset, length, options) => native.lock(handle(target), offset, length, option(options, 'onFault'))
exports.unlock = (target, offset, length) => native.unlock(handle(target), offset, length)
exports.advise = (region, offset, length, advice) => native.advise(handle(region), offset, length, advice)
exports.wipe = (target, offset, length) => native.wipe(handle(target), offset, length)
exports.fill = (region, offset, length, byte) => native.fill(handle(region), offset, length, byte)
exports.copy = (src, srcOffset, dst, dstOffset, length) =>
  native.copy(handle(src), srcOffset, handle(dst), dstOffset, length)
exports.keyedCopy = (src, srcOffset, dst, dstOffset, length) =>
  native.keyedCopy(handle(src), srcOffset, handle(dst), dstOffset, length)
exports.equals = (a, aOffset, b, bOffset, length) => native.equals(handle(a), aOffset, handle(b), bOffset, length)
exports.view = (region, offset, length) => native.view(handle(region), offset, length)
exports.detach = (arrayBuffer) => native.detach(arrayBuffer)
exports.remap = (region, offset, length, kind) => native.remap(handle(region), offset, length, kind)
exports.enableUnprotectedDevelopmentMode = platform.enableUnprotectedDevelopmentMode
exports.unprotectedDevelopmentMode = platform.unprotectedDevelopmentMode
// Test only (TARSJS_OS_MEMLOCK_TEST=1 when this file is loaded): how many mappings the
// registry holds. The addon always has it; it is offered here only then.
if (process.env.TARSJS_OS_MEMLOCK_TEST === '1') exports.registryCount = () => loadNative().registryCount()
