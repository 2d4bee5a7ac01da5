/**
 * ISO/IEC 7816-4 padding as libsodium's `sodium_pad` / `sodium_unpad`, with
 * sodium-native's argument checks: a 0x80 byte after the data, then zeros up to
 * the next multiple of the block size. Both run in time that depends only on
 * the block size, never on where the padding starts.
 *
 * One inherited behaviour to know: sodium-native ignores libsodium's error
 * result of `sodium_unpad`, so for a buffer whose last block holds no valid
 * padding it returns `padded_buflen - 1` rather than failing. That is kept
 * (code that switches imports must see the same results); check the byte at
 * the returned length (it must be 0x80) when the input is not trusted.
 */
import { argc, bytesOf, plainError, typedArray, uint32 } from './args.js'

/**
 * The arguments of `sodium_pad` and `sodium_unpad` as sodium-native checks
 * them: `buf`'s bytes, the length (named `lengthName` in errors) and the
 * block size, both within `buf`, the block size at least 1 (`blockTooSmall`
 * is the message for that, as it differs between the two functions).
 */
function paddingArgs(
  buf: NodeJS.TypedArray,
  length: number,
  lengthName: string,
  blocksize: number,
  blockTooSmall: string
): [Uint8Array, number, number] {
  const bytes = bytesOf(typedArray(buf, 'buf'))
  const n = uint32(length, lengthName)
  const block = uint32(blocksize, 'blocksize')
  if (n > bytes.length) throw plainError('ERR_OUT_OF_RANGE', 'unpadded length cannot exceed buffer length')
  if (block > bytes.length) throw plainError('ERR_OUT_OF_RANGE', 'block size cannot exceed buffer length')
  if (block < 1) throw plainError('ERR_OUT_OF_RANGE', blockTooSmall)
  return [bytes, n, block]
}

/**
 * Pads the first `unpadded_buflen` bytes of `buf` to a multiple of
 * `blocksize` in place and returns the padded length.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a `buf` that is not a typed array or a length that is not a number; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {Error} `ERR_OUT_OF_RANGE` for a length or block size beyond `buf`, a block size of 0, or a `buf` too short for the padded length
 * @example
 * ```js
 * import { sodium_pad } from '@tarsjs/sodium-allocator'
 * const buf = Buffer.alloc(16)
 * buf.write('hello')
 * const padded = sodium_pad(buf, 5, 8)
 * console.log(padded, buf.subarray(0, padded)) // 8 <Buffer 68 65 6c 6c 6f 80 00 00>
 * ```
 */
export function sodium_pad(buf: NodeJS.TypedArray, unpadded_buflen: number, blocksize: number): number {
  argc(arguments.length, 3, 'sodium_pad')
  // sodium-native's message for a block size of 0, missing space included.
  const [bytes, unpadded, block] = paddingArgs(buf, unpadded_buflen, 'unpadded_buflen', blocksize, 'block sizemust be at least 1 byte')
  const size = bytes.length
  // sodium-native computes this bound in 32-bit unsigned arithmetic.
  if (size < ((unpadded + (block - (unpadded % block))) >>> 0)) throw plainError('ERR_OUT_OF_RANGE', 'buf not long enough')

  const padLength = block - 1 - (unpadded % block)
  const last = unpadded + padLength
  if (last >= size) throw plainError('ERR_OUT_OF_RANGE', 'buf not long enough')
  let keep = 0
  for (let i = 0; i < block; i++) {
    const x = i ^ padLength
    // 0xff exactly at the barrier (i === padLength), 0 elsewhere, without a branch.
    const barrier = ~((x | -x) >> 31) & 0xff
    const at = last - i
    bytes[at] = ((bytes[at] as number) & keep) | (0x80 & barrier)
    keep |= barrier
  }
  return last + 1
}

/**
 * Returns the length of `buf`'s first `padded_buflen` bytes without their
 * padding. Invalid padding gives `padded_buflen - 1`, as in sodium-native (see
 * above). `padded_buflen` shorter than `blocksize` throws: sodium-native returns
 * an uninitialised value there.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a `buf` that is not a typed array or a length that is not a number; `ERR_MISSING_ARGS` for a wrong argument count
 * @throws {Error} `ERR_OUT_OF_RANGE` for a length or block size beyond `buf`, a block size of 0, or a `padded_buflen` shorter than `blocksize`
 * @example
 * ```js
 * import { sodium_pad, sodium_unpad } from '@tarsjs/sodium-allocator'
 * const buf = Buffer.alloc(16)
 * buf.write('hello')
 * const padded = sodium_pad(buf, 5, 8)
 * console.log(sodium_unpad(buf, padded, 8)) // 5
 * ```
 */
export function sodium_unpad(buf: NodeJS.TypedArray, padded_buflen: number, blocksize: number): number {
  argc(arguments.length, 3, 'sodium_unpad')
  const [bytes, padded, block] = paddingArgs(buf, padded_buflen, 'padded_buflen', blocksize, 'block size must be at least 1 byte')
  if (padded < block) throw plainError('ERR_OUT_OF_RANGE', 'padded length cannot be shorter than block size')

  const last = padded - 1
  let seen = 0
  let padLength = 0
  for (let i = 0; i < block; i++) {
    const c = bytes[last - i] as number
    // 1 exactly for the first non-zero byte from the end, when it is 0x80.
    const isBarrier = (((seen - 1) & (padLength - 1) & ((c ^ 0x80) - 1)) >> 8) & 1
    seen |= c
    padLength |= i & -isBarrier
  }
  return last - (padLength >>> 0)
}
