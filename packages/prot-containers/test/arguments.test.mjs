// Every bad argument kind, for every constructor and method: a typed error,
// nothing allocated (allocator stats unchanged), and the container still usable.
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PageAllocator, ProtBuf, ProtKey, SlotAllocator, expectCode, expectReject, live, openFds, pc } from './helpers.mjs'

// Lengths: the wrong type, then numbers that are not an integer from 1 to 2^30.
const NOT_NUMBERS = [undefined, null, '32', 32n, {}, [32], true, Symbol('n'), () => 32, new Number(32)]
const BAD_NUMBERS = [0, -0, -1, -32, 1.5, 31.999, NaN, Infinity, -Infinity, 2 ** 30 + 1, 2 ** 53, Number.MAX_VALUE]
const NOT_OPTIONS = [null, 'options', 5, true, Symbol('o')]
const NOT_ALLOCATORS = [null, {}, 'page', 5, [], { alloc () {}, free () {} }, new Map()]
const NOT_SOURCES = ['a secret string', 5, null, undefined, true, [1, 2, 3], { length: 3, 0: 1 }, new Set([1]), Symbol('s')]

// Allocators the tests pass explicitly, and the defaults: none may change.
const pageA = new PageAllocator({ secretmem: 'off' })
const slotA = new SlotAllocator()
const watched = () => [pageA, slotA, pc.defaultBufAllocator(), pc.defaultKeyAllocator()].map(live)
let before
beforeEach(() => { before = watched() })
afterEach(() => { expect(watched()).toEqual(before) })

describe('lengths (alloc, random)', () => {
  /** @type {Array<[string, (...args: any[]) => any]>} */
  const ctors = [
    ['ProtBuf.alloc', (n, o) => ProtBuf.alloc(n, o)],
    ['ProtBuf.random', (n, o) => ProtBuf.random(n, o)],
    ['ProtKey.alloc', (n, o) => ProtKey.alloc(n, o)],
    ['ProtKey.random', (n, o) => ProtKey.random(n, o)]
  ]
  for (const [name, make] of ctors) {
    it(`${name}: a non-number is ERR_INVALID_ARG_TYPE (TypeError)`, () => {
      for (const n of NOT_NUMBERS) expectCode(() => make(n), 'ERR_INVALID_ARG_TYPE', 'TypeError')
      for (const n of NOT_NUMBERS) expectCode(() => make(n, { allocator: pageA }), 'ERR_INVALID_ARG_TYPE', 'TypeError')
    })

    it(`${name}: zero, negative, NaN, fractional, infinite or huge is ERR_OUT_OF_RANGE (RangeError)`, () => {
      for (const n of BAD_NUMBERS) {
        const err = expectCode(() => make(n, { allocator: pageA }), 'ERR_OUT_OF_RANGE', 'RangeError')
        expect(err).toBeInstanceOf(pc.ContainerError)
      }
    })

    it(`${name}: options that are not an object, or an allocator that is not one, are ERR_INVALID_ARG_TYPE`, () => {
      for (const o of NOT_OPTIONS) expectCode(() => make(32, o), 'ERR_INVALID_ARG_TYPE', 'TypeError')
      for (const a of NOT_ALLOCATORS) expectCode(() => make(32, { allocator: a }), 'ERR_INVALID_ARG_TYPE', 'TypeError')
    })
  }

  it('ProtKey refuses an allocator whose allocations share pages (ERR_NOT_ISOLATED), before allocating', () => {
    expectCode(() => ProtKey.alloc(32, { allocator: slotA }), 'ERR_NOT_ISOLATED')
    expectCode(() => ProtKey.random(32, { allocator: slotA }), 'ERR_NOT_ISOLATED')
    expectCode(() => ProtKey.from(randomBytes(32), { allocator: slotA }), 'ERR_NOT_ISOLATED')
    expectCode(() => ProtKey.alloc(32, { allocator: pc.defaultBufAllocator() }), 'ERR_NOT_ISOLATED')
  })
})

