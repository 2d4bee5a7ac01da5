/**
 * The caller's side of `copyOut` / `copyIn`: a Uint8Array checked and copied
 * with the intrinsics captured when this module loads, so that no code of the
 * caller runs during a copy. A subclass may override `byteLength`, `set` or
 * `buffer`, and a Proxy can trap every read: a getter that ran between the
 * allocator's checks and the copy could free the slot and hand it to another
 * secret, and a `set` of the caller's would be given the allocator's own view
 * of the page. Proxies are refused (`util.types.isUint8Array` sees through
 * them); lengths are read with %TypedArray%'s own getter; bytes move with
 * %TypedArray%'s own `set`, which reads a typed array source by its internal
 * slots, never through getters. The functions and the Uint8Array
 * constructor used here are the ones found at load, not whatever a global
 * or `util.types` holds at the time of a copy.
 */
import { types } from 'node:util'
import { AllocError } from './errors.js'

const IntrinsicUint8Array = Uint8Array
const apply = Reflect.apply
const isUint8Array = types.isUint8Array
const typedArrayPrototype: object = Object.getPrototypeOf(Uint8Array.prototype) as object
const byteLengthGetter = (Object.getOwnPropertyDescriptor(typedArrayPrototype, 'byteLength') as PropertyDescriptor).get as () => number
const intrinsicSet = (Object.getOwnPropertyDescriptor(typedArrayPrototype, 'set') as PropertyDescriptor).value as (source: ArrayLike<number>, offset?: number) => void

/** Checks a copyOut target or copyIn source: a real Uint8Array (not a Proxy) of exactly the allocation's length. */
export function checkCopyBuffer(bytes: unknown, byteLength: number, name: string): asserts bytes is Uint8Array {
  if (!isUint8Array(bytes)) {
    throw new AllocError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be a Uint8Array`)
  }
  const length = apply(byteLengthGetter, bytes, []) as number
  if (length !== byteLength) {
    throw new AllocError('ERR_INVALID_ARG_VALUE', `The "${name}" argument must be ${byteLength} bytes long (the allocation's length). Received ${length}`)
  }
}

/** `target.set(source)` with the intrinsic `set`: for Uint8Arrays that `checkCopyBuffer` accepted, or made by the allocator. */
export function copyBytes(target: Uint8Array, source: Uint8Array): void {
  apply(intrinsicSet, target, [source])
}

/** `length` bytes of the allocator's own `buffer` from `offset`, made with the intrinsic constructor. */
export function bytesOf(buffer: ArrayBuffer, offset: number, length: number): Uint8Array {
  return new IntrinsicUint8Array(buffer, offset, length)
}
