/**
 * The allocators a higher layer uses when none is given (`@tarsjs/prot-containers`
 * registers its default `ProtKey` and `ProtBuf` allocators here), so that tools
 * below it, such as `@tarsjs/doctor`, can report on them without depending on
 * that layer. Per thread: each worker loads its own copy of this module.
 */
import type { Allocator } from './allocator.js'
import { AllocError } from './errors.js'

/** What a registered default allocator serves: `'key'` for ProtKey, `'buf'` for ProtBuf. */
export type DefaultAllocatorRole = 'key' | 'buf'

const registered: { key: Allocator | undefined; buf: Allocator | undefined } = { key: undefined, buf: undefined }

/**
 * @internal Records `allocator` as this thread's default allocator for `role`
 * (a later call for the same role replaces the earlier one).
 * @throws {AllocError} `ERR_INVALID_ARG_VALUE` for a role other than `'key'` or `'buf'`;
 *   `ERR_INVALID_ARG_TYPE` when `allocator` has no `stats()` method
 * @example
 * ```js
 * import { PageAllocator, registerDefaultAllocator } from '@tarsjs/page-alloc'
 * registerDefaultAllocator('key', new PageAllocator())
 * ```
 */
export function registerDefaultAllocator(role: DefaultAllocatorRole, allocator: Allocator): void {
  if (role !== 'key' && role !== 'buf') {
    throw new AllocError('ERR_INVALID_ARG_VALUE', `The "role" argument must be 'key' or 'buf'. Received ${String(role)}`)
  }
  if (allocator === null || typeof allocator !== 'object' || typeof (allocator as Partial<Allocator>).stats !== 'function') {
    throw new AllocError('ERR_INVALID_ARG_TYPE', 'The "allocator" argument must implement the Allocator interface')
  }
  registered[role] = allocator
}

/**
 * @internal This thread's registered default allocators, each `undefined` until
 * the layer that owns it has created it. Reading them creates nothing.
 * @throws nothing
 * @example
 * ```js
 * import { registeredDefaultAllocators } from '@tarsjs/page-alloc'
 * const { key, buf } = registeredDefaultAllocators()
 * console.log(key?.stats().unlockedAllocations ?? 0, buf?.stats().unlockedAllocations ?? 0)
 * ```
 */
export function registeredDefaultAllocators(): { readonly key: Allocator | undefined; readonly buf: Allocator | undefined } {
  return { key: registered.key, buf: registered.buf }
}
