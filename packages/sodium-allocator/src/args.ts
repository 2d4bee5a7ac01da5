/**
 * Argument checks of the libsodium-compatible functions.
 *
 * sodium-native validates arguments in a fixed order and throws plain
 * `TypeError`/`Error` objects with fixed messages; code that switches from it
 * may match on those, so the same types and messages are used here. Each error
 * also carries a stable `code` (sodium-native's have none).
 */
import { types } from 'node:util'

/** Error codes of the compatible API. */
export type SodiumErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_MISSING_ARGS'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_NOT_SECURE_BUFFER'
  | 'ERR_BUFFER_LENGTH_MISMATCH'
  | 'ERR_MLOCK_FAILED'
  | 'ERR_SODIUM_NATIVE_MISSING'

export type CodedError = Error & { code: string }

function coded<E extends Error>(err: E, code: string): E & { code: string } {
  Object.defineProperty(err, 'code', { value: code, enumerable: true, configurable: true, writable: true })
  return err as E & { code: string }
}

export function typeError(code: SodiumErrorCode, message: string): CodedError {
  return coded(new TypeError(message), code)
}

export function rangeError(code: SodiumErrorCode, message: string): CodedError {
  return coded(new RangeError(message), code)
}

export function plainError(code: string, message: string, cause?: unknown): CodedError {
  return coded(cause === undefined ? new Error(message) : new Error(message, { cause }), code)
}

/** Exactly `n` arguments, as sodium-native's `SN_ARGV(n, name)`. */
export function argc(count: number, n: number, name: string): void {
  if (count !== n) throw typeError('ERR_MISSING_ARGS', `${name} requires ${n} argument(s)`)
}

/** At least `n` arguments, as sodium-native's `SN_ARGV_OPTS(n, total, name)`. */
export function argcAtLeast(count: number, n: number, name: string): void {
  if (count < n) throw typeError('ERR_MISSING_ARGS', `${name} requires at least ${n} argument(s)`)
}

/** A typed array (not a DataView), as sodium-native's `SN_ARGV_TYPEDARRAY(name, i)`. */
export function typedArray(value: unknown, name: string): NodeJS.TypedArray {
  if (!types.isTypedArray(value)) throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be an instance of TypedArray`)
  return value
}

/** The bytes of a typed array, whatever its element type. */
export function bytesOf(view: NodeJS.TypedArray): Uint8Array {
  return view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
}

/**
 * A number read as sodium-native's `SN_ARGV_UINT32` reads it: the type must be
 * number, then the value goes through `napi_get_value_uint32`, which is
 * ECMAScript ToUint32 (fractions truncated, negatives wrapped, NaN → 0).
 */
export function uint32(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be an instance of Number`)
  return value >>> 0
}
