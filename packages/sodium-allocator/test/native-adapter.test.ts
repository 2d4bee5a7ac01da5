// SodiumNativeAllocator: an Allocator over the real libsodium, honest about
// what it cannot do or observe.
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { expectCode, kernel, native, ours, report, runFixture } from './helpers.js'

describe('SodiumNativeAllocator', () => {
  it('allocates with sodium_malloc: libsodium’s fill byte and layout, locked by the adapter', () => {
    const a = new ours.SodiumNativeAllocator()
    const x = a.alloc(100)
    const bytes = new Uint8Array(a.view(x))
    expect([bytes.length, bytes.every((b) => b === 0xdb)]).toEqual([100, true])
    const marker = Buffer.from('sodium-native adapter marker....')
    bytes.set(marker)
    const at = kernel.findBytes(marker)!
    const { vma, after } = kernel.around(at)!
    expect([at + 100n, after?.perms, vma.flags.has('lo')]).toEqual([vma.end, '---p', true])
    a.free(x)
    expect(bytes.length).toBe(0)
  })

  it('declares what it cannot do or observe', () => {
    const a = new ours.SodiumNativeAllocator({ sodium: native })
    const x = a.alloc(32)
    expect(a.capabilities.protect).toBe(false)
    expect(a.protections(x)).toEqual({
      locked: true,
      noDump: false,
      wipeOnFork: false,
      dontFork: false,
      guardPages: false,
      canary: true,
      secretmem: false,
      isolated: false,
      access: 'readwrite'
    })
    expect(ours.SodiumNativeAllocator.unverifiable).toEqual(['guardPages', 'noDump'])
    expectCode(() => a.protect(x, 'none'), 'ERR_NOT_ISOLATED')
    expectCode(() => a.protect(x, 'bogus' as never), 'ERR_INVALID_ARG_VALUE')
    a.free(x)
  })

  it('wipes before sodium_free, whatever sodium-native version does', () => {
    const calls: string[] = []
    const spy = {
      sodium_malloc: (n: number) => native.sodium_malloc(n) as Buffer,
      sodium_free: (buf: Buffer) => {
        calls.push(buf.every((b) => b === 0) ? 'free(wiped)' : 'free(not wiped)')
        native.sodium_free(buf)
      }
    }
    const a = new ours.SodiumNativeAllocator({ sodium: spy })
    const x = a.alloc(64)
    new Uint8Array(a.view(x)).fill(0x77)
    a.free(x)
    expect(calls).toEqual(['free(wiped)'])
  })

  it('counts libsodium’s mappings, locked pages and unlocked allocations', () => {
    const a = new ours.SodiumNativeAllocator({ mlock: 'off' })
    const x = a.alloc(5000)
    expect(a.stats()).toMatchObject({ allocations: 1, bytes: 5000, mappings: 1, mappedBytes: 5 * kernel.PAGE, lockedBytes: 0, unlockedAllocations: 1 })
    expect(a.protections(x).locked).toBe(false)
    a.free(x)
    expect(a.stats()).toMatchObject({ allocations: 0, bytes: 0, mappings: 0, mappedBytes: 0, unlockedAllocations: 0 })
  })

  it('rejects invalid options', () => {
    expectCode(() => new ours.SodiumNativeAllocator({ mlock: 'sometimes' as never }), 'ERR_INVALID_ARG_VALUE')
    for (const bad of [42, 'x', true, Symbol('s'), null]) expectCode(() => new ours.SodiumNativeAllocator(bad as never), 'ERR_INVALID_ARG_TYPE')
  })

  it.skipIf(typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer !== 'function')(
    'a buffer moved out with transfer() is neither wiped nor freed: it stays mapped, counted and warned about',
    () => {
      const a = new ours.SodiumNativeAllocator({ sodium: native })
      const x = a.alloc(32)
      new Uint8Array(a.view(x)).fill(9)
      const moved = new Uint8Array((a.view(x) as ArrayBuffer & { transfer(): ArrayBuffer }).transfer())
      expectCode(() => a.view(x), 'ERR_VIEW_ESCAPED')
      a.free(x)
      expect(x.freed).toBe(true)
      expect(moved.every((b) => b === 9)).toBe(true) // still mapped: libsodium never got it back
      expect(a.stats()).toMatchObject({ allocations: 0, escapedBytes: 32 })
    }
  )

  it('reports a clear error when sodium-native is not installed; the rest of the package works', () => {
    const run = runFixture('no-sodium-native')
    expect([run.status, run.stderr]).toEqual([0, ''])
    expect(report(run)).toEqual({
      loaded: true,
      code: 'ERR_SODIUM_NATIVE_MISSING',
      message: 'sodium-native is not installed; install it to use SodiumNativeAllocator',
      malloc: true
    })
  })
})

describe('SodiumNativeAllocator handle identity', () => {
  it('refuses a copy of a live handle, so one buffer is never freed twice', () => {
    const a = new ours.SodiumNativeAllocator({ sodium: native })
    const h = a.alloc(32)
    const copy = Object.create(h)
    const clone = Object.assign(Object.create(Object.getPrototypeOf(h)), h)
    const before = a.stats()
    for (const fake of [copy, clone]) {
      expectCode(() => a.free(fake), 'ERR_FOREIGN_ALLOCATION')
      expectCode(() => a.view(fake), 'ERR_FOREIGN_ALLOCATION')
    }
    expect(a.stats()).toEqual(before)
    expect(String(inspect(h))).toBe('SodiumNativeAllocation(32 bytes)')
    a.free(h)
    expect(a.stats().allocations).toBe(0)
    expectCode(() => a.free(h), 'ERR_DOUBLE_FREE')
  })
})
