// Every bad argument kind, for every argument of every export, throws the
// documented error class and code; after each bad call the regions still work.
import { afterAll, describe, expect, it } from 'vitest'
import { PS, assertWorks, m, rangeErr, typeErr, unmappedErr, valueErr } from './helpers.mjs'

const SIZE = 4 * PS
const r = m.map(SIZE) // the region every call below aims at
const r2 = m.map(SIZE) // a second one, for copy/equals
const dead = m.map(PS)
m.unmap(dead)

afterAll(() => {
  m.unmap(r)
  m.unmap(r2)
})

function stillWorks () {
  assertWorks(r)
  assertWorks(r, SIZE - 32)
  assertWorks(r2)
}

// Values that are not a size at all (TypeError) or not a valid size (RangeError).
const NOT_A_NUMBER = [
  ['a numeric string', String(PS)],
  ['null', null],
  ['an object', { valueOf: () => PS }],
  ['a bigint', BigInt(PS)],
  ['a boolean', true],
  ['an array', [PS]]
]
const BAD_NUMBER = [
  ['negative', -1],
  ['negative page', -PS],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['fractional', 0.5],
  ['fractional above a page', PS + 0.5],
  ['2^53 (beyond the safe integers)', 2 ** 53],
  ['2^64', 2 ** 64],
  ['1e300', 1e300]
]

/**
 * Each entry: a name and a call with one size argument replaced by x. `required`
 * says whether undefined is a TypeError (true) or means "the default" (false).
 */
/** @type {Array<[string, (x: any) => unknown, boolean]>} */
const SIZE_ARGS = [
  ['map(byteLength)', (x) => m.map(x), true],
  ['protect(offset)', (x) => m.protect(r, x, PS, 'read'), true],
  ['protect(length)', (x) => m.protect(r, 0, x, 'read'), true],
  ['remap(offset)', (x) => m.remap(r, x, PS, 'readwrite'), true],
  ['remap(length)', (x) => m.remap(r, 0, x, 'readwrite'), true],
  ['advise(offset)', (x) => m.advise(r, x, PS, 'dontfork'), true],
  ['advise(length)', (x) => m.advise(r, 0, x, 'dontfork'), true],
  ['lock(offset)', (x) => m.lock(r, x, PS), false],
  ['lock(length)', (x) => m.lock(r, 0, x), false],
  ['lock(buffer, offset)', (x) => m.lock(Buffer.alloc(64), x, 1), false],
  ['unlock(offset)', (x) => m.unlock(r, x, PS), false],
  ['unlock(length)', (x) => m.unlock(r, 0, x), false],
  ['wipe(offset)', (x) => m.wipe(r, x, 1), false],
  ['wipe(length)', (x) => m.wipe(r, 0, x), false],
  ['wipe(buffer, length)', (x) => m.wipe(Buffer.alloc(64), 0, x), false],
  ['fill(offset)', (x) => m.fill(r, x, 1, 0), true],
  ['fill(length)', (x) => m.fill(r, 0, x, 0), true],
  ['fill(byte)', (x) => m.fill(r, 0, 1, x), true],
  ['copy(srcOffset)', (x) => m.copy(r, x, r2, 0, 1), true],
  ['copy(dstOffset)', (x) => m.copy(r, 0, r2, x, 1), true],
  ['copy(length)', (x) => m.copy(r, 0, r2, 0, x), true],
  ['equals(aOffset)', (x) => m.equals(r, x, r2, 0, 1), true],
  ['equals(bOffset)', (x) => m.equals(r, 0, r2, x, 1), true],
  ['equals(length)', (x) => m.equals(r, 0, r2, 0, x), true],
  ['view(offset)', (x) => m.view(r, x, 1), true],
  ['view(length)', (x) => m.view(r, 0, x), true]
]

describe.each(SIZE_ARGS)('%s', (_name, call, required) => {
  it.each(NOT_A_NUMBER)('%s → TypeError ERR_INVALID_ARG_TYPE', (_kind, x) => {
    typeErr(() => call(x))
    stillWorks()
  })
  it.each(BAD_NUMBER)('%s → RangeError ERR_OUT_OF_RANGE', (_kind, x) => {
    rangeErr(() => call(x))
    stillWorks()
  })
  if (required) {
    it('undefined → TypeError ERR_INVALID_ARG_TYPE', () => {
      typeErr(() => call(undefined))
      stillWorks()
    })
  }
})

