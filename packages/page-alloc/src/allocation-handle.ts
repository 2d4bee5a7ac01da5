/**
 * The base of allocation handles. A handle's whole state is one private field:
 * spread, `Object.entries`, `structuredClone`, `v8.serialize` and
 * `util.inspect(h, { customInspect: false })` see no memory, no region and no
 * view, and a copy of a handle (spread, `Object.create`) is never the handle.
 * Only the allocator that made a handle reads its state, through `handleState`.
 */
import type { Allocation, Allocator } from './allocator.js'
import { describeHandle, inspectCustom } from './redact.js'

/** What every handle's state holds; each allocator adds its own fields. */
export interface HandleState {
  readonly allocator: Allocator
  readonly byteLength: number
  freed: boolean
}

let stateOf: (handle: AllocationHandle<HandleState>) => HandleState
let isHandle: (value: unknown) => value is AllocationHandle<HandleState>

/**
 * The base class of allocation handles: `byteLength`, `allocator` and `freed` are public, the rest is private, so a handle never shows or copies the memory it describes. Backends extend it.
 * @example
 * ```js
 * import { SlotAllocator } from '@tarsjs/page-alloc'
 * const slots = new SlotAllocator()
 * const a = slots.alloc(32)
 * console.log({ ...a }, JSON.stringify(a)) // {} "SlotAllocation(32 bytes)"
 * slots.free(a)
 * ```
 */
export abstract class AllocationHandle<S extends HandleState> implements Allocation {
  readonly #state: S

  protected constructor(state: S) {
    this.#state = state
  }

  /** Exactly the requested length in bytes. */
  get byteLength(): number {
    return this.#state.byteLength
  }

  /** The allocator that made it (and the only one that accepts it). */
  get allocator(): S['allocator'] {
    return this.#state.allocator
  }

  /** True once freed. */
  get freed(): boolean {
    return this.#state.freed
  }

  /** Prints as e.g. `SlotAllocation(32 bytes)`, never the memory. */
  [inspectCustom](): string {
    return describeHandle(this.constructor.name, this)
  }

  /**
   * JSON shows a description such as `SlotAllocation(32 bytes)` or `PageAllocation(32 bytes, freed)`, never the memory.
   * @throws nothing
   * @example
   * ```js
   * import { PageAllocator } from '@tarsjs/page-alloc'
   * const pages = new PageAllocator()
   * const a = pages.alloc(16)
   * pages.free(a)
   * console.log(JSON.stringify(a)) // "PageAllocation(16 bytes, freed)"
   * ```
   */
  toJSON(): string {
    return describeHandle(this.constructor.name, this)
  }

  static {
    stateOf = (handle) => handle.#state
    isHandle = (value): value is AllocationHandle<HandleState> => typeof value === 'object' && value !== null && #state in value
  }
}

/**
 * @internal The state of `value` when it is a real handle of class `type`;
 * undefined for anything else (another class, a copy, a plain object). For
 * allocators only: it reaches the memory the handle describes.
 */
export function handleState<S extends HandleState>(value: unknown, type: abstract new (state: S) => AllocationHandle<S>): S | undefined {
  return isHandle(value) && value instanceof type ? (stateOf(value) as S) : undefined
}
