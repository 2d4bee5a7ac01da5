/**
 * Typed errors of the containers. Every error has a stable `code`; misuse
 * throws before any memory is touched and leaves the container usable.
 */

/** Error codes thrown by `@tarsjs/prot-containers` (allocator codes pass through unchanged). */
export type ContainerErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_DISPOSED'
  | 'ERR_WINDOW_CONFLICT'
  | 'ERR_WINDOW_OPEN'
  | 'ERR_WINDOW_CLOSED'
  | 'ERR_ASYNC_CALLBACK'
  | 'ERR_ALIGNMENT'
  | 'ERR_NOT_ISOLATED'
  | 'ERR_SECRET_TOO_LONG'
  | 'ERR_SEALED_KEY_TAMPERED'
  | 'ERR_SODIUM_UNAVAILABLE'

export class ContainerError extends Error {
  readonly code: ContainerErrorCode
  constructor(code: ContainerErrorCode, message: string) {
    super(message)
    this.code = code
    this.name = code === 'ERR_INVALID_ARG_TYPE' ? 'TypeError' : code === 'ERR_OUT_OF_RANGE' ? 'RangeError' : 'ContainerError'
  }
}

/** A byte length for a container: an integer from 1 to 2^30. */
export function checkLength(value: unknown, name = 'length'): number {
  if (typeof value !== 'number') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type number`)
  }
  if (!Number.isInteger(value) || value < 1 || value > 2 ** 30) {
    throw new ContainerError('ERR_OUT_OF_RANGE', `The value of "${name}" must be an integer from 1 to 2^30. Received ${String(value)}`)
  }
  return value
}

/** Options must be undefined or a plain object. */
const NO_OPTIONS = Object.freeze({})

export function checkOptions<T extends object>(options: unknown): Partial<T> {
  if (options === undefined) return NO_OPTIONS
  if (options === null || typeof options !== 'object') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object')
  }
  return options as Partial<T>
}

/** A function argument. */
export function checkFunction(value: unknown, name: string): void {
  if (typeof value !== 'function') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type function`)
  }
}

/** Source bytes: an ArrayBufferView or ArrayBuffer, never a string. Returns a byte view of exactly its bytes. */
export function sourceBytes(source: unknown): Uint8Array {
  // A detached buffer (e.g. a view kept past its window) holds no bytes; a view over it cannot even be constructed.
  if (ArrayBuffer.isView(source)) {
    if (source.buffer.byteLength === 0) return new Uint8Array(0)
    return new Uint8Array(source.buffer, source.byteOffset, source.byteLength)
  }
  if (source instanceof ArrayBuffer) return source.byteLength === 0 ? new Uint8Array(0) : new Uint8Array(source)
  const got = typeof source === 'string' ? 'a string (secrets must not pass through strings)' : `type ${typeof source}`
  throw new ContainerError('ERR_INVALID_ARG_TYPE', `The "source" argument must be an ArrayBufferView or ArrayBuffer, got ${got}`)
}
