/**
 * Source bytes, taken without running any of the caller's code.
 *
 * A typed array or DataView may carry its own `buffer`, `byteOffset` or
 * `byteLength` getters (on the object or a subclass), and a getter is code
 * that can change the source while we look at it. The built-in getters are
 * captured when this module loads and called directly instead.
 *
 * `sourceBytes` returns a fixed-length `Uint8Array` over exactly the source's
 * bytes at that moment. Resizable `ArrayBuffer`s and growable
 * `SharedArrayBuffer`s are accepted: the range is fixed when the source is
 * taken. Code that runs after that (an allocator's methods) may shrink or
 * detach the buffer; `copyInto` checks the range right before it copies and
 * throws `ERR_SOURCE_CHANGED` instead of copying fewer bytes.
 */
import os = require('@tarsjs/os-memlock')
import type { Allocation, Allocator } from '@tarsjs/page-alloc'
import { ContainerError, checkLength } from './errors.js'

type Getter = (this: unknown) => unknown

function getter(proto: object, name: string | symbol): Getter {
  const descriptor = Object.getOwnPropertyDescriptor(proto, name)
  if (descriptor?.get === undefined) throw new Error(`No built-in getter ${String(name)}`)
  return descriptor.get as Getter
}

const TYPED_ARRAY_PROTOTYPE: object = Object.getPrototypeOf(Uint8Array.prototype)
const typedArrayTag = getter(TYPED_ARRAY_PROTOTYPE, Symbol.toStringTag)
const typedArrayBuffer = getter(TYPED_ARRAY_PROTOTYPE, 'buffer')
const typedArrayOffset = getter(TYPED_ARRAY_PROTOTYPE, 'byteOffset')
const typedArrayLength = getter(TYPED_ARRAY_PROTOTYPE, 'byteLength')
const dataViewBuffer = getter(DataView.prototype, 'buffer')
const dataViewOffset = getter(DataView.prototype, 'byteOffset')
const dataViewLength = getter(DataView.prototype, 'byteLength')
const arrayBufferLength = getter(ArrayBuffer.prototype, 'byteLength')
const sharedArrayBufferLength = getter(SharedArrayBuffer.prototype, 'byteLength')
const isView = ArrayBuffer.isView

const EMPTY = new Uint8Array(0)

/** True for any typed array (never calls the value's own code). */
function isTypedArray(value: unknown): boolean {
  return typedArrayTag.call(value) !== undefined
}

/** The byte length of an ArrayBuffer (0 when detached) or a SharedArrayBuffer, or -1 when `value` is neither. */
function arrayBufferBytes(value: unknown): number {
  for (const length of [arrayBufferLength, sharedArrayBufferLength]) {
    try {
      return length.call(value) as number
    } catch {
      // not this kind of buffer
    }
  }
  return -1
}

/** A view over a DataView's bytes; empty when it is detached or out of bounds. */
function dataViewBytes(view: unknown): Uint8Array {
  let length: number
  try {
    length = dataViewLength.call(view) as number
  } catch {
    return EMPTY // a DataView over a detached or shrunk buffer has no bytes
  }
  if (length === 0) return EMPTY
  return new Uint8Array(dataViewBuffer.call(view) as ArrayBufferLike, dataViewOffset.call(view) as number, length)
}

/**
 * Source bytes: an ArrayBufferView, ArrayBuffer or SharedArrayBuffer, never a string. Returns a
 * fixed-length byte view of exactly its bytes (empty when detached).
 */
export function sourceBytes(source: unknown): Uint8Array {
  if (isTypedArray(source)) {
    const length = typedArrayLength.call(source) as number // 0 when detached or out of bounds
    if (length === 0) return EMPTY
    return new Uint8Array(typedArrayBuffer.call(source) as ArrayBufferLike, typedArrayOffset.call(source) as number, length)
  }
  if (isView(source)) return dataViewBytes(source)
  const length = arrayBufferBytes(source)
  if (length === 0) return EMPTY
  if (length > 0) return new Uint8Array(source as ArrayBufferLike, 0, length)
  const got = typeof source === 'string' ? 'a string (secrets must not pass through strings)' : `type ${typeof source}`
  throw new ContainerError('ERR_INVALID_ARG_TYPE', `The "source" argument must be an ArrayBufferView or ArrayBuffer, got ${got}`)
}

/**
 * Copies `from` into `into` (the same length). Throws `ERR_SOURCE_CHANGED` when
 * `from` no longer has `length` bytes: its buffer was shrunk or detached by
 * code that ran after the source was taken. Nothing runs between this check
 * and the copy.
 */
export function copyInto(from: Uint8Array, into: Uint8Array, length: number): void {
  if ((typedArrayLength.call(from) as number) !== length || (typedArrayLength.call(into) as number) !== length) {
    throw new ContainerError('ERR_SOURCE_CHANGED', 'The source was resized or detached while it was being copied')
  }
  into.set(from)
}

/**
 * A new allocation from `allocator` holding a copy of the source bytes; with
 * `wipeSource`, the source is wiped after the copy. On any failure the
 * allocation is freed and the source is left as it was.
 */
export function allocCopy(allocator: Allocator, source: unknown, wipeSource: boolean): Allocation {
  const from = sourceBytes(source)
  const length = checkLength(from.byteLength, 'source.byteLength')
  // The allocator's alloc and view are the last code not ours that runs before the copy.
  const allocation = allocator.alloc(length)
  try {
    copyInto(from, new Uint8Array(allocator.view(allocation)), length)
    // Throws ERR_REGION_PROTECTED for a read-only source (a view of an allocation protected 'read', say).
    if (wipeSource) os.wipe(from)
  } catch (err) {
    allocator.free(allocation)
    throw err
  }
  return allocation
}
