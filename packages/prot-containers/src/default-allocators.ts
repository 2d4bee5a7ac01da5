/**
 * The allocators containers use when none is given: one slot allocator for
 * ProtBuf and one page allocator for ProtKey per thread (each worker loads its
 * own copy of this module, so workers never share allocator state).
 */
import { PageAllocator, SlotAllocator, registerDefaultAllocator } from '@tarsjs/page-alloc'
import type { Allocator } from '@tarsjs/page-alloc'
import { ContainerError } from './errors.js'

let slot: SlotAllocator | undefined
let page: PageAllocator | undefined

/**
 * The default allocator of `ProtBuf`: packed slots, locked, no-dump, wipe-on-fork.
 * @throws nothing: created on first use with default options, which are valid
 * @example
 * ```js
 * import { ProtBuf, defaultBufAllocator } from '@tarsjs/prot-containers'
 * const buf = ProtBuf.alloc(16)
 * console.log(buf.allocator === defaultBufAllocator()) // true
 * buf.dispose()
 * ```
 */
export function defaultBufAllocator(): SlotAllocator {
  if (slot === undefined) {
    slot = new SlotAllocator()
    registerDefaultAllocator('buf', slot) // so that @tarsjs/doctor can count its unlocked live allocations
  }
  return slot
}

/**
 * The default allocator of `ProtKey`: a guarded mapping per key, no access through the process's memory
 * protection key where the CPU has one (`protectionKey: 'auto'`), else PROT_NONE.
 * @throws nothing: created on first use with default options, which are valid
 * @example
 * ```js
 * import { ProtKey, defaultKeyAllocator } from '@tarsjs/prot-containers'
 * const key = ProtKey.random(32)
 * console.log(key.allocator === defaultKeyAllocator()) // true
 * key.dispose()
 * ```
 */
export function defaultKeyAllocator(): PageAllocator {
  if (page === undefined) {
    page = new PageAllocator({ protectionKey: 'auto' })
    registerDefaultAllocator('key', page) // so that @tarsjs/doctor can count its unlocked live allocations
  }
  return page
}

/** Checks an `allocator` option: an object with the Allocator methods. */
export function pickAllocator(value: unknown, fallback: () => Allocator): Allocator {
  if (value === undefined) return fallback()
  const a = value as Partial<Allocator> | null
  if (
    a === null ||
    typeof a !== 'object' ||
    typeof a.alloc !== 'function' ||
    typeof a.free !== 'function' ||
    typeof a.view !== 'function' ||
    typeof a.protect !== 'function' ||
    typeof a.protections !== 'function'
  ) {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "allocator" option must implement the Allocator interface')
  }
  return a as Allocator
}
