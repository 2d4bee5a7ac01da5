/**
 * The typed error of `diagnose()`: thrown for arguments it cannot use, before
 * any check runs. Findings are never thrown: they are reported.
 */

/** Error codes thrown by `@tarsjs/doctor` (errors of os-memlock pass through unchanged). */
export type DoctorErrorCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE'

/**
 * The error `diagnose()` throws for an argument it cannot use, with a stable `code` (see `DoctorErrorCode`).
 * @example
 * ```js
 * import { diagnose } from '@tarsjs/doctor'
 * try {
 *   diagnose(['memlok'])
 * } catch (err) {
 *   console.log(err.code, err.name) // ERR_INVALID_ARG_VALUE DoctorError
 * }
 * ```
 */
export class DoctorError extends Error {
  readonly code: DoctorErrorCode
  /**
   * An error with `code`; its `name` is `TypeError` for `ERR_INVALID_ARG_TYPE` (as Node.js names it), `DoctorError` otherwise.
   * @throws nothing
   * @example
   * ```js
   * import { DoctorError } from '@tarsjs/doctor'
   * const err = new DoctorError('ERR_INVALID_ARG_TYPE', 'The "strict" argument must be of type boolean')
   * console.log(err.code, err.name, err instanceof Error) // ERR_INVALID_ARG_TYPE TypeError true
   * ```
   */
  constructor(code: DoctorErrorCode, message: string) {
    super(message)
    this.code = code
    this.name = code === 'ERR_INVALID_ARG_TYPE' ? 'TypeError' : 'DoctorError'
  }
}