describe('sources (from)', () => {
  /** @type {Array<[string, (...args: any[]) => any]>} */
  const sources = [['ProtBuf.from', (s, o) => ProtBuf.from(s, o)], ['ProtKey.from', (s, o) => ProtKey.from(s, o)]]
  for (const [name, from] of sources) {
    it(`${name}: strings and other non-bytes are ERR_INVALID_ARG_TYPE; a string is named as such`, () => {
      for (const s of NOT_SOURCES) expectCode(() => from(s), 'ERR_INVALID_ARG_TYPE', 'TypeError')
      expect(expectCode(() => from('hunter2'), 'ERR_INVALID_ARG_TYPE').message).toMatch(/string/)
      // A container is not a source either: use its bytes (or a window) explicitly.
      const buf = ProtBuf.random(8)
      expectCode(() => from(buf), 'ERR_INVALID_ARG_TYPE')
      buf.dispose()
    })

    it(`${name}: empty or detached bytes are ERR_OUT_OF_RANGE`, () => {
      expectCode(() => from(new Uint8Array(0)), 'ERR_OUT_OF_RANGE', 'RangeError')
      expectCode(() => from(new ArrayBuffer(0)), 'ERR_OUT_OF_RANGE', 'RangeError')
      expectCode(() => from(Buffer.alloc(8).subarray(4, 4)), 'ERR_OUT_OF_RANGE', 'RangeError')
      const key = ProtKey.random(8)
      const stale = key.read((b) => b)
      key.dispose()
      expectCode(() => from(stale), 'ERR_OUT_OF_RANGE', 'RangeError')
      expectCode(() => from(stale.buffer), 'ERR_OUT_OF_RANGE', 'RangeError')
    })

    it(`${name}: a non-boolean wipeSource is ERR_INVALID_ARG_TYPE and the source is not wiped`, () => {
      const src = randomBytes(16)
      const copy = Buffer.from(src)
      for (const w of ['yes', 1, 0, null, {}]) expectCode(() => from(src, { wipeSource: w }), 'ERR_INVALID_ARG_TYPE', 'TypeError')
      for (const o of NOT_OPTIONS) expectCode(() => from(src, o), 'ERR_INVALID_ARG_TYPE')
      for (const a of NOT_ALLOCATORS) expectCode(() => from(src, { allocator: a, wipeSource: true }), 'ERR_INVALID_ARG_TYPE')
      expect(src.equals(copy)).toBe(true)
    })
  }

  it('a refused allocator does not wipe the source', () => {
    const src = randomBytes(16)
    const copy = Buffer.from(src)
    expectCode(() => ProtKey.from(src, { allocator: slotA, wipeSource: true }), 'ERR_NOT_ISOLATED')
    expect(src.equals(copy)).toBe(true)
  })
})

describe('methods', () => {
  it('read/write/equals/view refuse bad arguments and leave the container usable', () => {
    const key = ProtKey.random(32, { allocator: pageA })
    const buf = ProtBuf.random(32, { allocator: slotA })
    try {
      for (const fn of [undefined, null, 'fn', 1, {}, Promise.resolve()]) {
        expectCode(() => key.read(fn), 'ERR_INVALID_ARG_TYPE', 'TypeError')
        expectCode(() => key.write(fn), 'ERR_INVALID_ARG_TYPE', 'TypeError')
      }
      expect(key.protections().access).toBe('none')
      expect(key.windows).toEqual({ readers: 0, writer: false })
      for (const other of ['x', 1, null, undefined, {}, new ArrayBuffer(32), key]) {
        expectCode(() => buf.equals(other), 'ERR_INVALID_ARG_TYPE', 'TypeError')
      }
      for (const other of ['x', 1, null, undefined, {}, new ArrayBuffer(32), buf]) {
        expectCode(() => key.equals(other), 'ERR_INVALID_ARG_TYPE', 'TypeError')
      }
      for (const t of [DataView, Buffer, 'Float64Array', 8, null]) expectCode(() => buf.view(t), 'ERR_INVALID_ARG_TYPE')
      expect(key.read((b) => b.length)).toBe(32)
      expect(buf.bytes.length).toBe(32)
    } finally {
      key.dispose()
      buf.dispose()
    }
  })

  it('setLeakWarnings takes a boolean only', () => {
    for (const v of [1, 'true', null, undefined]) expectCode(() => pc.setLeakWarnings(v), 'ERR_INVALID_ARG_TYPE', 'TypeError')
  })
})

