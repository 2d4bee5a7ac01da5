/**
 * The GC backstop: when the garbage collector reclaims an object that owns an
 * allocation (a container, a secure buffer) and the allocation was never
 * freed, it is freed (and so wiped) here. Only a safety net — finalizers run
 * late or never; freeing explicitly wipes at once.
 *
 * The held value is the allocation itself (it knows its allocator), so
 * tracking costs one registry cell and no extra object; the allocation is
 * also the unregister token. Most owners are released soon after they are
 * made, and registering each at once would cost a registry cell per owner and
 * grow V8's heap in tight allocate/free loops, so new owners wait in `young`
 * (which keeps them alive) and are registered in a batch: on the next turn of
 * the event loop, or before every `YOUNG_LIMIT`-th new owner. Those freed by
 * then are never registered.
 *
 * One error policy for a free that fails in the finalizer: an exception there
 * would be uncaught and end the process, so it becomes a `TarsjsWarning` with
 * code `TARSJS_BACKSTOP_FAILED`. Integrity failures (a corrupted canary) keep
 * their own policy: under `integrity: 'abort'` (the default) the allocator
 * aborts the process inside `free`; under `'throw'` the `ERR_INTEGRITY` error
 * is rethrown, never turned into a warning.
 */
// node:timers, not the global: fake timers in a user's tests replace only the global.
import { setImmediate } from 'node:timers'
import type { Allocation } from './allocator.js'
import { AllocError } from './errors.js'

/** Warning code emitted when a backstop's free throws (anything but an integrity failure). */
export const WARN_BACKSTOP_FAILED = 'TARSJS_BACKSTOP_FAILED'

const YOUNG_LIMIT = 16

let leakWarnings = false

/**
 * Turns leak warnings on or off for every backstop of this thread (off by default): each owner the backstop had
 * to free (a ProtBuf, ProtKey or SealedKey never disposed, a secure buffer never given to `sodium_free`) is then
 * reported once, as a `TarsjsWarning` with its backstop's code.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for an argument that is not a boolean
 * @example
 * ```js
 * import { setLeakWarnings } from '@tarsjs/page-alloc'
 * setLeakWarnings(true) // in development: a warning for each secret collected without being freed
 * setLeakWarnings(false)
 * ```
 */
export function setLeakWarnings(enabled: boolean): void {
  if (typeof enabled !== 'boolean') {
    throw Object.assign(new TypeError('The "enabled" argument must be of type boolean'), { code: 'ERR_INVALID_ARG_TYPE' })
  }
  leakWarnings = enabled
}

/** Options of a `Backstop`. */
export interface BackstopOptions {
  /** What an owner is called in warnings, e.g. `'container'`. */
  readonly kind: string
  /** How an owner should have been released, for the leak warning, e.g. `'dispose()'`. */
  readonly release: string
  /** Code of the leak warning, e.g. `'TARSJS_CONTAINER_LEAKED'`. */
  readonly leakCode: string
  /** Frees the allocation of an owner that was collected. Default: `allocation.allocator.free(allocation)`. */
  readonly free?: (allocation: Allocation) => void
  /**
   * Called for each young owner still live when it is registered; `false` leaves it unregistered (its
   * allocation then is the caller's to free). For bookkeeping such as remembering it for a purge.
   */
  readonly onRegister?: (owner: object, allocation: Allocation) => boolean
}

function freeByAllocator(allocation: Allocation): void {
  allocation.allocator.free(allocation)
}

/**
 * Frees the allocation of an owner object that was garbage collected without being freed (a safety net;
 * finalizers run late or never). A free that fails in the finalizer is reported as a `TarsjsWarning`
 * (`TARSJS_BACKSTOP_FAILED`), never thrown; integrity failures keep the allocator's policy.
 * @example
 * ```js
 * import { Backstop, PageAllocator } from '@tarsjs/page-alloc'
 * const pages = new PageAllocator()
 * const backstop = new Backstop({ kind: 'secret', release: 'close()', leakCode: 'MY_SECRET_LEAKED' })
 * const secret = { allocation: pages.alloc(32) }
 * backstop.track(secret, secret.allocation) // freed when `secret` is collected, unless freed before
 * pages.free(secret.allocation)
 * ```
 */
export class Backstop {
  readonly #kind: string
  readonly #release: string
  readonly #leakCode: string
  readonly #free: (allocation: Allocation) => void
  readonly #onRegister: ((owner: object, allocation: Allocation) => boolean) | undefined
  readonly #registry: FinalizationRegistry<Allocation>
  /** Owners and their allocations, in pairs, tracked since the last promotion. */
  readonly #young: Array<object | Allocation> = []
  #promotion: NodeJS.Immediate | undefined
  #reclaimed = 0

  /**
   * A backstop for one kind of owner.
   * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for options that are not an object, a `kind`, `release` or `leakCode` that is not a non-empty string, or a `free` / `onRegister` that is not a function
   * @example
   * ```js
   * import { Backstop } from '@tarsjs/page-alloc'
   * const backstop = new Backstop({ kind: 'secret', release: 'close()', leakCode: 'MY_SECRET_LEAKED' })
   * console.log(backstop.reclaimed) // 0
   * ```
   */
  constructor(options: BackstopOptions) {
    if (typeof options !== 'object' || options === null) throw invalid('The "options" argument must be of type object')
    const { kind, release, leakCode, free, onRegister } = options
    for (const [name, value] of [['kind', kind], ['release', release], ['leakCode', leakCode]] as const) {
      if (typeof value !== 'string' || value === '') throw invalid(`The "${name}" option must be a non-empty string`)
    }
    if (free !== undefined && typeof free !== 'function') throw invalid('The "free" option must be a function')
    if (onRegister !== undefined && typeof onRegister !== 'function') throw invalid('The "onRegister" option must be a function')
    this.#kind = kind
    this.#release = release
    this.#leakCode = leakCode
    this.#free = free ?? freeByAllocator
    this.#onRegister = onRegister
    this.#registry = new FinalizationRegistry((allocation) => this.#reclaim(allocation))
  }

