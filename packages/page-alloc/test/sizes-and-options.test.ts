// Bad sizes of every kind and bad options: a typed error before any system
// call, and nothing changes (stats, VmLck, mappings, live allocations).
import { describe, expect, it } from 'vitest'
import { expectCode, expectUnchanged, pa, pattern, put } from './helpers.js'
import type * as PA from '../src/index.js'

const { SlotAllocator, PageAllocator, MAX_BYTE_LENGTH, checkByteLength, checkAccess } = pa

const WRONG_TYPES: unknown[] = ['32', '', 32n, null, undefined, true, {}, [], [32], new Number(32), Symbol('n'), () => 32]
const OUT_OF_RANGE: unknown[] = [-1, -32, -0.5, 0.5, 1.5, 31.999, NaN, Infinity, -Infinity, MAX_BYTE_LENGTH + 1, 2 ** 32, 2 ** 53, Number.MAX_VALUE, -Number.MIN_VALUE]

function withLive<T extends PA.SlotAllocator | PA.PageAllocator>(allocator: T): Array<[unknown, Buffer]> {
  return [20, 32, 3000, 9000].map((n, i) => {
    const a = allocator.alloc(n)
    const bytes = pattern(100 + i, n)
    put(allocator, a, bytes)
    return [a, bytes]
  })
}

describe('bad sizes', () => {
  for (const [label, make] of [
    ['SlotAllocator', () => new SlotAllocator()],
    ['PageAllocator', () => new PageAllocator()]
  ] as const) {
    it(`${label}.alloc: wrong types throw ERR_INVALID_ARG_TYPE and change nothing`, () => {
      const allocator = make()
      const live = withLive(allocator)
      for (const bad of WRONG_TYPES) {
        expectUnchanged(allocator, live, () => {
          const e = expectCode(() => allocator.alloc(bad as number), 'ERR_INVALID_ARG_TYPE')
          expect(e.name).toBe('TypeError')
          expect(e.message).toMatch(/"byteLength" argument must be of type number/)
        })
      }
    })

    it(`${label}.alloc: negative, fractional, NaN, infinite and > MAX_BYTE_LENGTH throw ERR_OUT_OF_RANGE and change nothing`, () => {
      const allocator = make()
      const live = withLive(allocator)
      for (const bad of OUT_OF_RANGE) {
        expectUnchanged(allocator, live, () => {
          const e = expectCode(() => allocator.alloc(bad as number), 'ERR_OUT_OF_RANGE')
          expect(e.name).toBe('RangeError')
          expect(e.message).toContain(String(bad))
        })
      }
    })
  }

  it('SlotAllocator.alloc(0) and alloc(-0) are out of range (a slot holds at least one byte)', () => {
    const s = new SlotAllocator()
    const live = withLive(s)
    for (const zero of [0, -0]) expectUnchanged(s, live, () => expectCode(() => s.alloc(zero), 'ERR_OUT_OF_RANGE'))
  })

  it('PageAllocator.alloc(0) is allowed (an empty, guarded allocation)', () => {
    const p = new PageAllocator()
    const a = p.alloc(0)
    expect(a.byteLength).toBe(0)
    p.free(a)
  })

  it('checkByteLength accepts exactly the integers in [1 (or 0), MAX_BYTE_LENGTH]', () => {
    expect(MAX_BYTE_LENGTH).toBe(2 ** 30)
    expect(checkByteLength(1)).toBe(1)
    expect(checkByteLength(MAX_BYTE_LENGTH)).toBe(MAX_BYTE_LENGTH)
    expect(checkByteLength(0, true)).toBe(0)
    expectCode(() => checkByteLength(0), 'ERR_OUT_OF_RANGE')
    expectCode(() => checkByteLength(MAX_BYTE_LENGTH + 1, true), 'ERR_OUT_OF_RANGE')
    expect(expectCode(() => checkByteLength('x', false, 'size'), 'ERR_INVALID_ARG_TYPE').message).toContain('"size"')
    expect(expectCode(() => checkByteLength(null), 'ERR_INVALID_ARG_TYPE').message).toContain('got null')
    expect(expectCode(() => checkByteLength(new Number(3)), 'ERR_INVALID_ARG_TYPE').message).toContain('an instance of Number')
  })
})

