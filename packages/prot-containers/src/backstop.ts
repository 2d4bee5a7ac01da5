/**
 * The backstop for containers that were never disposed: page-alloc's GC
 * `Backstop`, which frees (and so wipes) a container's allocation when the
 * garbage collector reclaims the container. Only a safety net — finalizers run
 * late or never; `dispose()` wipes at once. With leak warnings on, each such
 * container is reported once (`TARSJS_CONTAINER_LEAKED`).
 *
 * Containers are registered in batches (see page-alloc's backstop): those
 * disposed in the turn they were made are never registered — nor remembered
 * for `purge()`, which promotes the young ones first.
 */
import { Backstop, setLeakWarnings as setBackstopLeakWarnings } from '@tarsjs/page-alloc'
import type { Allocation } from '@tarsjs/page-alloc'
import { remember, setYoungFlush } from './purge.js'

export { WARN_BACKSTOP_FAILED } from '@tarsjs/page-alloc'

/** Warning code emitted for a container reclaimed without `dispose()`. */
export const WARN_LEAK = 'TARSJS_CONTAINER_LEAKED'

const backstop = new Backstop({
  kind: 'container',
  release: 'dispose()',
  leakCode: WARN_LEAK,
  onRegister: (_container, allocation) => {
    remember(allocation)
    return true
  }
})
setYoungFlush(() => backstop.promote())

/** Registers a container so that its allocation is freed if it is collected undisposed. */
export function track(container: object, allocation: Allocation): void {
  backstop.track(container, allocation)
}

/**
 * Turns leak warnings on or off (off by default): page-alloc's switch for every GC backstop of this thread, so
 * secure buffers of `@tarsjs/sodium-allocator` are reported too (`TARSJS_SECURE_BUFFER_LEAKED`).
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for an argument that is not a boolean
 * @example
 * ```js
 * import { setLeakWarnings } from '@tarsjs/prot-containers'
 * setLeakWarnings(true) // in development: a TARSJS_CONTAINER_LEAKED warning for each container collected without dispose()
 * setLeakWarnings(false)
 * ```
 */
export function setLeakWarnings(enabled: boolean): void {
  setBackstopLeakWarnings(enabled)
}

/**
 * How many containers the backstop has freed in this thread.
 * @throws nothing
 * @example
 * ```js
 * import { reclaimedCount } from '@tarsjs/prot-containers'
 * console.log(reclaimedCount()) // 0: no container was left to the garbage collector yet
 * ```
 */
export function reclaimedCount(): number {
  return backstop.reclaimed
}
