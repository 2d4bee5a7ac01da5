/**
 * Typed errors of the allocator layer. Every error has a stable `code`.
 * Misuse (bad sizes, double free, foreign allocations) throws one of these and
 * changes nothing; integrity failures go through `integrity.ts` instead.
 */

/** Error codes thrown by `@tarsjs/page-alloc`. */
export type AllocErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_DOUBLE_FREE'
  | 'ERR_FOREIGN_ALLOCATION'
  | 'ERR_ALLOCATION_FREED'
  | 'ERR_NOT_ISOLATED'
  | 'ERR_NO_ACCESS'
  | 'ERR_VIEW_ESCAPED'
  | 'ERR_VIEW_HANDED_OVER'
  | 'ERR_MLOCK_FAILED'
  | 'ERR_SECRETMEM_UNAVAILABLE'
  | 'ERR_PROTECTION_KEY_UNAVAILABLE'
  | 'ERR_INTEGRITY'
  | 'ERR_MAP_LIMIT'

/**
 * An error with a stable `code`; `cause` holds the OS error when there is one.
 * @example
 * ```js
 * import { SlotAllocator } from '@tarsjs/page-alloc'
 * const slots = new SlotAllocator()
 * const a = slots.alloc(8)
 * slots.free(a)
 * try {
 *   slots.free(a)
 * } catch (err) {
 *   console.log(err.code, err.name) // ERR_DOUBLE_FREE AllocError
 * }
 * ```
 */
export class AllocError extends Error {
  readonly code: AllocErrorCode
  /**
   * An error with `code`; its `name` is `TypeError` or `RangeError` for the codes Node.js gives those classes, `AllocError` otherwise.
   * @throws nothing
   * @example
   * ```js
   * import { AllocError } from '@tarsjs/page-alloc'
   * const err = new AllocError('ERR_MLOCK_FAILED', 'mlock failed', { cause: new Error('ENOMEM') })
   * console.log(err.code, err.name, err.cause.message) // ERR_MLOCK_FAILED AllocError ENOMEM
   * ```
   */
  constructor(code: AllocErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = code === 'ERR_OUT_OF_RANGE' ? 'RangeError' : code === 'ERR_INVALID_ARG_TYPE' ? 'TypeError' : 'AllocError'
  }
}

/** Largest byte length any allocator accepts (1 GiB): larger requests are refused before any system call. */
export const MAX_BYTE_LENGTH = 2 ** 30

/**
 * Checks a requested byte length: an integer in [1, MAX_BYTE_LENGTH]
 * (or [0, ...] when `allowZero`). Throws `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE`.
 * @throws {AllocError} `ERR_INVALID_ARG_TYPE` (name `TypeError`) for a value that is not a number; `ERR_OUT_OF_RANGE` (name `RangeError`) for one that is not an integer in range
 * @example
 * ```js
 * import { checkByteLength } from '@tarsjs/page-alloc'
 * console.log(checkByteLength(32), checkByteLength(0, true)) // 32 0
 * try {
 *   checkByteLength(0)
 * } catch (err) {
 *   console.log(err.code) // ERR_OUT_OF_RANGE
 * }
 * ```
 */
export function checkByteLength(value: unknown, allowZero = false, name = 'byteLength'): number {
  if (typeof value !== 'number') {
    throw new AllocError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type number, got ${describe(value)}`)
  }
  const min = allowZero ? 0 : 1
  if (!Number.isInteger(value) || value < min || value > MAX_BYTE_LENGTH) {
    throw new AllocError(
      'ERR_OUT_OF_RANGE',
      `The value of "${name}" is out of range. It must be an integer >= ${min} and <= ${MAX_BYTE_LENGTH}. Received ${String(value)}`
    )
  }
  return value
}

const NO_OPTIONS: Readonly<Record<string, never>> = Object.freeze({})

/**
 * Checks an options argument: an object (not null) or undefined (then an empty, frozen one). Throws `ERR_INVALID_ARG_TYPE`.
 * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for a value that is neither an object nor undefined (null included)
 * @example
 * ```js
 * import { checkOptionsObject } from '@tarsjs/page-alloc'
 * console.log(checkOptionsObject(undefined), checkOptionsObject({ mlock: 'off' }).mlock) // {} off
 * ```
 */
export function checkOptionsObject<T extends object>(value: unknown, name = 'options'): Partial<T> {
  if (value === undefined) return NO_OPTIONS as Partial<T>
  if (value === null || typeof value !== 'object') {
    throw new AllocError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type object, got ${describe(value)}`)
  }
  return value as Partial<T>
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`
  return `type ${typeof value}`
}

/**
 * Throws for an argument that is not one of the allocator's own live handles:
 * `ERR_INVALID_ARG_TYPE` for a non-object, `ERR_FOREIGN_ALLOCATION` otherwise.
 * For backends' ownership checks.
 * @throws {AllocError} always: `ERR_INVALID_ARG_TYPE` for a non-object, `ERR_FOREIGN_ALLOCATION` otherwise
 * @example
 * ```js
 * import { rejectAllocation } from '@tarsjs/page-alloc'
 * try {
 *   rejectAllocation({})
 * } catch (err) {
 *   console.log(err.code) // ERR_FOREIGN_ALLOCATION
 * }
 * ```
 */
export function rejectAllocation(allocation: unknown): never {
  if (allocation === null || typeof allocation !== 'object') {
    throw new AllocError('ERR_INVALID_ARG_TYPE', 'The "allocation" argument must be an Allocation')
  }
  throw new AllocError('ERR_FOREIGN_ALLOCATION', 'The allocation was not made by this allocator')
}

/**
 * Throws `ERR_DOUBLE_FREE` (when freeing) or `ERR_ALLOCATION_FREED` for a freed allocation.
 * @throws {AllocError} `ERR_DOUBLE_FREE` when freeing a freed allocation; `ERR_ALLOCATION_FREED` for any other use of one
 * @example
 * ```js
 * import { checkLive } from '@tarsjs/page-alloc'
 * checkLive({ freed: false }, true) // live: returns
 * try {
 *   checkLive({ freed: true }, false)
 * } catch (err) {
 *   console.log(err.code) // ERR_ALLOCATION_FREED
 * }
 * ```
 */
export function checkLive(allocation: { readonly freed: boolean }, freeing: boolean): void {
  if (!allocation.freed) return
  if (freeing) throw new AllocError('ERR_DOUBLE_FREE', 'The allocation was already freed')
  throw new AllocError('ERR_ALLOCATION_FREED', 'The allocation was freed')
}