  /**
   * Frees `allocation` if `owner` is collected while it is still live. Costs nothing more when the allocation is
   * freed before the next turn of the event loop.
   * @throws nothing
   * @example
   * ```js
   * import { Backstop, SlotAllocator } from '@tarsjs/page-alloc'
   * const slots = new SlotAllocator()
   * const backstop = new Backstop({ kind: 'token', release: 'revoke()', leakCode: 'MY_TOKEN_LEAKED' })
   * const token = { allocation: slots.alloc(16) }
   * backstop.track(token, token.allocation)
   * slots.free(token.allocation) // freed by its owner: the backstop does nothing more
   * ```
   */
  track(owner: object, allocation: Allocation): void {
    const young = this.#young
    if (young.length >= 2 * YOUNG_LIMIT) this.promote()
    young.push(owner, allocation)
    if (this.#promotion === undefined) {
      this.#promotion = setImmediate(() => {
        this.#promotion = undefined
        this.promote()
      })
      this.#promotion.unref()
    }
  }

  /**
   * Registers now the owners tracked since the last turn of the event loop whose allocations are still live
   * (normally done on the next turn): for a purge that must see every one of them.
   * @throws nothing itself; what `onRegister` throws passes through (the batch is dropped from the young list either way)
   * @example
   * ```js
   * import { Backstop, PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const seen = []
   * const backstop = new Backstop({ kind: 'secret', release: 'close()', leakCode: 'MY_SECRET_LEAKED', onRegister: (owner, a) => seen.push(a) > 0 })
   * const secret = { allocation: pages.alloc(8) }
   * backstop.track(secret, secret.allocation)
   * backstop.promote()
   * console.log(seen.length) // 1
   * pages.free(secret.allocation)
   * ```
   */
  promote(): void {
    const young = this.#young
    try {
      for (let i = 0; i < young.length; i += 2) {
        const owner = young[i] as object
        const allocation = young[i + 1] as Allocation
        if (allocation.freed) continue
        if (this.#onRegister !== undefined && !this.#onRegister(owner, allocation)) continue
        this.#registry.register(owner, allocation, allocation)
      }
    } finally {
      young.length = 0
    }
  }

  /**
   * Forgets a registered allocation (its owner freed it, or will): the finalizer will not see it.
   * @throws nothing
   * @example
   * ```js
   * import { Backstop, PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const backstop = new Backstop({ kind: 'secret', release: 'close()', leakCode: 'MY_SECRET_LEAKED' })
   * const secret = { allocation: pages.alloc(8) }
   * backstop.track(secret, secret.allocation)
   * backstop.promote()
   * backstop.untrack(secret.allocation)
   * pages.free(secret.allocation)
   * ```
   */
  untrack(allocation: Allocation): void {
    this.#registry.unregister(allocation)
  }

  /**
   * What the finalizer does, for an owner known to be collected before the finalizer ran (seen through a
   * `WeakRef`): unregisters the allocation and frees it if it is still live, under the backstop's error policy.
   * @throws {AllocError} `ERR_INTEGRITY` from the allocator's free under `integrity: 'throw'`; any other failure to free is a `TARSJS_BACKSTOP_FAILED` warning
   * @example
   * ```js
   * import { Backstop, PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const backstop = new Backstop({ kind: 'secret', release: 'close()', leakCode: 'MY_SECRET_LEAKED' })
   * const ref = new WeakRef({ allocation: pages.alloc(8) })
   * const allocation = ref.deref().allocation
   * // ...later, ref.deref() === undefined:
   * backstop.collected(allocation)
   * console.log(allocation.freed, backstop.reclaimed) // true 1
   * ```
   */
  collected(allocation: Allocation): void {
    this.#registry.unregister(allocation)
    this.#reclaim(allocation)
  }

  /**
   * How many allocations this backstop has freed.
   * @throws nothing
   */
  get reclaimed(): number {
    return this.#reclaimed
  }

  #reclaim(allocation: Allocation): void {
    if (allocation.freed) return
    try {
      this.#free(allocation)
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code
      // A corrupted canary is not a failed free: the allocator's integrity policy decides (abort, or throw).
      if (code === 'ERR_INTEGRITY') throw err
      process.emitWarning(`tarsjs: the backstop could not free a ${allocation.byteLength}-byte ${this.#kind} (${typeof code === 'string' ? code : 'unknown'})`, {
        type: 'TarsjsWarning',
        code: WARN_BACKSTOP_FAILED
      })
      return
    }
    this.#reclaimed++
    if (leakWarnings) {
      process.emitWarning(
        `tarsjs: a ${allocation.byteLength}-byte ${this.#kind} was garbage collected without ${this.#release}; the backstop wiped and freed it`,
        { type: 'TarsjsWarning', code: this.#leakCode }
      )
    }
  }
}

function invalid(message: string): AllocError {
  return new AllocError('ERR_INVALID_ARG_TYPE', message)
}
