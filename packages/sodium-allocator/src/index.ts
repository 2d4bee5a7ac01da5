/**
 * @tarsjs/sodium-allocator — sodium-native's memory functions with the same
 * names, signatures and behaviour, on @tarsjs/page-alloc with libsodium's
 * layout; and `Allocator` backends with that layout (`SodiumAllocator`) or over
 * the real libsodium (`SodiumNativeAllocator`).
 *
 * The conformance suite every backend must pass is a separate entry point:
 * `@tarsjs/sodium-allocator/conformance` (a re-export of `@tarsjs/page-alloc/conformance`).
 */
export {
  defaultSodiumAllocator,
  isSecureBuffer,
  secureBufferProtections,
  sodium_allocarray,
  sodium_free,
  sodium_malloc,
  sodium_mprotect_noaccess,
  sodium_mprotect_readonly,
  sodium_mprotect_readwrite,
  WARN_SECURE_BUFFER_LEAKED
} from './secure-buffer.js'
export type { SecureBuffer } from './secure-buffer.js'
export { sodium_memcmp, sodium_memzero, sodium_mlock, sodium_munlock } from './memory.js'
export { sodium_add, sodium_compare, sodium_increment, sodium_is_zero, sodium_sub } from './arith.js'
export { sodium_pad, sodium_unpad } from './padding.js'
export { CANARY_BYTES, GARBAGE_BYTE, SodiumAllocator } from './sodium-allocator.js'
export type { SodiumAllocatorOptions } from './sodium-allocator.js'
export { SodiumNativeAllocation, SodiumNativeAllocator, loadSodiumNative } from './native-adapter.js'
export type { SodiumNativeAllocatorOptions, SodiumNativeMemory } from './native-adapter.js'
export type { SodiumErrorCode } from './args.js'
export { TARSJS_MEMORY_FUNCTIONS, withTarsjsMemory } from './with-tarsjs-memory.js'
export type { TarsjsMemoryFunctions } from './with-tarsjs-memory.js'