describe('readers (fromFd, fromFile, fromStream)', () => {
  const classes = [['ProtBuf', ProtBuf], ['ProtKey', ProtKey]]
  for (const [name, C] of classes) {
    it(`${name}.fromFd: a bad fd is ERR_INVALID_ARG_TYPE; an fd out of range or closed is Node's error; no memory kept`, () => {
      for (const fd of [-1, 1.5, NaN, '0', null, undefined, {}, 2n]) {
        expectCode(() => C.fromFd(fd, { allocator: pageA }), 'ERR_INVALID_ARG_TYPE', 'TypeError')
      }
      expectCode(() => C.fromFd(2 ** 31, { allocator: pageA }), 'ERR_OUT_OF_RANGE')
      expectCode(() => C.fromFd(999999, { allocator: pageA }), 'EBADF')
    })

    it(`${name}.fromFd/fromFile: a bad maxLength is refused before anything is read`, () => {
      const fds = openFds()
      for (const max of [0, -1, 1.5, NaN, 2 ** 31]) {
        expectCode(() => C.fromFile('/proc/self/stat', { maxLength: max, allocator: pageA }), 'ERR_OUT_OF_RANGE', 'RangeError')
      }
      for (const max of ['64', {}, 64n]) {
        expectCode(() => C.fromFile('/proc/self/stat', { maxLength: max, allocator: pageA }), 'ERR_INVALID_ARG_TYPE', 'TypeError')
      }
      expect(openFds()).toBe(fds) // the file opened for each attempt was closed
    })

    it(`${name}.fromFile: a path that is not a string or URL is ERR_INVALID_ARG_TYPE; a missing file is ENOENT`, () => {
      for (const p of [42, null, undefined, Buffer.from('/etc/hostname'), {}]) {
        expectCode(() => C.fromFile(p, { allocator: pageA }), 'ERR_INVALID_ARG_TYPE', 'TypeError')
      }
      expectCode(() => C.fromFile('/nonexistent/tarsjs-secret', { allocator: pageA }), 'ENOENT')
      for (const o of NOT_OPTIONS) expectCode(() => C.fromFile('/proc/self/stat', o), 'ERR_INVALID_ARG_TYPE')
    })

    it(`${name}.fromStream: a non-stream, bad options or a bad allocator reject with typed errors`, async () => {
      for (const s of [null, undefined, 'a string', 5, {}, [Buffer.from('x')]]) {
        await expectReject(C.fromStream(s, { allocator: pageA }), 'ERR_INVALID_ARG_TYPE')
      }
      for (const o of NOT_OPTIONS) await expectReject(C.fromStream(Readable.from([Buffer.from('x')]), o), 'ERR_INVALID_ARG_TYPE')
      for (const a of NOT_ALLOCATORS) await expectReject(C.fromStream(Readable.from([Buffer.from('x')]), { allocator: a }), 'ERR_INVALID_ARG_TYPE')
      await expectReject(C.fromStream(Readable.from([Buffer.from('x')]), { allocator: pageA, maxLength: 0 }), 'ERR_OUT_OF_RANGE')
    })
  }

  it('ProtKey readers refuse a slot allocator before reading anything', async () => {
    expectCode(() => ProtKey.fromFd(0, { allocator: slotA }), 'ERR_NOT_ISOLATED')
    expectCode(() => ProtKey.fromFile('/proc/self/stat', { allocator: slotA }), 'ERR_NOT_ISOLATED')
    const chunk = Buffer.from('secret')
    await expectReject(ProtKey.fromStream(Readable.from([chunk]), { allocator: slotA }), 'ERR_NOT_ISOLATED')
    expect(chunk.toString()).toBe('secret') // not consumed, not wiped
  })
})
