// The registry of a higher layer's default allocators: what it holds is what
// was registered, per role, a later registration replaces an earlier one, and
// misuse is refused with a typed error before anything changes.
import { describe, expect, it } from 'vitest'
import { PageAllocator, SlotAllocator, registerDefaultAllocator, registeredDefaultAllocators } from '../src/index.js'

describe('registerDefaultAllocator / registeredDefaultAllocators', () => {
  it('starts empty, records each role separately, and the latest registration wins', () => {
    expect(registeredDefaultAllocators()).toEqual({ key: undefined, buf: undefined })
    const key = new PageAllocator()
    const buf = new SlotAllocator()
    registerDefaultAllocator('key', key)
    expect(registeredDefaultAllocators().key).toBe(key)
    expect(registeredDefaultAllocators().buf).toBeUndefined()
    registerDefaultAllocator('buf', buf)
    expect(registeredDefaultAllocators()).toEqual({ key, buf })
    const next = new PageAllocator()
    registerDefaultAllocator('key', next)
    expect(registeredDefaultAllocators().key).toBe(next)
    expect(registeredDefaultAllocators().buf).toBe(buf)
  })

  it('hands out a snapshot: changing it does not change the registry', () => {
    const snapshot = registeredDefaultAllocators() as { key: unknown }
    const before = snapshot.key
    snapshot.key = undefined
    expect(registeredDefaultAllocators().key).toBe(before)
  })

  it('refuses an unknown role and a value without stats(), leaving the registry as it was', () => {
    const before = registeredDefaultAllocators()
    const bad = (f: () => void, code: string, name: string) => expect(f).toThrow(expect.objectContaining({ code, name }))
    bad(() => registerDefaultAllocator('sodium' as 'key', new PageAllocator()), 'ERR_INVALID_ARG_VALUE', 'AllocError')
    for (const value of [null, undefined, 42, 'page', {}, { stats: 1 }]) {
      bad(() => registerDefaultAllocator('buf', value as never), 'ERR_INVALID_ARG_TYPE', 'TypeError')
    }
    expect(registeredDefaultAllocators()).toEqual(before)
  })
})
