/**
 * Options of the container functions, read once.
 *
 * An options argument is an object or `undefined`; anything else is
 * `ERR_INVALID_ARG_TYPE` before any memory is touched. Each function reads
 * exactly the properties it uses, each one time, into a plain frozen record,
 * and checks them there: a getter on the options object runs once, before the
 * source is looked at or anything is allocated, and cannot change an answer
 * between a check and its use.
 */
import { ContainerError, checkLength } from './errors.js'

/** The options of `alloc`, `random`, `toKey`. */
export interface AllocChoices {
  readonly allocator: unknown
}

/** The options of `from`. */
export interface FromChoices extends AllocChoices {
  readonly wipeSource: boolean
}

/** The options of `fromFd`, `fromFile`, `fromStream`. */
export interface ReadChoices extends AllocChoices {
  readonly maxLength: number
}

/** Default upper bound on a secret read from a descriptor, file or stream: 64 KiB. */
export const DEFAULT_MAX_LENGTH = 65536

const NO_OPTIONS: Readonly<Record<string, unknown>> = Object.freeze({})

/** `options` itself: an object (any kind, functions excluded) or undefined. */
export function optionsObject(options: unknown): Readonly<Record<string, unknown>> {
  if (options === undefined) return NO_OPTIONS
  if (options === null || typeof options !== 'object') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object')
  }
  return options as Record<string, unknown>
}

/** No options given: one shared record, nothing allocated per call. */
const DEFAULT_ALLOC: AllocChoices = Object.freeze({ allocator: undefined })

/** Reads `allocator` once. */
export function allocOptions(options: unknown): AllocChoices {
  if (options === undefined) return DEFAULT_ALLOC
  const o = optionsObject(options)
  const allocator = o.allocator
  return Object.freeze({ allocator })
}

/** Reads `allocator` and `wipeSource` once each; `wipeSource` must be a boolean when given. */
export function fromOptions(options: unknown): FromChoices {
  const o = optionsObject(options)
  const allocator = o.allocator
  const wipeSource = o.wipeSource
  if (wipeSource !== undefined && typeof wipeSource !== 'boolean') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "wipeSource" option must be of type boolean')
  }
  return Object.freeze({ allocator, wipeSource: wipeSource === true })
}

/** Reads `allocator` and `maxLength` once each; `maxLength` is an integer from 1 to 2^30 (default 65536). */
export function readOptions(options: unknown): ReadChoices {
  const o = optionsObject(options)
  const allocator = o.allocator
  const maxLength = o.maxLength
  return Object.freeze({ allocator, maxLength: maxLength === undefined ? DEFAULT_MAX_LENGTH : checkLength(maxLength, 'maxLength') })
}

/** The options of `fromReaderUntil`. */
export interface ReadUntilChoices extends ReadChoices {
  readonly requireDelimiter: boolean
}

/** Reads `allocator`, `maxLength` and `requireDelimiter` once each; `requireDelimiter` must be a boolean when given. */
export function readUntilOptions(options: unknown): ReadUntilChoices {
  const o = optionsObject(options)
  const allocator = o.allocator
  const maxLength = o.maxLength
  const requireDelimiter = o.requireDelimiter
  if (requireDelimiter !== undefined && typeof requireDelimiter !== 'boolean') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "requireDelimiter" option must be of type boolean')
  }
  return Object.freeze({
    allocator,
    maxLength: maxLength === undefined ? DEFAULT_MAX_LENGTH : checkLength(maxLength, 'maxLength'),
    requireDelimiter: requireDelimiter === true
  })
}
