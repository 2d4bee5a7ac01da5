// A user's tests may replace the global timers (fake timers that return plain
// ids, as Jest's legacy ones do). sodium_malloc schedules its GC backstop's
// batches with node:timers, so it keeps working there.
import { afterEach, expect, it } from 'vitest'
import { ours } from './helpers.js'

const realSetImmediate = globalThis.setImmediate
afterEach(() => {
  globalThis.setImmediate = realSetImmediate
})
const turn = () => new Promise((resolve) => realSetImmediate(resolve))

it('sodium_malloc works while the global setImmediate is replaced by one returning a number', async () => {
  await turn() // nothing pending: the next buffer schedules the backstop's batch anew
  let calls = 0
  globalThis.setImmediate = (() => ++calls) as unknown as typeof setImmediate
  const buf = ours.sodium_malloc(32)
  expect(buf.secure).toBe(true)
  ours.sodium_free(buf)
  expect(calls).toBe(0) // the fake was never asked
})
