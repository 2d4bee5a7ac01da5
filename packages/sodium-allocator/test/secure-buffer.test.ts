// sodium_malloc, sodium_allocarray, sodium_free and sodium_mprotect_* in this
// process: the observable behaviour of sodium-native 4.3.1 where it is the
// same, and the typed errors where it is not (see src/secure-buffer.ts).
import { afterEach, describe, expect, it } from 'vitest'
import { PAGE, expectCode, native, ours, outcome } from './helpers.js'

const SIZES = [1, 16, 31, 32, 33, 100, 1000, PAGE - 17, PAGE - 16, PAGE - 1, PAGE, PAGE + 1, 3 * PAGE + 7]
type Fn = (...args: unknown[]) => unknown

/** What a fresh secure buffer looks like from JavaScript. */
function shape(buf: Buffer & { secure?: boolean }): Record<string, unknown> {
  return {
    isBuffer: Buffer.isBuffer(buf),
    length: buf.length,
    byteOffset: buf.byteOffset,
    arrayBuffer: buf.buffer.byteLength,
    secure: buf.secure,
    secureDescriptor: Object.getOwnPropertyDescriptor(buf, 'secure'),
    filled: buf.every((b) => b === 0xdb)
  }
}

const live: Buffer[] = []
afterEach(() => {
  for (const buf of live.splice(0)) ours.sodium_free(buf)
})
function malloc(n: number): Buffer & { secure: boolean } {
  const buf = ours.sodium_malloc(n)
  live.push(buf)
  return buf
}

describe('sodium_malloc', () => {
  it('returns a Buffer that looks exactly like sodium-native’s', () => {
    for (const n of [0, ...SIZES]) {
      const theirs = native.sodium_malloc(n)
      expect(shape(malloc(n))).toEqual(shape(theirs))
      native.sodium_free(theirs)
    }
  })

  it('gives each buffer its own ArrayBuffer of exactly its size', () => {
    const a = malloc(32)
    const b = malloc(32)
    expect(a.buffer).not.toBe(b.buffer)
    expect([a.buffer.byteLength, b.buffer.byteLength]).toEqual([32, 32])
    a.fill(1)
    expect(b.every((x) => x === 0xdb)).toBe(true)
  })

  it('allocates locked, no-dump, guarded memory with a canary and reports it', () => {
    for (const n of SIZES) {
      const p = ours.secureBufferProtections(malloc(n))
      expect(p).toMatchObject({ locked: true, noDump: true, guardPages: true, canary: true, isolated: true, secretmem: false, access: 'readwrite' })
    }
  })

  it('works for size 0, as sodium-native', () => {
    const z = malloc(0)
    expect([z.length, z.secure, ours.isSecureBuffer(z)]).toEqual([0, true, true])
    ours.sodium_mprotect_noaccess(z)
    ours.sodium_mprotect_readwrite(z)
    ours.sodium_free(z)
    expect([z.secure, ours.isSecureBuffer(z)]).toEqual([false, false])
    ours.sodium_free(z)
  })

  it('throws typed errors for invalid sizes where sodium-native truncates or wraps', () => {
    const before = ours.defaultSodiumAllocator().stats()
    for (const bad of [-1, -0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 30 + 1, 2 ** 32, 2 ** 53]) {
      const err = expectCode(() => ours.sodium_malloc(bad), 'ERR_OUT_OF_RANGE')
      expect(err).toBeInstanceOf(RangeError)
    }
    expect(ours.defaultSodiumAllocator().stats().allocations).toBe(before.allocations)
  })

  it('throws sodium-native’s errors for a non-number size and a wrong argument count', () => {
    for (const bad of ['3', null, undefined, {}, 3n]) {
      expect(outcome(() => ours.sodium_malloc(bad as never))).toEqual(outcome(() => native.sodium_malloc(bad)))
    }
    expect(outcome(() => (ours.sodium_malloc as Fn)())).toEqual(outcome(() => native.sodium_malloc()))
    expect(outcome(() => (ours.sodium_malloc as Fn)(1, 2))).toEqual(outcome(() => native.sodium_malloc(1, 2)))
  })
})

