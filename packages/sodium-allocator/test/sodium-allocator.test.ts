// SodiumAllocator as an Allocator backend: libsodium's layout for any
// container, its options, and what it reports.
import { describe, expect, it } from 'vitest'
import { PAGE, expectCode, kernel, ours } from './helpers.js'

describe('SodiumAllocator', () => {
  it('puts the data at the end of its pages with a 16-byte canary before it', () => {
    const a = new ours.SodiumAllocator()
    const x = a.alloc(40)
    const bytes = new Uint8Array(a.view(x))
    const marker = Buffer.from('SodiumAllocator layout marker, 40 bytes!')
    bytes.set(marker)
    const at = kernel.findBytes(marker)!
    const { vma, after, before } = kernel.around(at)!
    expect([at + 40n, after?.perms, before?.perms, vma.flags.has('dd'), vma.flags.has('lo')]).toEqual([vma.end, '---p', '---p', true, true])
    expect(a.capabilities).toEqual({ protect: true, alignment: 1 })
    expect([ours.CANARY_BYTES, ours.GARBAGE_BYTE]).toEqual([16, 0xdb])
    a.free(x)
    // Freed: wiped and quarantined (still mapped, readable zeros); trim unmaps only the cache.
    a.trim()
    expect(a.stats()).toMatchObject({ allocations: 0, mappings: 1, cachedPages: 0, quarantinedBytes: PAGE })
  })

  it('detaches views on protect(none) through the Allocator interface (keepViews only when asked)', () => {
    const a = new ours.SodiumAllocator()
    const x = a.alloc(32)
    const view = new Uint8Array(a.view(x))
    a.protect(x, 'none')
    expect(view.length).toBe(0)
    a.protect(x, 'readwrite')
    const kept = new Uint8Array(a.view(x))
    a.protect(x, 'none', { keepViews: true })
    expect(kept.length).toBe(32)
    a.protect(x, 'readwrite')
    kept[0] = 1
    expect(kept[0]).toBe(1)
    a.free(x)
    expect(kept.length).toBe(0)
  })

  it('throws on a damaged canary with integrity: throw, leaving the allocation live', () => {
    const a = new ours.SodiumAllocator({ integrity: 'throw' })
    const x = a.alloc(32)
    const bytes = new Uint8Array(a.view(x))
    const marker = Buffer.from('integrity marker for the canary!')
    bytes.set(marker)
    const at = kernel.findBytes(marker)!
    // One flipped bit in the canary, as a native underflow would leave it.
    kernel.poke(at - 16n, Buffer.from([(kernel.peek(at - 16n, 1)[0] as number) ^ 1]))
    const err = expectCode(() => a.free(x), 'ERR_INTEGRITY')
    expect(err.message).toMatch(/canary before a 32-byte page allocation was overwritten/)
    expect(x.freed).toBe(false)
  })

  it('honours its options and rejects bad ones', () => {
    const a = new ours.SodiumAllocator({ mlock: 'off', cacheLimit: 0, quarantine: { frees: 0, bytes: 0 } })
    const x = a.alloc(10)
    expect(a.protections(x).locked).toBe(false)
    expect(a.stats().unlockedAllocations).toBe(1)
    a.free(x)
    expect(a.stats().mappings).toBe(0)
    expectCode(() => new ours.SodiumAllocator({ mlock: 'never' as never }), 'ERR_INVALID_ARG_VALUE')
    expectCode(() => new ours.SodiumAllocator({ cacheLimit: -1 }), 'ERR_OUT_OF_RANGE')
    // Options are an object or undefined, nothing else.
    for (const bad of [42, 'x', true, Symbol('s'), null, 0n]) expectCode(() => new ours.SodiumAllocator(bad as never), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => new ours.SodiumAllocator({ quarantine: 42 as never }), 'ERR_INVALID_ARG_TYPE')
    const y = a.alloc(1)
    for (const bad of [42, 'x', true, Symbol('s'), null]) expectCode(() => a.protect(y, 'read', bad as never), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => a.protect(y, 'read', { keepViews: 1 as never }), 'ERR_INVALID_ARG_TYPE')
    expect(a.protections(y).access).toBe('readwrite')
    a.free(y)
    const secret = new ours.SodiumAllocator({ secretmem: 'auto' })
    const s = secret.alloc(32)
    expect(typeof secret.protections(s).secretmem).toBe('boolean')
    secret.free(s)
  })

  it('is the allocator behind sodium_malloc', () => {
    const sodium = ours.defaultSodiumAllocator()
    expect(sodium).toBeInstanceOf(ours.SodiumAllocator)
    expect(ours.defaultSodiumAllocator()).toBe(sodium)
    const before = sodium.stats().allocations
    const buf = ours.sodium_malloc(3)
    expect(sodium.stats().allocations).toBe(before + 1)
    ours.sodium_free(buf)
    expect(sodium.stats().allocations).toBe(before)
  })
})
