// Loads the contenders. The tarsjs packages are CommonJS; sodium-native is the
// baseline; @tarsjs/sodium-allocator is optional (it may not be built), so it
// is loaded defensively and probed once before it is benchmarked.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..')

export const os = require('@tarsjs/os-memlock')
export const pageAlloc = require('@tarsjs/page-alloc')
export const containers = require('@tarsjs/prot-containers')
export const sodium = require('sodium-native')

/**
 * SealedKey's internals, for the parts of its window (decrypt; window memory).
 * The package's exports map keeps them private, so they are loaded by file,
 * beside its entry point: the benchmarks measure parts no user can reach.
 */
const containersDist = dirname(require.resolve('@tarsjs/prot-containers'))
export const sealedInternals = () => require(join(containersDist, 'sealing-key.js'))
export const sealedAllocators = () => require(join(containersDist, 'sealed-allocators.js'))
export const sealedWindowBuffers = () => require(join(containersDist, 'window-buffers.js'))

/**
 * `{ available: true, api, version }` when @tarsjs/sodium-allocator is built and
 * its sodium_malloc/sodium_free work; otherwise `{ available: false, reason }`.
 */
export function loadSodiumAllocator () {
  let mod
  try {
    mod = require('@tarsjs/sodium-allocator')
  } catch (err) {
    return { available: false, reason: `not loadable (${err.code ?? err.message})` }
  }
  const api = typeof mod?.sodium_malloc === 'function' ? mod : mod?.default
  if (typeof api?.sodium_malloc !== 'function' || typeof api?.sodium_free !== 'function') {
    return { available: false, reason: 'does not export sodium_malloc and sodium_free' }
  }
  try {
    const buf = api.sodium_malloc(32)
    if (!(buf instanceof Uint8Array) || buf.byteLength !== 32) throw new Error('sodium_malloc(32) did not return 32 bytes')
    buf[0] = 0x5a
    if (buf[0] !== 0x5a) throw new Error('a written byte did not read back')
    api.sodium_free(buf)
  } catch (err) {
    return { available: false, reason: `probe failed: ${err.message}` }
  }
  return { available: true, api, version: packageVersion('@tarsjs/sodium-allocator') }
}

/** The version in an installed package's package.json, or null. */
export function packageVersion (name) {
  const file = join(benchDir, 'node_modules', ...name.split('/'), 'package.json')
  if (!existsSync(file)) return null
  try {
    return JSON.parse(readFileSync(file, 'utf8')).version ?? null
  } catch {
    return null
  }
}