describe('sodium_allocarray', () => {
  it('allocates count * size bytes like sodium_malloc', () => {
    const a = ours.sodium_allocarray(4, 8)
    live.push(a)
    expect([a.length, a.secure, a.every((b) => b === 0xdb)]).toEqual([32, true, true])
    const z = ours.sodium_allocarray(2 ** 40, 0)
    live.push(z)
    expect(z.length).toBe(0)
  })

  it('throws a RangeError on overflow and on invalid counts, allocating nothing', () => {
    const before = ours.defaultSodiumAllocator().stats().allocations
    for (const [count, size] of [
      [2 ** 20, 2 ** 20],
      [2 ** 30, 2],
      [3, 2 ** 30],
      [Number.MAX_SAFE_INTEGER, 2],
      [-1, 8],
      [8, 0.5],
      [Number.NaN, 1]
    ]) {
      const err = expectCode(() => ours.sodium_allocarray(count as number, size as number), 'ERR_OUT_OF_RANGE')
      expect(err).toBeInstanceOf(RangeError)
    }
    expect(outcome(() => (ours.sodium_allocarray as Fn)(1)).error?.message).toBe('sodium_allocarray requires 2 argument(s)')
    expect(ours.defaultSodiumAllocator().stats().allocations).toBe(before)
  })
})

describe('sodium_free', () => {
  it('wipes, detaches (byteLength 0) and clears secure', () => {
    for (const n of SIZES) {
      const buf = ours.sodium_malloc(n)
      const other = new Uint32Array(buf.buffer, 0, n >> 2)
      buf.fill(0x5a)
      ours.sodium_free(buf)
      expect([buf.length, buf.byteLength, buf.buffer.byteLength, buf[0], other.length, buf.secure]).toEqual([0, 0, 0, undefined, 0, false])
    }
  })

  it('is a no-op the second time, and for empty typed arrays, as in sodium-native', () => {
    const buf = ours.sodium_malloc(32)
    ours.sodium_free(buf)
    const before = ours.defaultSodiumAllocator().stats()
    expect(outcome(() => ours.sodium_free(buf))).toEqual({ value: undefined })
    expect(ours.defaultSodiumAllocator().stats()).toEqual(before)
    for (const empty of [new Uint8Array(0), Buffer.alloc(0)]) {
      expect(outcome(() => ours.sodium_free(empty))).toEqual(outcome(() => native.sodium_free(empty)))
    }
  })

  it('frees through any typed array over the buffer’s memory', () => {
    const buf = ours.sodium_malloc(64)
    ours.sodium_free(new BigUint64Array(buf.buffer))
    expect([buf.length, buf.secure]).toEqual([0, false])
  })

  it('frees a no-access buffer without touching it from JavaScript', () => {
    const buf = ours.sodium_malloc(32)
    ours.sodium_mprotect_noaccess(buf)
    ours.sodium_free(buf)
    expect([buf.length, buf.secure]).toEqual([0, false])
    const ro = ours.sodium_malloc(32)
    ours.sodium_mprotect_readonly(ro)
    ours.sodium_free(ro)
    expect(ro.length).toBe(0)
  })

  it('throws sodium-native’s errors for other buffers and bad arguments', () => {
    for (const bad of [Buffer.alloc(8), new Uint16Array(4), {}, 'x', new DataView(new ArrayBuffer(4)), null]) {
      expect(outcome(() => ours.sodium_free(bad as never))).toEqual(outcome(() => native.sodium_free(bad)))
    }
    expect(outcome(() => (ours.sodium_free as Fn)())).toEqual(outcome(() => native.sodium_free()))
    expectCode(() => ours.sodium_free(Buffer.alloc(8)), 'ERR_NOT_SECURE_BUFFER')
  })

  it('does not trust the secure property', () => {
    const fake = Object.assign(Buffer.alloc(32), { secure: true })
    expectCode(() => ours.sodium_free(fake), 'ERR_NOT_SECURE_BUFFER')
    expectCode(() => ours.sodium_mprotect_noaccess(fake), 'ERR_NOT_SECURE_BUFFER')
    expect(ours.isSecureBuffer(fake)).toBe(false)
  })

  it('never lets a kept view read a later secret', () => {
    const first = ours.sodium_malloc(32)
    const kept = first.subarray(0, 16)
    ours.sodium_free(first)
    const second = malloc(32)
    second.fill(0x42)
    expect([kept.length, kept[0]]).toEqual([0, undefined])
  })

  it('returns freed mappings to a cache (after the quarantine) instead of unmapping them', async () => {
    const sodium = ours.defaultSodiumAllocator()
    const turn = () => new Promise((resolve) => setImmediate(resolve))
    // One synchronous loop fills the quarantine (bounded: 256 KiB of pages) ...
    for (let i = 0; i < 100; i++) ours.sodium_free(ours.sodium_malloc(32))
    await turn()
    // ... after a turn, loops reuse what it released: no new mappings.
    for (let i = 0; i < 100; i++) ours.sodium_free(ours.sodium_malloc(32))
    await turn()
    const before = sodium.stats()
    for (let i = 0; i < 100; i++) ours.sodium_free(ours.sodium_malloc(32))
    const after = sodium.stats()
    expect(after.mappings).toBe(before.mappings)
    expect(after.cacheHits - before.cacheHits).toBe(100)
  })
})