describe('ranges outside the region', () => {
  const MAX = 2 ** 53 - 1
  const cases = [
    ['protect: offset past the end', () => m.protect(r, SIZE + PS, PS, 'read')],
    ['protect: length past the end', () => m.protect(r, 0, SIZE + PS, 'read')],
    ['protect: offset 2^53-1', () => m.protect(r, MAX, PS, 'read')],
    ['protect: offset + length overflow', () => m.protect(r, PS, MAX, 'read')],
    ['remap: offset past the end', () => m.remap(r, SIZE + PS, PS, 'none')],
    ['remap: length past the end', () => m.remap(r, PS, SIZE, 'none')],
    ['remap: offset + length overflow', () => m.remap(r, PS, MAX, 'none')],
    ['advise: length past the end', () => m.advise(r, PS, SIZE, 'dontfork')],
    ['advise: offset 2^53-1', () => m.advise(r, MAX, 1, 'dontfork')],
    ['lock: length past the end', () => m.lock(r, PS, SIZE)],
    ['lock: offset 2^53-1', () => m.lock(r, MAX, 1)],
    ['unlock: offset past the end', () => m.unlock(r, SIZE + PS)],
    ['wipe: one byte past the end', () => m.wipe(r, SIZE - 1, 2)],
    ['wipe: offset past the end', () => m.wipe(r, SIZE + 1)],
    ['wipe: offset 2^53-1', () => m.wipe(r, MAX, 1)],
    ['wipe: a buffer, past its end', () => m.wipe(Buffer.alloc(8), 4, 5)],
    ['wipe: a typed array counts bytes, not elements', () => m.wipe(new Uint32Array(2), 0, 9)],
    ['lock: a buffer, offset past its end', () => m.lock(Buffer.alloc(8), 9)],
    ['fill: one byte past the end', () => m.fill(r, SIZE - 1, 2, 0)],
    ['fill: offset 2^53-1', () => m.fill(r, MAX, 1, 0)],
    ['fill: offset + length overflow', () => m.fill(r, 1, MAX, 0)],
    ['copy: source range past the end', () => m.copy(r, SIZE - 1, r2, 0, 2)],
    ['copy: destination range past the end', () => m.copy(r, 0, r2, SIZE - 1, 2)],
    ['copy: offset 2^53-1', () => m.copy(r, MAX, r2, 0, 1)],
    ['copy: into a buffer too small', () => m.copy(r, 0, Buffer.alloc(4), 0, 5)],
    ['copy: from a detached buffer', () => { const ab = new ArrayBuffer(8); const u = new Uint8Array(ab); structuredClone(ab, { transfer: [ab] }); m.copy(u, 0, r, 0, 1) }],
    ['equals: a range past the end', () => m.equals(r, SIZE - 1, r2, 0, 2)],
    ['equals: length overflow', () => m.equals(r, 0, r2, 0, MAX)],
    ['view: one byte past the end', () => m.view(r, SIZE - 1, 2)],
    ['view: offset at the end', () => m.view(r, SIZE, 1)],
    ['view: offset 2^53-1', () => m.view(r, MAX, 1)],
    ['view: length 2^53-1', () => m.view(r, 0, MAX)]
  ]
  it.each(cases)('%s → RangeError ERR_OUT_OF_RANGE', (_name, call) => {
    rangeErr(call)
    stillWorks()
  })
})

