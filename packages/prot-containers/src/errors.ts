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
  | 'ERR_SOURCE_CHANGED'
  | 'ERR_ILLEGAL_CONSTRUCTOR'
  | 'ERR_SEALED_KEY_TAMPERED'
  | 'ERR_SODIUM_UNAVAILABLE'
  | 'ERR_SEALING_KEY_EXHAUSTED'
  | 'ERR_VIEW_ESCAPED'
  | 'ERR_UNEXPECTED_EOF'
  | 'ERR_NOT_A_TTY'
  | 'ERR_PROMPT_CANCELLED'
  | 'ERR_WINDOW_TIMEOUT'
  | 'ERR_SECRET_COERCION'
  | 'ERR_INVALID_KEY_DATA'
  | 'ERR_UNSUPPORTED_KEY_FORMAT'

/**
 * The error every misuse of a container throws, with a stable `code` (see `ContainerErrorCode`). It is thrown before any memory is touched and leaves the container usable.
 * @example
 * ```js
 * import { ProtBuf } from '@tarsjs/prot-containers'
 * try {
 *   ProtBuf.alloc(0)
 * } catch (err) {
 *   console.log(err.code, err.name) // ERR_OUT_OF_RANGE RangeError
 * }
 * ```
 */
export class ContainerError extends Error {
  readonly code: ContainerErrorCode
  /**
   * An error with `code`; its `name` is `TypeError` or `RangeError` for the codes Node.js gives those classes, `ContainerError` otherwise.
   * @throws nothing
   * @example
   * ```js
   * import { ContainerError } from '@tarsjs/prot-containers'
   * const err = new ContainerError('ERR_DISPOSED', 'ProtKey has been disposed')
   * console.log(err.code, err.name, err instanceof Error) // ERR_DISPOSED ContainerError true
   * ```
   */
  constructor(code: ContainerErrorCode, message: string) {
    super(message)
    this.code = code
    this.name = code === 'ERR_INVALID_ARG_TYPE' || code === 'ERR_ILLEGAL_CONSTRUCTOR' ? 'TypeError' : code === 'ERR_OUT_OF_RANGE' ? 'RangeError' : 'ContainerError'
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

/** A function argument. */
export function checkFunction(value: unknown, name: string): void {
  if (typeof value !== 'function') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type function`)
  }
}