describe('sodium_mprotect_*', () => {
  const fns = ['sodium_mprotect_noaccess', 'sodium_mprotect_readonly', 'sodium_mprotect_readwrite'] as const

  it('change the access of the pages, reported by secureBufferProtections', () => {
    const buf = malloc(32)
    buf.fill(3)
    ours.sodium_mprotect_noaccess(buf)
    expect(ours.secureBufferProtections(buf).access).toBe('none')
    // The view stays attached, as in libsodium (touching it now would kill the process).
    expect(buf.length).toBe(32)
    ours.sodium_mprotect_readonly(buf)
    expect([ours.secureBufferProtections(buf).access, buf[31]]).toEqual(['read', 3])
    ours.sodium_mprotect_readwrite(buf)
    buf[0] = 9
    expect([ours.secureBufferProtections(buf).access, buf[0]]).toEqual(['readwrite', 9])
  })

  it('accept any typed array over a secure buffer, as sodium-native does', () => {
    const buf = malloc(64)
    ours.sodium_mprotect_readonly(buf.subarray(8))
    expect(ours.secureBufferProtections(buf).access).toBe('read')
    ours.sodium_mprotect_readwrite(new Uint32Array(buf.buffer))
    expect(ours.secureBufferProtections(buf).access).toBe('readwrite')
  })

  it('throw sodium-native’s TypeError for anything but a typed array', () => {
    for (const fn of fns) {
      for (const bad of [{}, 'x', 42, null, new DataView(new ArrayBuffer(4)), new ArrayBuffer(4)]) {
        expect(outcome(() => ours[fn](bad as never))).toEqual(outcome(() => native[fn](bad)))
      }
      expect(outcome(() => (ours[fn] as Fn)())).toEqual(outcome(() => native[fn]()))
    }
  })

  // sodium-native reads a guessed header in front of a non-secure buffer and
  // mprotects whatever range it finds there (usually a crash; sometimes an
  // 'Error: failed to (un)lock buffer'; sometimes it succeeds on unrelated
  // memory), so it is not called here: the messages are the ones its
  // sodium_mprotect_* functions throw when mprotect fails.
  it('throw sodium-native’s failure error for a non-secure or freed buffer (where sodium-native crashes)', () => {
    const freed = ours.sodium_malloc(32)
    ours.sodium_free(freed)
    const failure = { sodium_mprotect_noaccess: 'failed to lock buffer', sodium_mprotect_readonly: 'failed to unlock buffer', sodium_mprotect_readwrite: 'failed to unlock buffer' }
    for (const fn of fns) {
      for (const bad of [Buffer.alloc(32), new Uint8Array(4096), new Uint8Array(0), freed]) {
        const err = expectCode(() => ours[fn](bad), 'ERR_NOT_SECURE_BUFFER')
        expect([err.constructor, err.message]).toEqual([Error, failure[fn]])
      }
    }
  })
})

describe('sodium_mlock, sodium_munlock, sodium_memzero on secure buffers', () => {
  it('munlock wipes a secure buffer but leaves it locked (its allocator owns that lock)', () => {
    const buf = malloc(32)
    buf.fill(0x11)
    ours.sodium_munlock(buf)
    expect(buf.every((b) => b === 0)).toBe(true)
    expect(ours.secureBufferProtections(buf).locked).toBe(true)
    ours.sodium_mlock(buf)
    ours.sodium_memzero(buf)
    expect(buf.length).toBe(32)
  })

  it('mlock and munlock work on ordinary buffers', () => {
    const plain = Buffer.alloc(4096, 1)
    ours.sodium_mlock(plain)
    ours.sodium_munlock(plain)
    expect(plain.every((b) => b === 0)).toBe(true)
  })
})

describe('secureBufferProtections and isSecureBuffer', () => {
  it('refuse anything that is not a live secure buffer', () => {
    expectCode(() => ours.secureBufferProtections(Buffer.alloc(4)), 'ERR_NOT_SECURE_BUFFER')
    expect([ours.isSecureBuffer(Buffer.alloc(4)), ours.isSecureBuffer('x'), ours.isSecureBuffer(malloc(4))]).toEqual([false, false, true])
  })
})
