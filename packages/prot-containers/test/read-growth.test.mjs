// The readers grow their protected buffer with the data: what a read costs in
// locked memory follows the secret's length, not maxLength, and the documented
// maximum (2^30) is accepted. An allocator wrapper records every size asked
// for and the most memory the allocator had locked at any moment.
import { randomBytes } from 'node:crypto'
import { closeSync, openSync } from 'node:fs'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PS, PageAllocator, ProtBuf, ProtKey, SlotAllocator, expectCode, expectReject, live, tempFiles } from './helpers.mjs'

const fileWith = tempFiles('prot-containers-grow-')

/** Delegates to `inner`; records each alloc size and the peak of the inner allocator's locked and live bytes. */
class PeakAllocator {
  constructor (inner) {
    this.inner = inner
    this.name = 'peak'
    this.capabilities = inner.capabilities
    this.sizes = []
    this.peakLocked = 0
    this.peakBytes = 0
  }

  alloc (size) {
    this.sizes.push(size)
    const a = this.inner.alloc(size)
    const s = this.inner.stats()
    this.peakLocked = Math.max(this.peakLocked, s.lockedBytes)
    this.peakBytes = Math.max(this.peakBytes, s.bytes)
    return a
  }

  free (a) { return this.inner.free(a) }
  view (a) { return this.inner.view(a) }
  protect (a, access) { return this.inner.protect(a, access) }
  protections (a) { return this.inner.protections(a) }
  stats () { return this.inner.stats() }
}

/** @type {Array<[string, any, () => any]>} */
const CASES = [
  ['ProtBuf', ProtBuf, () => new SlotAllocator({ mlock: 'required' })],
  ['ProtKey', ProtKey, () => new PageAllocator({ secretmem: 'off', mlock: 'required' })]
]

let allocators
beforeEach(() => { allocators = [] })
afterEach(() => {
  for (const a of allocators) expect(live(a)).toEqual({ allocations: 0, bytes: 0 })
})
function peak (make) {
  const inner = make()
  allocators.push(inner)
  return new PeakAllocator(inner)
}

/** @type {Array<[string, (...args: any[]) => any]>} */
const readers = [
  ['fromFile', (C, secret, options) => C.fromFile(fileWith(secret), options)],
  ['fromFd', (C, secret, options) => {
    const fd = openSync(fileWith(secret), 'r')
    try {
      return C.fromFd(fd, options)
    } finally {
      closeSync(fd)
    }
  }],
  ['fromStream', (C, secret, options) => C.fromStream(Readable.from([Buffer.from(secret)]), options)]
]

describe('readers grow with the data', () => {
  for (const [name, C, make] of CASES) {
    for (const [reader, read] of readers) {
      it(`${name}.${reader}: maxLength 2^30 is accepted; a 3-byte secret locks at most two pages`, async () => {
        const a = peak(make)
        const secret = randomBytes(3)
        const c = await read(C, secret, { maxLength: 2 ** 30, allocator: a })
        expect(c.byteLength).toBe(3)
        expect(c.equals(secret)).toBe(true)
        expect(Math.max(...a.sizes)).toBeLessThanOrEqual(1024)
        expect(a.peakBytes).toBeLessThanOrEqual(1024 + 3)
        expect(a.peakLocked).toBeLessThanOrEqual(2 * PS)
        c.dispose()
      })

      it(`${name}.${reader}: a 32-byte key with the default maxLength allocates 1 KiB of scratch at most`, async () => {
        const a = peak(make)
        const c = await read(C, randomBytes(32), { allocator: a })
        expect(a.sizes).toEqual([1024, 32])
        c.dispose()
      })

      it(`${name}.${reader}: secrets across every growth step are read whole, up to exactly maxLength`, async () => {
        for (const length of [1, 1023, 1024, 1025, 2048, 2049, 4097, 10000]) {
          const a = peak(make)
          const secret = randomBytes(length)
          const c = await read(C, secret, { maxLength: length, allocator: a })
          expect(c.byteLength).toBe(length)
          expect(c.equals(secret)).toBe(true)
          // Doubling: never more than twice the secret (and its final exact copy) live at once.
          expect(a.peakBytes).toBeLessThanOrEqual(Math.max(1024, 2 * length) + length)
          c.dispose()
          const tooLong = () => read(C, randomBytes(length + 1), { maxLength: length, allocator: a })
          if (reader === 'fromStream') await expectReject(tooLong(), 'ERR_SECRET_TOO_LONG')
          else expectCode(tooLong, 'ERR_SECRET_TOO_LONG')
        }
      })
    }

    it(`${name}.fromFile('/dev/zero'): an endless input stops at maxLength after growing to it (10000, not a power of two)`, () => {
      const a = peak(make)
      expectCode(() => C.fromFile('/dev/zero', { maxLength: 10000, allocator: a }), 'ERR_SECRET_TOO_LONG')
      expect(a.sizes).toEqual([1024, 2048, 4096, 8192, 10000, 1])
    })
  }
})