describe('bad options', () => {
  const cases: Array<[string, unknown, string]> = [
    ['null', null, 'ERR_INVALID_ARG_TYPE'],
    ['a string', 'fast', 'ERR_INVALID_ARG_TYPE'],
    ['a number', 16, 'ERR_INVALID_ARG_TYPE'],
    ['true', true, 'ERR_INVALID_ARG_TYPE'],
    ['a Symbol', Symbol('options'), 'ERR_INVALID_ARG_TYPE'],
    ['a bigint', 1n, 'ERR_INVALID_ARG_TYPE'],
    ['quarantine: a number', { quarantine: 42 }, 'ERR_INVALID_ARG_TYPE'],
    ['quarantine: null', { quarantine: null }, 'ERR_INVALID_ARG_TYPE'],
    ['quarantine.frees: negative', { quarantine: { frees: -1 } }, 'ERR_OUT_OF_RANGE'],
    ['quarantine.bytes: fractional', { quarantine: { bytes: 0.5 } }, 'ERR_OUT_OF_RANGE'],
    ['mlock: unknown', { mlock: 'sometimes' }, 'ERR_INVALID_ARG_VALUE'],
    ['mlock: boolean', { mlock: true }, 'ERR_INVALID_ARG_VALUE'],
    ['mlock: wrong case', { mlock: 'Required' }, 'ERR_INVALID_ARG_VALUE'],
    ['secretmem: unknown', { secretmem: 'yes' }, 'ERR_INVALID_ARG_VALUE'],
    ['secretmem: boolean', { secretmem: false }, 'ERR_INVALID_ARG_VALUE'],
    ['integrity: unknown', { integrity: 'ignore' }, 'ERR_INVALID_ARG_VALUE'],
    ['integrity: null', { integrity: null }, 'ERR_INVALID_ARG_VALUE'],
    ['cacheLimit: negative', { cacheLimit: -1 }, 'ERR_OUT_OF_RANGE'],
    ['cacheLimit: fractional', { cacheLimit: 1.5 }, 'ERR_OUT_OF_RANGE'],
    ['cacheLimit: string', { cacheLimit: '4' }, 'ERR_OUT_OF_RANGE'],
    ['cacheLimit: NaN', { cacheLimit: NaN }, 'ERR_OUT_OF_RANGE']
  ]
  const slotOnly: Array<[string, unknown, string]> = [
    ['pagesPerMapping: 0', { pagesPerMapping: 0 }, 'ERR_OUT_OF_RANGE'],
    ['pagesPerMapping: 1025', { pagesPerMapping: 1025 }, 'ERR_OUT_OF_RANGE'],
    ['pagesPerMapping: 2.5', { pagesPerMapping: 2.5 }, 'ERR_OUT_OF_RANGE'],
    ['pagesPerMapping: Infinity', { pagesPerMapping: Infinity }, 'ERR_OUT_OF_RANGE'],
    ['cacheLimit: 65537', { cacheLimit: 65537 }, 'ERR_OUT_OF_RANGE'],
    ['large: a plain object', { large: {} }, 'ERR_INVALID_ARG_TYPE'],
    ['large: a SlotAllocator', { large: new SlotAllocator() }, 'ERR_INVALID_ARG_TYPE'],
    ['large: null', { large: null }, 'ERR_INVALID_ARG_TYPE']
  ]
  const pageOnly: Array<[string, unknown, string]> = [
    ['alignment: 0', { alignment: 0 }, 'ERR_OUT_OF_RANGE'],
    ['alignment: 3 (not a power of two)', { alignment: 3 }, 'ERR_OUT_OF_RANGE'],
    ['alignment: 48 (not a power of two)', { alignment: 48 }, 'ERR_OUT_OF_RANGE'],
    ['alignment: 8192 (above a page)', { alignment: 8192 }, 'ERR_OUT_OF_RANGE'],
    ['frontCanary: 65', { frontCanary: 65 }, 'ERR_OUT_OF_RANGE'],
    ['frontCanary: -1', { frontCanary: -1 }, 'ERR_OUT_OF_RANGE'],
    ['fillByte: 256', { fillByte: 256 }, 'ERR_OUT_OF_RANGE'],
    ['fillByte: -1', { fillByte: -1 }, 'ERR_OUT_OF_RANGE'],
    ['fillByte: 0.5', { fillByte: 0.5 }, 'ERR_OUT_OF_RANGE'],
    ['cacheLimit: 4097', { cacheLimit: 4097 }, 'ERR_OUT_OF_RANGE']
  ]

  for (const [label, options, code] of [...cases, ...slotOnly]) {
    it(`new SlotAllocator(${label}) throws ${code}`, () => {
      expectCode(() => new SlotAllocator(options as PA.SlotAllocatorOptions), code)
    })
  }
  for (const [label, options, code] of [...cases, ...pageOnly]) {
    it(`new PageAllocator(${label}) throws ${code}`, () => {
      expectCode(() => new PageAllocator(options as PA.PageAllocatorOptions), code)
    })
  }

  it('boundary values are accepted; undefined means the default', () => {
    for (const options of [undefined, {}, { mlock: undefined }, { pagesPerMapping: 1 }, { pagesPerMapping: 1024 }, { cacheLimit: 0 }, { cacheLimit: 65536 }]) {
      const s = new SlotAllocator(options)
      s.free(s.alloc(16))
    }
    for (const options of [undefined, { alignment: 1 }, { alignment: 4096 }, { frontCanary: 0 }, { frontCanary: 64 }, { fillByte: 255 }, { cacheLimit: 4096 }]) {
      const p = new PageAllocator(options)
      p.free(p.alloc(16))
    }
  })

  it('protect options must be an object or undefined; keepViews a boolean; nothing changes on refusal', () => {
    const p = new PageAllocator()
    const a = p.alloc(32)
    put(p, a, pattern(3, 32))
    for (const bad of [42, 'x', true, Symbol('s'), null, 1n, () => ({})]) {
      expectUnchanged(p, [[a, pattern(3, 32)]], () => expectCode(() => p.protect(a, 'none', bad as never), 'ERR_INVALID_ARG_TYPE'))
    }
    expectCode(() => p.protect(a, 'none', { keepViews: 'yes' } as never), 'ERR_INVALID_ARG_TYPE')
    expect(p.protections(a).access).toBe('readwrite')
    p.protect(a, 'read', {})
    p.protect(a, 'readwrite', undefined)
    p.free(a)
  })

  it('every option is read once: a getter cannot pass a check with one value and be used with another', () => {
    const reads = new Map<string, number>()
    const counted = <T>(name: string, values: T[]): (() => T) => () => {
      const n = reads.get(name) ?? 0
      reads.set(name, n + 1)
      return values[Math.min(n, values.length - 1)] as T
    }
    const checked = new PageAllocator()
    const large = counted<unknown>('large', [checked, { capabilities: { protect: true }, allocFor: () => ({}) }])
    const secretmem = counted<unknown>('secretmem', ['off', 'required'])
    const frees = counted<unknown>('quarantine.frees', [1, -1])
    const bytes = counted<unknown>('quarantine.bytes', [4096, 0.5])
    const quarantine = counted<unknown>('quarantine', [{ get frees() { return frees() }, get bytes() { return bytes() } }, 42])
    const slots = new SlotAllocator({ get large() { return large() }, get secretmem() { return secretmem() }, get quarantine() { return quarantine() } } as never)
    expect(Object.fromEntries(reads)).toEqual({ large: 1, secretmem: 1, quarantine: 1, 'quarantine.frees': 1, 'quarantine.bytes': 1 })
    // The checked PageAllocator serves large requests.
    const big = slots.alloc(9000)
    expect(checked.stats().allocations).toBe(1)
    slots.free(big)
    reads.clear()
    const own = new SlotAllocator({ get secretmem() { return secretmem() }, get quarantine() { return quarantine() } } as never)
    expect(Object.fromEntries(reads)).toEqual({ secretmem: 1, quarantine: 1, 'quarantine.frees': 1, 'quarantine.bytes': 1 })
    own.free(own.alloc(9000))
  })

  it('checkAccess accepts only none, read and readwrite', () => {
    for (const ok of ['none', 'read', 'readwrite']) expect(checkAccess(ok)).toBe(ok)
    for (const bad of ['rw', 'write', 'READ', '', null, undefined, 1, {}]) expectCode(() => checkAccess(bad), 'ERR_INVALID_ARG_VALUE')
  })
})
