// The Allocator conformance suite (@tarsjs/page-alloc/conformance), beside the
// interface it checks, run against this package's backends: SlotAllocator and
// PageAllocator. It must also fail on a backend that breaks the contract.
import type { Allocation } from '../src/index.js'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { pa } from './helpers.js'

const require = createRequire(import.meta.url)
const conformance: typeof import('../src/conformance.js') = require('../dist/conformance.js')
const framework = { describe, it, expect }

conformance.runAllocatorConformance('SlotAllocator', () => new pa.SlotAllocator(), framework)
conformance.runAllocatorConformance('PageAllocator', () => new pa.PageAllocator(), framework)

describe('the conformance suite itself', () => {
  it('is importable from the package subpath', () => {
    // The package's own name resolves through its exports map (self-reference).
    const viaExports: typeof import('../src/conformance.js') = require('@tarsjs/page-alloc/conformance')
    expect(viaExports.runAllocatorConformance).toBe(conformance.runAllocatorConformance)
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
