// The Allocator conformance suite (@tarsjs/sodium-allocator/conformance) run
// against every backend: page-alloc's slot and page allocators, SodiumAllocator
// and the adapter over the real libsodium (sodium-native).
import type { Allocation } from '@tarsjs/page-alloc'
import { describe, expect, it } from 'vitest'
import { conformance, native, native5, ours, pa } from './helpers.js'

const framework = { describe, it, expect }

conformance.runAllocatorConformance('SlotAllocator', () => new pa.SlotAllocator(), framework)
conformance.runAllocatorConformance('PageAllocator', () => new pa.PageAllocator(), framework)
conformance.runAllocatorConformance('SodiumAllocator', () => new ours.SodiumAllocator(), framework, { fillByte: 0xdb })
conformance.runAllocatorConformance('SodiumNativeAllocator', () => new ours.SodiumNativeAllocator({ sodium: native }), framework, { fillByte: 0xdb })
conformance.runAllocatorConformance('SodiumNativeAllocator over sodium-native 5', () => new ours.SodiumNativeAllocator({ sodium: native5 }), framework, {
  fillByte: 0xdb
})

describe('the conformance suite itself', () => {
  it('is importable from the package subpath', async () => {
    const viaExports = await import('@tarsjs/sodium-allocator/conformance')
    expect(typeof viaExports.runAllocatorConformance).toBe('function')
  })

  it('catches a backend that breaks the contract', () => {
    // A backend whose free forgets to detach its view: the suite must fail on it.
    class Leaky extends pa.PageAllocator {
      override free(a: Allocation): void {
        const view = this.view(a)
        super.free(a)
        void view
      }
      override view(a: Allocation): ArrayBuffer {
        const real = super.view(a)
        const copy = new ArrayBuffer(real.byteLength)
        new Uint8Array(copy).set(new Uint8Array(real))
        return copy
      }
    }
    const failures: string[] = []
    const tests: { name: string; fn: () => void }[] = []
    conformance.runAllocatorConformance('leaky', () => new Leaky(), {
      describe: (_name, fn) => fn(),
      it: (name, fn) => tests.push({ name, fn }),
      expect: (actual) => ({
        toBe: (expected) => {
          if (!Object.is(actual, expected)) throw new Error(`${String(actual)} !== ${String(expected)}`)
        },
        toEqual: (expected) => {
          if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${JSON.stringify(actual)} != ${JSON.stringify(expected)}`)
        }
      })
    })
    for (const t of tests) {
      try {
        t.fn()
      } catch {
        failures.push(t.name)
      }
    }
    expect(failures).toContain('free marks the allocation freed and detaches its view')
    expect(failures).toContain('never lets a retained view read a later allocation')
  })
})
