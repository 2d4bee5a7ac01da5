/**
 * How allocation handles print. A handle reaches the memory it describes (its
 * cached view, its page and the page's other handles), so `util.inspect`,
 * `console.log` and `JSON.stringify` of one show only a description.
 */
import { inspect } from 'node:util'

/** `util.inspect.custom`, re-exported so backends need not import node:util. */
export const inspectCustom: typeof inspect.custom = inspect.custom

/**
 * E.g. `SlotAllocation(32 bytes)` or `PageAllocation(32 bytes, freed)`.
 * @throws nothing
 * @example
 * ```js
 * import { describeHandle } from '@tarsjs/page-alloc'
 * console.log(describeHandle('MyAllocation', { byteLength: 32, freed: true })) // MyAllocation(32 bytes, freed)
 * ```
 */
export function describeHandle(kind: string, allocation: { readonly byteLength: number; readonly freed: boolean }): string {
  return `${kind}(${allocation.byteLength} bytes${allocation.freed ? ', freed' : ''})`
}

/**
 * E.g. `SlotAllocator(3 allocations, 96 bytes)`: counts only, never memory.
 * @throws nothing
 * @example
 * ```js
 * import { describeAllocator } from '@tarsjs/page-alloc'
 * console.log(describeAllocator('MyAllocator', { allocations: 3, bytes: 96 })) // MyAllocator(3 allocations, 96 bytes)
 * ```
 */
export function describeAllocator(kind: string, stats: { readonly allocations: number; readonly bytes: number }): string {
  return `${kind}(${stats.allocations} allocations, ${stats.bytes} bytes)`
}