describe('zero, misaligned, and other meaningless sizes', () => {
  const cases = [
    ['map(0)', () => m.map(0)],
    ['map(1)', () => m.map(1)],
    ['map(page + 1)', () => m.map(PS + 1)],
    ['map(page / 2)', () => m.map(PS / 2)],
    ['protect: length 0', () => m.protect(r, 0, 0, 'read')],
    ['protect: misaligned offset', () => m.protect(r, 1, PS, 'read')],
    ['protect: misaligned length', () => m.protect(r, 0, PS + 1, 'read')],
    ['remap: length 0', () => m.remap(r, 0, 0, 'none')],
    ['remap: misaligned offset', () => m.remap(r, 1, PS, 'none')],
    ['remap: misaligned length', () => m.remap(r, 0, PS + 1, 'none')],
    ['advise: length 0', () => m.advise(r, PS, 0, 'dontfork')],
    ['advise: misaligned offset', () => m.advise(r, PS / 2, PS, 'dontfork')],
    ['advise: misaligned length', () => m.advise(r, 0, 1, 'dontfork')],
    ['lock: a region range of length 0', () => m.lock(r, 0, 0)],
    ['lock: a misaligned region range', () => m.lock(r, 1, PS)],
    ['lock: a region range of one byte', () => m.lock(r, 0, 1)],
    ['unlock: a misaligned region range', () => m.unlock(r, 0, PS - 1)],
    ['view: length 0', () => m.view(r, 0, 0)],
    ['fill: byte 256', () => m.fill(r, 0, 1, 256)],
    ['fill: byte 1000', () => m.fill(r, 0, 1, 1000)]
  ]
  it.each(cases)('%s → RangeError ERR_OUT_OF_RANGE', (_name, call) => {
    rangeErr(call)
    stillWorks()
  })

  it('zero-length operations that are meaningful succeed and do nothing', () => {
    m.fill(r, 0, SIZE, 7)
    m.wipe(r, SIZE, 0)
    m.wipe(r, 3, 0)
    m.fill(r, 0, 0, 9)
    m.copy(r, 0, r2, 0, 0)
    expect(m.equals(r, 0, r2, 0, 0)).toBe(true)
    m.lock(Buffer.alloc(0))
    m.unlock(Buffer.alloc(8), 8)
    m.wipe(Buffer.alloc(0))
    const first = new Uint8Array(m.view(r, 0, 8))
    expect([...first]).toEqual([7, 7, 7, 7, 7, 7, 7, 7])
    m.detach(first.buffer)
    stillWorks()
  })

  it('-0 is 0', () => {
    const ab = m.view(r, -0, 16)
    expect(ab.byteLength).toBe(16)
    m.fill(r, -0, 16, 3)
    expect(new Uint8Array(ab)[0]).toBe(3)
    m.detach(ab)
    stillWorks()
  })
})

describe('enumerations', () => {
  const NOT_A_STRING = [['undefined', undefined], ['a number', 0], ['null', null], ['an object', { toString: () => 'read' }], ['a symbol', Symbol('read')]]
  const BAD_ACCESS = ['', 'NONE', 'Read', 'rw', 'r', 'readwrite ', ' none', 'none\0', 'none\0x', 'write', 'readwriteexecute', 'x'.repeat(100)]
  const BAD_ADVICE = ['', 'DONTDUMP', 'dontdump,wipeonfork', 'dontdump|wipeonfork', 'dontneed', 'free', 'remove', 'willneed', 'wipeonfork\0', 'keeponfork ', 'x'.repeat(100)]

  it.each(NOT_A_STRING)('protect access %s → TypeError ERR_INVALID_ARG_TYPE', (_k, x) => {
    typeErr(() => m.protect(r, 0, PS, x))
    stillWorks()
  })
  it.each(BAD_ACCESS.map((s) => [JSON.stringify(s), s]))('protect access %s → TypeError ERR_INVALID_ARG_VALUE', (_k, x) => {
    valueErr(() => m.protect(r, 0, PS, x))
    stillWorks()
  })
  it.each(NOT_A_STRING)('remap kind %s → TypeError ERR_INVALID_ARG_TYPE', (_k, x) => {
    typeErr(() => m.remap(r, 0, PS, x))
    stillWorks()
  })
  it.each([...BAD_ACCESS, 'read', 'SECRET', 'secret\0'].map((s) => [JSON.stringify(s), s]))('remap kind %s → TypeError ERR_INVALID_ARG_VALUE', (_k, x) => {
    valueErr(() => m.remap(r, 0, PS, x))
    stillWorks()
  })
  it.each(NOT_A_STRING)('advise %s → TypeError ERR_INVALID_ARG_TYPE', (_k, x) => {
    typeErr(() => m.advise(r, 0, PS, x))
    stillWorks()
  })
  it.each(BAD_ADVICE.map((s) => [JSON.stringify(s), s]))('advise %s → TypeError ERR_INVALID_ARG_VALUE', (_k, x) => {
    valueErr(() => m.advise(r, 0, PS, x))
    stillWorks()
  })
})

// Things that are not a Region. Buffer and typed arrays are valid targets for
// lock/unlock/wipe/copy/equals, so they appear only for region-only functions.
const lookalike = Object.freeze({ byteLength: SIZE, secret: false })
/** @type {Array<[string, any]>} */
const NOT_A_REGION = [
  ['undefined', undefined],
  ['null', null],
  ['a number', 42],
  ['a string', 'region'],
  ['a symbol', Symbol('region')],
  ['a function', function region () {}],
  ['a plain object', {}],
  ['a frozen lookalike {byteLength, secret}', lookalike],
  ['an object inheriting from a Region', Object.create(r)],
  ['a Proxy of a Region', new Proxy(r, {})],
  ['an array holding a Region', [r]],
  ['an ArrayBuffer', new ArrayBuffer(SIZE)]
]
/** @type {Array<[string, any]>} */
const VIEWS = [['a Buffer', Buffer.alloc(SIZE)], ['a DataView', new DataView(new ArrayBuffer(SIZE))]]

