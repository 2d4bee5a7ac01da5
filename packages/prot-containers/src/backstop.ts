/**
 * The backstop for containers that were never disposed: when the garbage
 * collector reclaims one, its allocation is freed (and so wiped) here. This is
 * only a safety net — finalizers run late or never; `dispose()` wipes at once.
 * With leak warnings on, each such container is reported once.
 *
 * The held value is the allocation itself (it knows its allocator), so
 * tracking costs one registry cell and no extra object. Disposal does not
 * unregister: the callback sees `allocation.freed` and does nothing.
 *
 * Most containers are disposed soon after they are made. Registering each at
 * once would cost a registry cell per container, so new ones wait in `young`
 * (which keeps them alive) and are registered in a batch: on the next turn of
 * the event loop, or before every `YOUNG_LIMIT`-th new container. Those
 * disposed by then are never registered — nor remembered for `purge()`,
 * which promotes the young ones first (a Set entry saved per short-lived
 * container).
 */
// node:timers, not the global: fake timers in a user's tests replace only the global.
import { setImmediate } from 'node:timers'
import type { Allocation } from '@tarsjs/page-alloc'
import { remember, setYoungFlush } from './purge.js'

/** Warning code emitted for a container reclaimed without `dispose()`. */
export const WARN_LEAK = 'TARSJS_CONTAINER_LEAKED'
/** Warning code emitted when the backstop's free throws. */
export const WARN_BACKSTOP_FAILED = 'TARSJS_BACKSTOP_FAILED'

let leakWarnings = false
let reclaimed = 0

const registry = new FinalizationRegistry<Allocation>((allocation) => {
  if (allocation.freed) return
  try {
    allocation.allocator.free(allocation)
  } catch (err) {
    // An exception here would be uncaught and end the process; report it instead.
    const code = (err as { code?: string }).code ?? 'unknown'
    process.emitWarning(`tarsjs: the backstop could not free a ${allocation.byteLength}-byte container (${code})`, {
      type: 'TarsjsWarning',
      code: WARN_BACKSTOP_FAILED
    })
    return
  }
  reclaimed++
  if (leakWarnings) {
    process.emitWarning(
      `tarsjs: a ${allocation.byteLength}-byte container was garbage collected without dispose(); the backstop wiped and freed it`,
      { type: 'TarsjsWarning', code: WARN_LEAK }
    )
  }
})

/** Containers and their allocations, in pairs, made since the last promotion. */
const young: Array<object | Allocation> = []
const YOUNG_LIMIT = 16
let promotion: NodeJS.Immediate | undefined

/** Registers (and remembers for `purge()`) the young containers that are still undisposed. */
function promote(): void {
  for (let i = 0; i < young.length; i += 2) {
    const allocation = young[i + 1] as Allocation
    if (allocation.freed) continue
    registry.register(young[i] as object, allocation)
    remember(allocation)
  }
  young.length = 0
}
setYoungFlush(promote)

function onTurn(): void {
  promotion = undefined
  promote()
}

/** Registers a container so that its allocation is freed if it is collected undisposed. */
export function track(container: object, allocation: Allocation): void {
  if (young.length >= 2 * YOUNG_LIMIT) promote()
  young.push(container, allocation)
  if (promotion === undefined) {
    promotion = setImmediate(onTurn)
    promotion.unref()
  }
}

/**
 * Turns the leak warning on or off (off by default).
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for an argument that is not a boolean
 * @example
 * ```js
 * import { setLeakWarnings } from '@tarsjs/prot-containers'
 * setLeakWarnings(true) // in development: a TARSJS_LEAK warning for each container collected without dispose()
 * ```
 */
export function setLeakWarnings(enabled: boolean): void {
  if (typeof enabled !== 'boolean') {
    throw Object.assign(new TypeError('The "enabled" argument must be of type boolean'), { code: 'ERR_INVALID_ARG_TYPE' })
  }
  leakWarnings = enabled
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
  return reclaimed
}
