// Allocators and handles keep their state in private fields: a handle spreads
// to `{}` and prints a description; an allocator shows only its name and
// capabilities. (Every copying and printing path, searched for a random
// secret, is in sodium-allocator's conformance suite, run against both.)
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { pa } from './helpers.js'

describe('private state', () => {
  for (const [name, allocator] of [
    ['SlotAllocator', new pa.SlotAllocator()],
    ['PageAllocator', new pa.PageAllocator()]
  ] as const) {
    it(`${name}: handles spread to {} and print a description; the allocator shows only name and capabilities`, () => {
      const a = allocator.alloc(100)
      new Uint8Array(allocator.view(a)).fill(0x5a)
      const kind = a.constructor.name
      expect({ ...a }).toEqual({})
      expect(Object.entries(a)).toEqual([])
      expect(structuredClone(a)).toEqual({})
      expect(inspect(a, { customInspect: false })).toBe(`${kind} {}`)
      expect([inspect(a), JSON.stringify(a), String(JSON.parse(JSON.stringify({ a })).a)]).toEqual([`${kind}(100 bytes)`, `"${kind}(100 bytes)"`, `${kind}(100 bytes)`])
      expect(Object.keys(allocator).sort()).toEqual(['capabilities', 'name'])
      expect([inspect(allocator), JSON.stringify(allocator)]).toEqual([`${name}(1 allocations, 100 bytes)`, `"${name}(1 allocations, 100 bytes)"`])
      allocator.free(a)
      expect(inspect(a)).toBe(`${kind}(100 bytes, freed)`)
    })
  }
})
