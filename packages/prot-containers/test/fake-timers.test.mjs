// A user's tests may replace the global timers (fake timers that return plain
// ids, as Jest's legacy ones do). The containers' GC backstop schedules its
// work with node:timers, so making containers keeps working there.
import { afterEach, expect, it } from 'vitest'
import { pc } from './helpers.mjs'

const realSetImmediate = globalThis.setImmediate
afterEach(() => {
  globalThis.setImmediate = realSetImmediate
})
const turn = () => new Promise((resolve) => realSetImmediate(resolve))

it('containers work while the global setImmediate is replaced by one returning a number', async () => {
  await turn() // nothing pending: the next container schedules the backstop's batch anew
  let calls = 0
  globalThis.setImmediate = /** @type {any} */ (() => ++calls)
  const buf = pc.ProtBuf.alloc(16)
  const key = pc.ProtKey.random(16)
  expect(buf.byteLength).toBe(16)
  expect(key.read((bytes) => bytes.byteLength)).toBe(16)
  buf.dispose()
  key.dispose()
  expect(calls).toBe(0) // the fake was never asked
})