/** @type {Array<[string, (x: any) => unknown]>} */
const REGION_ONLY = [
  ['unmap', (x) => m.unmap(x)],
  ['isMapped', (x) => m.isMapped(x)],
  ['protect', (x) => m.protect(x, 0, PS, 'read')],
  ['advise', (x) => m.advise(x, 0, PS, 'dontfork')],
  ['remap', (x) => m.remap(x, 0, PS, 'readwrite')],
  ['fill', (x) => m.fill(x, 0, 1, 1)],
  ['view', (x) => m.view(x, 0, 1)]
]
/** @type {Array<[string, (x: any) => unknown]>} */
const ANY_TARGET = [
  ['lock', (x) => m.lock(x, 0, PS)],
  ['unlock', (x) => m.unlock(x, 0, PS)],
  ['wipe', (x) => m.wipe(x, 0, 1)],
  ['copy (source)', (x) => m.copy(x, 0, r2, 0, 1)],
  ['copy (destination)', (x) => m.copy(r2, 0, x, 0, 1)],
  ['equals (a)', (x) => m.equals(x, 0, r2, 0, 1)],
  ['equals (b)', (x) => m.equals(r2, 0, x, 0, 1)]
]

describe.each([...REGION_ONLY, ...ANY_TARGET])('%s: not a Region', (_name, call) => {
  it.each(NOT_A_REGION)('%s → TypeError ERR_INVALID_ARG_TYPE', (_kind, x) => {
    typeErr(() => call(x))
    stillWorks()
  })
})

describe.each(REGION_ONLY)('%s: an ArrayBufferView is not a Region', (_name, call) => {
  it.each(VIEWS)('%s → TypeError ERR_INVALID_ARG_TYPE', (_kind, x) => {
    typeErr(() => call(x))
    stillWorks()
  })
})

describe('a dead (unmapped) region', () => {
  const calls = [
    ['unmap', () => m.unmap(dead)],
    ['protect', () => m.protect(dead, 0, PS, 'readwrite')],
    ['advise', () => m.advise(dead, 0, PS, 'dodump')],
    ['remap', () => m.remap(dead, 0, PS, 'none')],
    ['lock', () => m.lock(dead)],
    ['unlock', () => m.unlock(dead)],
    ['wipe', () => m.wipe(dead)],
    ['fill', () => m.fill(dead, 0, 1, 0)],
    ['copy (source)', () => m.copy(dead, 0, r2, 0, 1)],
    ['copy (destination)', () => m.copy(r2, 0, dead, 0, 1)],
    ['equals (a)', () => m.equals(dead, 0, r2, 0, 1)],
    ['equals (b)', () => m.equals(r2, 0, dead, 0, 1)],
    ['view', () => m.view(dead, 0, 1)]
  ]
  it.each(calls)('%s → Error ERR_REGION_UNMAPPED', (_name, call) => {
    unmappedErr(call)
    stillWorks()
  })

  it('the check comes before the arguments: a dead region with bad numbers is still ERR_REGION_UNMAPPED', () => {
    unmappedErr(() => m.view(dead, -1, NaN))
    unmappedErr(() => m.protect(dead, 'x', {}, 'bogus'))
  })

  it('isMapped says false and keeps its description', () => {
    expect(m.isMapped(dead)).toBe(false)
    expect(dead.byteLength).toBe(PS)
    expect(dead.secret).toBe(false)
  })
})

describe('missing arguments', () => {
  const cases = [
    ['map()', () => m.map()],
    ['unmap()', () => m.unmap()],
    ['isMapped()', () => m.isMapped()],
    ['protect()', () => m.protect()],
    ['protect(region, 0, page)', () => m.protect(r, 0, PS)],
    ['advise(region, 0, page)', () => m.advise(r, 0, PS)],
    ['lock()', () => m.lock()],
    ['unlock()', () => m.unlock()],
    ['wipe()', () => m.wipe()],
    ['fill(region, 0, 1)', () => m.fill(r, 0, 1)],
    ['copy with 4 arguments', () => m.copy(r, 0, r2, 0)],
    ['equals with 4 arguments', () => m.equals(r, 0, r2, 0)],
    ['view(region, 0)', () => m.view(r, 0)],
    ['detach()', () => m.detach()]
  ]
  it.each(cases)('%s → TypeError ERR_INVALID_ARG_TYPE', (_name, call) => {
    typeErr(call)
    stillWorks()
  })
})

