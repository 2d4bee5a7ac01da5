/**
 * Constant-time arithmetic on little-endian numbers of any length, as
 * libsodium's `sodium_compare`, `sodium_is_zero`, `sodium_increment`,
 * `sodium_add` and `sodium_sub` (nonces and counters): every byte is visited
 * and no branch depends on a byte's value. Typed arrays of any element type
 * are read as their bytes.
 */
import { argc, argcAtLeast, bytesOf, plainError, typedArray, uint32 } from './args.js'

/** The bytes of the two operands `a` and `b`, which must have the same byte length. */
function sameLengthBytes(a: NodeJS.TypedArray, b: NodeJS.TypedArray): [Uint8Array, Uint8Array] {
  const x = bytesOf(typedArray(a, 'a'))
  const y = bytesOf(typedArray(b, 'b'))
  if (x.byteLength !== y.byteLength) throw plainError('ERR_BUFFER_LENGTH_MISMATCH', 'buffers must be of same length')
  return [x, y]
}

/**
 * `x = x + (y ^ flip) + carryIn`, little-endian, modulo 2^(8 * length), in
 * place: every byte is visited and the carry never decides a branch. `flip`
 * is 0 or 0xff (each byte of `y` inverted), `carryIn` 0 or 1.
 */
function addInPlace(x: Uint8Array, y: Uint8Array, flip: 0 | 0xff, carryIn: 0 | 1): void {
  let carry: number = carryIn
  for (let i = 0; i < x.length; i++) {
    carry += (x[i] as number) + ((y[i] as number) ^ flip)
    x[i] = carry & 0xff
    carry >>>= 8
  }
}

/**
 * Compares two little-endian numbers of the same length: -1 if `a < b`, 0 if
 * equal, 1 if `a > b`, in time that depends only on the length.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for an argument that is not a typed array; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {Error} `ERR_BUFFER_LENGTH_MISMATCH` (`buffers must be of same length`) when the two byte lengths differ
 * @example
 * ```js
 * import { sodium_compare } from '@tarsjs/sodium-allocator'
 * console.log(sodium_compare(Buffer.from([1, 0]), Buffer.from([0, 1]))) // -1: little-endian, 1 < 256
 * console.log(sodium_compare(Buffer.from([7]), Buffer.from([7]))) // 0
 * ```
 */
export function sodium_compare(a: NodeJS.TypedArray, b: NodeJS.TypedArray): number {
  argc(arguments.length, 2, 'sodium_compare')
  const [x, y] = sameLengthBytes(a, b)
  let gt = 0
  let eq = 1
  for (let i = x.length - 1; i >= 0; i--) {
    const xi = x[i] as number
    const yi = y[i] as number
    // (yi - xi) is negative exactly when xi > yi; its sign spreads down with >>.
    gt |= ((yi - xi) >> 8) & eq
    // (xi ^ yi) - 1 is -1 exactly when the bytes are equal.
    eq &= ((xi ^ yi) - 1) >> 8
  }
  return gt + gt + (eq & 1) - 1
}

/**
 * True when every byte of `buf` is zero; with `len`, only the first `len`
 * bytes are looked at (`len` read as an unsigned 32-bit integer, and not
 * beyond the end).
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for an argument that is not a typed array; `ERR_MISSING_ARGS` for a wrong argument count; `ERR_INVALID_ARG_TYPE` for a `len` that is not a number
 * @throws {Error} `ERR_OUT_OF_RANGE` for a `len` beyond the end of `buf`
 * @example
 * ```js
 * import { sodium_is_zero } from '@tarsjs/sodium-allocator'
 * console.log(sodium_is_zero(Buffer.alloc(8))) // true
 * console.log(sodium_is_zero(Buffer.from([0, 0, 1]), 2)) // true: only the first 2 bytes
 * ```
 */
export function sodium_is_zero(buf: NodeJS.TypedArray, len?: number): boolean {
  argcAtLeast(arguments.length, 1, 'sodium_is_zero')
  const bytes = bytesOf(typedArray(buf, 'a'))
  let n = bytes.length
  if (arguments.length === 2) {
    n = uint32(len, 'a_size')
    if (n > bytes.length) throw plainError('ERR_OUT_OF_RANGE', "len must be shorter than 'buf.byteLength'")
  }
  let d = 0
  for (let i = 0; i < n; i++) d |= bytes[i] as number
  return (((d - 1) >> 8) & 1) === 1
}

/**
 * Adds 1 to the little-endian number in `n`, in place, wrapping around.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for an argument that is not a typed array; `ERR_MISSING_ARGS` for a wrong argument count
 * @example
 * ```js
 * import { sodium_increment } from '@tarsjs/sodium-allocator'
 * const nonce = Buffer.from([0xff, 0x00, 0x00])
 * sodium_increment(nonce)
 * console.log(nonce) // <Buffer 00 01 00>: the carry goes up, little-endian
 * ```
 */
export function sodium_increment(n: NodeJS.TypedArray): void {
  argc(arguments.length, 1, 'sodium_increment')
  const bytes = bytesOf(typedArray(n, 'n'))
  let carry = 1
  for (let i = 0; i < bytes.length; i++) {
    carry += bytes[i] as number
    bytes[i] = carry & 0xff
    carry >>>= 8
  }
}

/**
 * `a = (a + b) mod 2^(8 * length)`, little-endian, in place.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for an argument that is not a typed array; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {Error} `ERR_BUFFER_LENGTH_MISMATCH` (`buffers must be of same length`) when the two byte lengths differ
 * @example
 * ```js
 * import { sodium_add } from '@tarsjs/sodium-allocator'
 * const a = Buffer.from([0xff, 0x01])
 * sodium_add(a, Buffer.from([0x01, 0x00]))
 * console.log(a) // <Buffer 00 02>
 * ```
 */
export function sodium_add(a: NodeJS.TypedArray, b: NodeJS.TypedArray): void {
  argc(arguments.length, 2, 'sodium_add')
  const [x, y] = sameLengthBytes(a, b)
  addInPlace(x, y, 0, 0)
}

/**
 * `a = (a - b) mod 2^(8 * length)`, little-endian, in place.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for an argument that is not a typed array; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {Error} `ERR_BUFFER_LENGTH_MISMATCH` (`buffers must be of same length`) when the two byte lengths differ
 * @example
 * ```js
 * import { sodium_sub } from '@tarsjs/sodium-allocator'
 * const a = Buffer.from([0x00, 0x02])
 * sodium_sub(a, Buffer.from([0x01, 0x00]))
 * console.log(a) // <Buffer ff 01>
 * ```
 */
export function sodium_sub(a: NodeJS.TypedArray, b: NodeJS.TypedArray): void {
  argc(arguments.length, 2, 'sodium_sub')
  const [x, y] = sameLengthBytes(a, b)
  // Two's complement: a - b is a + ~b + 1 modulo 2^(8 * length).
  addInPlace(x, y, 0xff, 1)
}
