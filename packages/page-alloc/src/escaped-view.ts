/**
 * Escaped views. An allocator keeps every ArrayBuffer it hands out and is the
 * only one that detaches it. A tracked view found detached means someone else
 * detached it: `ArrayBuffer.prototype.transfer()` or `transferToFixedLength()`
 * (Node 22+), `structuredClone`/`postMessage` with a transfer list, or
 * `os-memlock`'s `detach()`. The first three move the memory into a new
 * ArrayBuffer the allocator cannot see or detach, and JavaScript cannot tell
 * them from the last, so every such view counts as escaped: its memory is
 * wiped on free and never reused, made inaccessible or unmapped by the allocator.
 */
import { AllocError } from './errors.js'
import { WARN_ESCAPED_VIEW } from './policy.js'
import type { Warner } from './policy.js'

// Read once at load: a `byteLength` getter put on ArrayBuffer.prototype later
// would otherwise run with every view being checked (and could transfer it away
// and still answer its old length).
// The getter is bound to the `call` of that moment, so calling it allocates nothing.
const byteLengthGetter = (Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength') as PropertyDescriptor).get as (
  this: ArrayBuffer
) => number

/** `buffer.byteLength` through the getter ArrayBuffer.prototype had when this module loaded: runs no user code. */
export const byteLengthOf: (buffer: ArrayBuffer) => number = Function.prototype.call.bind(byteLengthGetter) as (buffer: ArrayBuffer) => number

/** True when `view` (a tracked view of at least one byte) was detached by someone else. */
export function escaped(view: ArrayBuffer | null | undefined): boolean {
  return view != null && byteLengthOf(view) === 0
}

/** Reports an escaped view: one `TARSJS_ESCAPED_VIEW` warning per allocator. */
export function warnEscaped(warner: Warner, bytes: number): void {
  warner.warn(
    WARN_ESCAPED_VIEW,
    `tarsjs: a view of ${bytes} protected bytes was detached outside the allocator (transfer(), a transfer list or detach()); ` +
      'that memory is wiped and never reused. See stats().escapedBytes'
  )
}

/** The error `view()` throws once an allocation's view escaped. */
export function escapedViewError(): AllocError {
  return new AllocError(
    'ERR_VIEW_ESCAPED',
    'The allocation\'s view was detached outside the allocator (transfer(), a transfer list or detach()); it has no view any more. Free it.'
  )
}