describe('map options', () => {
  /** @type {Array<[string, any]>} */
  const bad = [
    ['null', null],
    ['a string', 'secret'],
    ['a number', 1],
    ['true', true],
    ['{ secret: "yes" }', { secret: 'yes' }],
    ['{ secret: 1 }', { secret: 1 }],
    ['{ secret: null }', { secret: null }]
  ]
  it.each(bad)('%s → TypeError ERR_INVALID_ARG_TYPE', (_name, x) => {
    typeErr(() => m.map(PS, x))
  })

  const good = [['undefined', undefined], ['{}', {}], ['{ secret: undefined }', { secret: undefined }], ['{ secret: false }', { secret: false }], ['unknown keys', { other: 1 }]]
  it.each(good)('%s → a plain (not secret) region', (_name, x) => {
    const region = m.map(PS, x)
    expect(region.secret).toBe(false)
    assertWorks(region)
    m.unmap(region)
  })
})

describe('protect options', () => {
  /** @type {Array<[string, any]>} */
  const bad = [
    ['null', null],
    ['a string', 'keepViews'],
    ['a number', 1],
    ['true', true],
    ['{ keepViews: "yes" }', { keepViews: 'yes' }],
    ['{ keepViews: 1 }', { keepViews: 1 }],
    ['{ keepViews: null }', { keepViews: null }]
  ]
  it.each(bad)('%s → TypeError ERR_INVALID_ARG_TYPE, and no protection change', (_name, x) => {
    const v = new Uint8Array(m.view(r, 0, 8))
    typeErr(() => m.protect(r, 0, PS, 'none', x))
    expect(v.length).toBe(8) // the call stopped before detaching anything
    v[0] = 1 // and before mprotect: still writable
    m.detach(v.buffer)
    stillWorks()
  })

  const good = [['undefined', undefined], ['{}', {}], ['{ keepViews: false }', { keepViews: false }], ['{ keepViews: undefined }', { keepViews: undefined }]]
  it.each(good)("%s → the default: 'none' detaches the views", (_name, x) => {
    const v = m.view(r, 0, 8)
    m.protect(r, 0, PS, 'none', x)
    expect(v.byteLength).toBe(0)
    m.protect(r, 0, PS, 'readwrite', x)
    stillWorks()
  })
})

describe('lock options', () => {
  /** @type {Array<[string, any]>} */
  const bad = [
    ['null', null],
    ['a string', 'onFault'],
    ['a number', 1],
    ['true', true],
    ['{ onFault: "yes" }', { onFault: 'yes' }],
    ['{ onFault: 1 }', { onFault: 1 }],
    ['{ onFault: null }', { onFault: null }]
  ]
  it.each(bad)('%s → TypeError ERR_INVALID_ARG_TYPE, for a region and for a buffer', (_name, x) => {
    typeErr(() => m.lock(r, 0, PS, x))
    typeErr(() => m.lock(Buffer.alloc(8), 0, 8, x))
    stillWorks()
  })

  const good = [['undefined', undefined], ['{}', {}], ['{ onFault: false }', { onFault: false }], ['{ onFault: true }', { onFault: true }]]
  it.each(good)('%s → locks', (_name, x) => {
    m.lock(r, 0, PS, x)
    m.unlock(r, 0, PS)
    m.lock(Buffer.alloc(8), 0, 8, x)
    stillWorks()
  })
})

describe('detach', () => {
  const bad = [
    ['undefined', undefined],
    ['a plain object', {}],
    ['a Region', r],
    ['a Buffer (a view, not an ArrayBuffer)', Buffer.alloc(8)],
    ['a Uint8Array', new Uint8Array(8)],
    ['a SharedArrayBuffer', new SharedArrayBuffer(8)]
  ]
  it.each(bad)('%s → TypeError ERR_INVALID_ARG_TYPE', (_name, x) => {
    typeErr(() => m.detach(x))
    stillWorks()
  })

  it('an ArrayBuffer that cannot be detached (WebAssembly memory) → TypeError ERR_INVALID_ARG_VALUE', () => {
    // @ts-expect-error WebAssembly is a global of Node that @types/node leaves to the DOM library
    const mem = new WebAssembly.Memory({ initial: 1 })
    valueErr(() => m.detach(mem.buffer))
    expect(mem.buffer.byteLength).toBe(65536)
  })
})
