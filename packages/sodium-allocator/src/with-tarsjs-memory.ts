/**
 * `withTarsjsMemory(sodium)`: sodium-native's module with its memory functions
 * replaced by this package's, for code that calls them through the namespace
 * (`sodium.sodium_malloc(...)`). One line changes:
 *
 *   const sodium = withTarsjsMemory(require('sodium-native'))
 *
 * Everything else (the cryptography, the constants) is sodium-native's own.
 */
import { typeError } from './args.js'
import { sodium_add, sodium_compare, sodium_increment, sodium_is_zero, sodium_sub } from './arith.js'
import { sodium_memcmp, sodium_memzero, sodium_mlock, sodium_munlock } from './memory.js'
import { sodium_pad, sodium_unpad } from './padding.js'
import * as secure from './secure-buffer.js'

/** The functions `withTarsjsMemory` puts in place of sodium-native's. */
export interface TarsjsMemoryFunctions {
  sodium_malloc: typeof secure.sodium_malloc
  sodium_allocarray: typeof secure.sodium_allocarray
  sodium_free: typeof secure.sodium_free
  sodium_mprotect_noaccess: typeof secure.sodium_mprotect_noaccess
  sodium_mprotect_readonly: typeof secure.sodium_mprotect_readonly
  sodium_mprotect_readwrite: typeof secure.sodium_mprotect_readwrite
  sodium_mlock: typeof sodium_mlock
  sodium_munlock: typeof sodium_munlock
  sodium_memzero: typeof sodium_memzero
  sodium_memcmp: typeof sodium_memcmp
  sodium_compare: typeof sodium_compare
  sodium_is_zero: typeof sodium_is_zero
  sodium_increment: typeof sodium_increment
  sodium_add: typeof sodium_add
  sodium_sub: typeof sodium_sub
  sodium_pad: typeof sodium_pad
  sodium_unpad: typeof sodium_unpad
}

const MEMORY_FUNCTIONS: TarsjsMemoryFunctions = {
  sodium_malloc: secure.sodium_malloc,
  sodium_allocarray: secure.sodium_allocarray,
  sodium_free: secure.sodium_free,
  sodium_mprotect_noaccess: secure.sodium_mprotect_noaccess,
  sodium_mprotect_readonly: secure.sodium_mprotect_readonly,
  sodium_mprotect_readwrite: secure.sodium_mprotect_readwrite,
  sodium_mlock,
  sodium_munlock,
  sodium_memzero,
  sodium_memcmp,
  sodium_compare,
  sodium_is_zero,
  sodium_increment,
  sodium_add,
  sodium_sub,
  sodium_pad,
  sodium_unpad
}

/** The names of the functions that `withTarsjsMemory` replaces. */
export const TARSJS_MEMORY_FUNCTIONS: readonly (keyof TarsjsMemoryFunctions)[] = Object.freeze(
  Object.keys(MEMORY_FUNCTIONS) as (keyof TarsjsMemoryFunctions)[]
)

/**
 * A new object with every property of `sodium` (sodium-native 4.3 or 5, or
 * any object shaped like it) and the memory functions of this package in
 * place of sodium-native's. `sodium` itself is not changed, so other code
 * that uses sodium-native keeps its own functions.
 *
 * Buffers from the returned `sodium_malloc` are ordinary Buffers to
 * sodium-native's cryptography. Its `sodium_free` refuses buffers that
 * sodium-native allocated (`Error: failed to remove wrap`), so a buffer
 * allocated before the change and freed after it is caught at once.
 *
 * @param sodium - the sodium-native module, e.g. `require('sodium-native')`
 * @returns sodium-native's functions and constants, with the memory functions replaced
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `sodium` is not an object
 * @example
 * ```js
 * import sodiumNative from 'sodium-native'
 * import { withTarsjsMemory, isSecureBuffer } from '@tarsjs/sodium-allocator'
 *
 * const sodium = withTarsjsMemory(sodiumNative)
 * const key = sodium.sodium_malloc(sodium.crypto_secretbox_KEYBYTES)
 * sodium.randombytes_buf(key)
 * console.log(isSecureBuffer(key)) // true
 * sodium.sodium_free(key)
 * ```
 */
export function withTarsjsMemory<T extends object>(sodium: T): Omit<T, keyof TarsjsMemoryFunctions> & TarsjsMemoryFunctions {
  if (sodium === null || (typeof sodium !== 'object' && typeof sodium !== 'function')) {
    throw typeError('ERR_INVALID_ARG_TYPE', 'The "sodium" argument must be the sodium-native module (an object)')
  }
  const out = Object.defineProperties({}, Object.getOwnPropertyDescriptors(sodium)) as Record<string, unknown>
  for (const name of TARSJS_MEMORY_FUNCTIONS) {
    Object.defineProperty(out, name, { value: MEMORY_FUNCTIONS[name], enumerable: true, writable: true, configurable: true })
  }
  return out as Omit<T, keyof TarsjsMemoryFunctions> & TarsjsMemoryFunctions
}
