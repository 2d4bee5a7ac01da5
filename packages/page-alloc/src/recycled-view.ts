/**
 * Recycled views of slots. Freeing a slot must take its memory away from
 * whoever holds the view; the plain way is the addon's `detach()`, and the
 * next allocation of the slot then needs a new external ArrayBuffer from
 * `view()`: two Node-API calls and a finalizer, about 2 µs together.
 *
 * `ArrayBuffer.prototype.transfer()` (Node.js 22 and later) does the first
 * half in a quarter of that: it detaches the ArrayBuffer the caller holds
 * (every typed array over it gets length 0, exactly as `detach()` does) and
 * returns a new ArrayBuffer over the same memory, which nobody else has. The
 * slot allocator keeps that one as the slot's *spare* while the slot is
 * quarantined and free, and hands it out as the slot's view at its next
 * allocation of the same length; no Node-API call at all on that path.
 *
 * What keeps this as safe as `detach()`:
 * - The spare is held only by the allocator, in private state: no JavaScript
 *   can reach it until it is handed out as the view of a new allocation.
 * - The slot is wiped before the transfer, so even a runtime that copied on
 *   transfer would copy zeros; and one that does is found by `recycles()` below
 *   at first use (a write through the new ArrayBuffer must show in the slot),
 *   and then nothing is recycled.
 * - A spare lives only while its page is read-write: a page that retires
 *   detaches its spares (through the addon's `detach()`) before its memory
 *   is made inaccessible, and a slot whose view escaped has none.
 * - `transfer` is read from `ArrayBuffer.prototype` when this module loads, so
 *   replacing it later changes nothing here; nor does replacing any other
 *   built-in later: no user-replaceable code ever runs with a spare or with the
 *   probe's buffers (no `byteLength` getter, no global `Uint8Array`, no array
 *   element setter or iterator; see `Spares`).
 * - Only in the main thread of Node.js: at a worker's teardown the addon keeps
 *   (pins) a region that has more views alive than it handed out, and a spare
 *   is such a view; in the main thread teardown is the process's exit. Bun and
 *   Deno get the plain path, as does the unprotected development mode.
 */
import os = require('@tarsjs/os-memlock')
import { isMainThread } from 'node:worker_threads'

type Transfer = (this: ArrayBuffer) => ArrayBuffer
const transferOf: Transfer | undefined = (ArrayBuffer.prototype as { transfer?: Transfer }).transfer
// Bound to the `call` of this moment: calling it allocates nothing and runs no replaced built-in.
const transferCall: ((view: ArrayBuffer) => ArrayBuffer) | undefined =
  transferOf === undefined ? undefined : (Function.prototype.call.bind(transferOf) as (view: ArrayBuffer) => ArrayBuffer)
const U8: Uint8ArrayConstructor = Uint8Array
const runtimeIsNode: boolean =
  typeof process.versions.bun !== 'string' && typeof process.versions.deno !== 'string'

let verdict: boolean | undefined

/**
 * Whether slots recycle their views here: Node.js with `transfer()`, the main
 * thread, protected memory, and a transfer seen (once, on a page of its own)
 * to keep the memory in place rather than copy it.
 */
export function recycles(): boolean {
  if (verdict === undefined) verdict = probe()
  return verdict
}

function probe(): boolean {
  if (transferCall === undefined || !isMainThread || !runtimeIsNode || os.unprotectedDevelopmentMode()) return false
  let region: os.Region
  try {
    region = os.map(os.pageSize())
  } catch {
    // No page for the probe (ENOMEM near vm.max_map_count): no recycling in this process, and the
    // call that asked (an alloc or a free) goes on as before.
    return false
  }
  try {
    const moved = takeBack(os.view(region, 0, 16))
    new U8(moved)[5] = 0xa5
    const check = os.view(region, 0, 16)
    const inPlace = new U8(check)[5] === 0xa5
    os.detach(check)
    os.detach(moved)
    return inPlace
  } catch {
    return false
  } finally {
    os.unmap(region)
  }
}

/**
 * A page's spares, by slot index: an array with an own element for every slot
 * from the start (null when the slot has no spare). Storing into a missing
 * element of an array consults `Array.prototype`, where code that ran after
 * load may have put an accessor for that index (it would receive the spare,
 * which then is never detached); an element that exists is written in place.
 * `Array.from` (read at load) defines each element without a store, and the
 * store is only read, written by index and walked with a counted loop (never
 * with the replaceable `Array.prototype[Symbol.iterator]`).
 */
export type Spares = (ArrayBuffer | null)[]

const arrayFrom: typeof Array.from = Array.from
const none = (): null => null

/** A store of `slots` empty spares (see `Spares`). */
export function spareStore(slots: number): Spares {
  return arrayFrom({ length: slots }, none)
}

/**
 * Takes `view` (a view this allocator handed out, not escaped, over memory
 * already wiped) away from its holders and returns the spare over the same
 * memory. Call only when `recycles()` is true.
 */
export function takeBack(view: ArrayBuffer): ArrayBuffer {
  return (transferCall as (view: ArrayBuffer) => ArrayBuffer)(view)
}
