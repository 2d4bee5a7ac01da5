// The Allocator conformance suite run against this package's backends:
// SodiumAllocator and the adapter over the real libsodium (sodium-native).
// The suite lives in @tarsjs/page-alloc/conformance (where page-alloc's own
// allocators run it); @tarsjs/sodium-allocator/conformance re-exports it.
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { conformance, native, native5, ours, pa } from './helpers.js'

const framework = { describe, it, expect }

conformance.runAllocatorConformance('SodiumAllocator', () => new ours.SodiumAllocator(), framework, { fillByte: 0xdb })
conformance.runAllocatorConformance('SodiumNativeAllocator', () => new ours.SodiumNativeAllocator({ sodium: native }), framework, { fillByte: 0xdb })
conformance.runAllocatorConformance('SodiumNativeAllocator over sodium-native 5', () => new ours.SodiumNativeAllocator({ sodium: native5 }), framework, {
  fillByte: 0xdb
})

describe('the conformance suite itself', () => {
  it('is importable from this package subpath, and registers the same tests as @tarsjs/page-alloc/conformance', async () => {
    const viaExports = await import('@tarsjs/sodium-allocator/conformance')
    expect(typeof viaExports.runAllocatorConformance).toBe('function')
    const require = createRequire(import.meta.url)
    const beside: typeof import('@tarsjs/page-alloc/conformance') = require('@tarsjs/page-alloc/conformance')
    const registered = (run: typeof beside.runAllocatorConformance): string[] => {
      const names: string[] = []
      run('PageAllocator', () => new pa.PageAllocator(), { describe: (_name, fn) => fn(), it: (name) => names.push(name), expect })
      return names
    }
    const here = registered(viaExports.runAllocatorConformance)
    expect(here.length).toBeGreaterThan(10)
    expect(here).toEqual(registered(beside.runAllocatorConformance))
  })
})
