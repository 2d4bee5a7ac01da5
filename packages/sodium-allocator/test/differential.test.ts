// Differential tests against sodium-native 4.3.1 (the real libsodium): on
// random inputs, every function returns the same result, leaves the same
// bytes in every buffer it was given (and in the bytes around them), and the
// same inputs throw in both, with the same error class and message.
// Against sodium-native 5 (last block): the same results and bytes on every
// input this package accepts (5 checks arguments with other messages).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { native, native5, ours, outcome } from './helpers.js'

const RUNS = 400

type Kind = 'Buffer' | 'Uint8Array' | 'Int8Array' | 'Uint16Array' | 'Uint32Array' | 'Float64Array' | 'BigUint64Array' | 'subarray'
const KINDS: Kind[] = ['Buffer', 'Uint8Array', 'Int8Array', 'Uint16Array', 'Uint32Array', 'Float64Array', 'BigUint64Array', 'subarray']
const WIDTH: Record<Kind, number> = {
  Buffer: 1,
  Uint8Array: 1,
  Int8Array: 1,
  Uint16Array: 2,
  Uint32Array: 4,
  Float64Array: 8,
  BigUint64Array: 8,
  subarray: 1
}

/** A description of a typed array: its element type and its bytes. Built fresh for each library. */
interface Spec {
  kind: Kind
  bytes: Uint8Array
}

interface Built {
  view: NodeJS.TypedArray
  /** Every byte of the backing store, including bytes around a subarray. */
  whole: Uint8Array
}

function build(spec: Spec): Built {
  const w = WIDTH[spec.kind]
  const n = spec.bytes.length - (spec.bytes.length % w)
  if (spec.kind === 'subarray') {
    const whole = new Uint8Array(n + 6).fill(0x77)
    whole.set(spec.bytes.subarray(0, n), 3)
    return { view: Buffer.from(whole.buffer, 3, n), whole }
  }
  const whole = new Uint8Array(n)
  whole.set(spec.bytes.subarray(0, n))
  const make: Record<Exclude<Kind, 'subarray'>, (ab: ArrayBuffer) => NodeJS.TypedArray> = {
    Buffer: (ab) => Buffer.from(ab),
    Uint8Array: (ab) => new Uint8Array(ab),
    Int8Array: (ab) => new Int8Array(ab),
    Uint16Array: (ab) => new Uint16Array(ab),
    Uint32Array: (ab) => new Uint32Array(ab),
    Float64Array: (ab) => new Float64Array(ab),
    BigUint64Array: (ab) => new BigUint64Array(ab)
  }
  return { view: make[spec.kind](whole.buffer), whole }
}

const kind = fc.constantFrom(...KINDS)
const bytes = (max = 48): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: 0, maxLength: max })
const spec = (max = 48): fc.Arbitrary<Spec> => fc.record({ kind, bytes: bytes(max) })
/** Two specs of the same byte length (most of the time) — what the two-buffer functions need. */
const pair = (max = 40): fc.Arbitrary<[Spec, Spec]> =>
  fc
    .tuple(kind, bytes(max), fc.constantFrom('same', 'random', 'close', 'other-length'), fc.nat(), fc.uint8Array({ minLength: 0, maxLength: max }))
    .map(([k, a, relation, at, other]) => {
      let b: Uint8Array
      if (relation === 'same') b = a.slice()
      else if (relation === 'close') {
        b = a.slice()
        if (b.length > 0) b[at % b.length] = ((b[at % b.length] as number) + 1) & 0xff
      } else if (relation === 'random') {
        b = new Uint8Array(a.length).map((_, i) => other[i % Math.max(1, other.length)] ?? 0)
      } else b = other
      return [
        { kind: k, bytes: a },
        { kind: k, bytes: b }
      ]
    })

/** Values that sodium-native reads as uint32 (and some it rejects). */
const lengthArg = (max: number): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(-1, -0, 1.5, 2.9, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32 + 3, 2 ** 32, -(2 ** 31)) },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: fc.constantFrom<unknown>('3', null, undefined, {}, 3n, true) }
  )

const notTypedArray = fc.constantFrom<unknown>(new DataView(new ArrayBuffer(8)), new ArrayBuffer(8), 'abcd', 42, null, undefined, {}, [1, 2])

type Lib = typeof ours

/** Runs `call` against both libraries on fresh copies of the inputs; compares outcome and bytes. */
function same(specs: Spec[], call: (lib: Lib, views: NodeJS.TypedArray[]) => unknown): void {
  const a = specs.map(build)
  const b = specs.map(build)
  const theirs = outcome(() => call(native as Lib, a.map((x) => x.view)))
  const mine = outcome(() => call(ours, b.map((x) => x.view)))
  expect(mine).toEqual(theirs)
  expect(b.map((x) => Buffer.from(x.whole).toString('hex'))).toEqual(a.map((x) => Buffer.from(x.whole).toString('hex')))
}

/** The same, with arguments that may not be typed arrays at all. */
function sameRaw(call: (lib: Lib) => unknown): void {
  expect(outcome(() => call(ours))).toEqual(outcome(() => call(native as Lib)))
}

describe('differential: sodium_memcmp', () => {
  it('returns the same result on random buffers', () => {
    fc.assert(fc.property(pair(), (specs) => same(specs, (lib, [x, y]) => lib.sodium_memcmp(x!, y!))), { numRuns: RUNS })
  })
  it('throws the same errors for bad arguments', () => {
    fc.assert(
      fc.property(notTypedArray, spec(), fc.boolean(), (bad, s, first) => {
        sameRaw((lib) => (first ? lib.sodium_memcmp(bad as never, build(s).view) : lib.sodium_memcmp(build(s).view, bad as never)))
      }),
      { numRuns: 100 }
    )
    sameRaw((lib) => (lib.sodium_memcmp as (...a: unknown[]) => unknown)(Buffer.alloc(2)))
    sameRaw((lib) => (lib.sodium_memcmp as (...a: unknown[]) => unknown)(Buffer.alloc(2), Buffer.alloc(2), 2))
  })
})

describe('differential: sodium_compare', () => {
  it('returns the same order on random little-endian numbers', () => {
    fc.assert(fc.property(pair(), (specs) => same(specs, (lib, [x, y]) => lib.sodium_compare(x!, y!))), { numRuns: RUNS })
  })
  it('throws the same errors for bad arguments', () => {
    fc.assert(
      fc.property(notTypedArray, spec(), fc.boolean(), (bad, s, first) => {
        sameRaw((lib) => (first ? lib.sodium_compare(bad as never, build(s).view) : lib.sodium_compare(build(s).view, bad as never)))
      }),
      { numRuns: 100 }
    )
    sameRaw((lib) => (lib.sodium_compare as (...a: unknown[]) => unknown)())
  })
})

describe('differential: sodium_is_zero', () => {
  const mostlyZero = fc
    .tuple(kind, fc.nat({ max: 48 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 2 }))
    .map(([k, n, sets]) => {
      const b = new Uint8Array(n)
      for (const [at, v] of sets) if (n > 0) b[at % n] = v
      return { kind: k, bytes: b } as Spec
    })
  it('gives the same answer, with and without a length', () => {
    fc.assert(
      fc.property(fc.oneof(mostlyZero, spec()), fc.option(lengthArg(56), { nil: undefined }), (s, len) =>
        same([s], (lib, [x]) => (len === undefined ? lib.sodium_is_zero(x!) : lib.sodium_is_zero(x!, len as number)))
      ),
      { numRuns: RUNS }
    )
  })
  it('throws the same errors for bad arguments', () => {
    fc.assert(fc.property(notTypedArray, (bad) => sameRaw((lib) => lib.sodium_is_zero(bad as never))), { numRuns: 30 })
    sameRaw((lib) => (lib.sodium_is_zero as (...a: unknown[]) => unknown)())
    sameRaw((lib) => (lib.sodium_is_zero as (...a: unknown[]) => unknown)(new Uint8Array([0, 1]), 1, 2))
  })
})

describe('differential: sodium_increment', () => {
  const carries = fc
    .tuple(kind, fc.nat({ max: 40 }), fc.nat({ max: 40 }), fc.uint8Array({ maxLength: 40 }))
    .map(([k, n, ff, tail]) => {
      const b = new Uint8Array(n)
      b.fill(0xff, 0, Math.min(ff, n))
      b.set(tail.subarray(0, Math.max(0, n - ff)), Math.min(ff, n))
      return { kind: k, bytes: b } as Spec
    })
  it('leaves the same bytes, carries included', () => {
    fc.assert(fc.property(fc.oneof(carries, spec()), (s) => same([s], (lib, [x]) => lib.sodium_increment(x!))), { numRuns: RUNS })
  })
  it('throws the same errors for bad arguments', () => {
    fc.assert(fc.property(notTypedArray, (bad) => sameRaw((lib) => lib.sodium_increment(bad as never))), { numRuns: 30 })
    sameRaw((lib) => (lib.sodium_increment as (...a: unknown[]) => unknown)())
  })
})

describe('differential: sodium_add and sodium_sub', () => {
  for (const fn of ['sodium_add', 'sodium_sub'] as const) {
    it(`${fn} leaves the same bytes on random operands`, () => {
      fc.assert(fc.property(pair(), (specs) => same(specs, (lib, [x, y]) => lib[fn](x!, y!))), { numRuns: RUNS })
    })
    it(`${fn} agrees when the operands overlap`, () => {
      fc.assert(
        fc.property(bytes(40), fc.nat({ max: 32 }), fc.integer({ min: -3, max: 3 }), (base, len, shift) => {
          fc.pre(len + 3 + Math.abs(shift) <= base.length)
          const start = 3
          same([{ kind: 'Uint8Array', bytes: base }], (lib, [whole]) => {
            const all = whole as Uint8Array
            lib[fn](all.subarray(start, start + len), all.subarray(start + shift, start + shift + len))
          })
        }),
        { numRuns: 200 }
      )
    })
    it(`${fn} throws the same errors for bad arguments`, () => {
      fc.assert(
        fc.property(notTypedArray, spec(), fc.boolean(), (bad, s, first) => {
          sameRaw((lib) => (first ? lib[fn](bad as never, build(s).view) : lib[fn](build(s).view, bad as never)))
        }),
        { numRuns: 60 }
      )
    })
  }
})

describe('differential: sodium_pad', () => {
  it('pads to the same bytes and length, and rejects the same arguments', () => {
    fc.assert(
      fc.property(spec(64), lengthArg(70), lengthArg(70), (s, unpadded, block) =>
        same([s], (lib, [x]) => lib.sodium_pad(x!, unpadded as number, block as number))
      ),
      { numRuns: RUNS * 2 }
    )
  })
  it('agrees on large and non-power-of-two block sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1100 }), fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 0, max: 1200 }), (block, unpadded, extra) => {
        const size = unpadded + block + extra
        same([{ kind: 'Buffer', bytes: new Uint8Array(size).fill(0x5a) }], (lib, [x]) => lib.sodium_pad(x!, unpadded, block))
      }),
      { numRuns: 200 }
    )
  })
  it('throws the same errors for bad buffers and argument counts', () => {
    fc.assert(fc.property(notTypedArray, (bad) => sameRaw((lib) => lib.sodium_pad(bad as never, 1, 1))), { numRuns: 30 })
    sameRaw((lib) => (lib.sodium_pad as (...a: unknown[]) => unknown)(Buffer.alloc(8), 1))
  })
})

describe('differential: sodium_unpad', () => {
  /** Buffers padded by libsodium itself (valid padding), with the padding sometimes damaged. */
  const padded = fc
    .tuple(bytes(40), fc.integer({ min: 1, max: 40 }), fc.nat({ max: 20 }), fc.option(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { nil: undefined }))
    .map(([data, block, extra, damage]) => {
      const buf = Buffer.alloc(data.length + block + extra, 0x33)
      buf.set(data)
      const len = native.sodium_pad(buf, data.length, block) as number
      if (damage !== undefined) buf[damage[0] % len] = damage[1]
      return { spec: { kind: 'Buffer' as Kind, bytes: new Uint8Array(buf) }, len, block }
    })
  it('returns the same length for valid and damaged padding', () => {
    fc.assert(
      fc.property(padded, ({ spec: s, len, block }) => same([s], (lib, [x]) => lib.sodium_unpad(x!, len, block))),
      { numRuns: RUNS }
    )
  })
  it('agrees on large and non-power-of-two block sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1100 }), fc.integer({ min: 0, max: 1500 }), fc.nat({ max: 300 }), fc.boolean(), (block, data, extra, damage) => {
        const buf = Buffer.alloc(data + block + extra, 0x44)
        const len = native.sodium_pad(buf, data, block) as number
        if (damage) buf[len - 1 - (data % block)] = 0x81
        same([{ kind: 'Buffer', bytes: new Uint8Array(buf) }], (lib, [x]) => lib.sodium_unpad(x!, len, block))
      }),
      { numRuns: 200 }
    )
  })
  it('agrees on random buffers and arguments', () => {
    fc.assert(
      fc.property(spec(64), lengthArg(70), lengthArg(70), (s, paddedLen, block) => {
        const p = typeof paddedLen === 'number' ? paddedLen >>> 0 : -1
        const b = typeof block === 'number' ? block >>> 0 : -1
        const size = build(s).view.byteLength
        // libsodium leaves its result unset when padded_buflen < blocksize and
        // sodium-native returns that uninitialised value: not comparable (see below).
        fc.pre(!(p >= 0 && b >= 1 && p <= size && b <= size && p < b))
        same([s], (lib, [x]) => lib.sodium_unpad(x!, paddedLen as number, block as number))
      }),
      { numRuns: RUNS * 2 }
    )
  })
  it('throws where sodium-native would return an uninitialised value', () => {
    const buf = Buffer.alloc(32)
    expect(outcome(() => ours.sodium_unpad(buf, 3, 16)).error?.message).toBe('padded length cannot be shorter than block size')
    expect(outcome(() => ours.sodium_unpad(buf, 0, 1)).error?.message).toBe('padded length cannot be shorter than block size')
  })
  it('throws the same errors for bad buffers and argument counts', () => {
    fc.assert(fc.property(notTypedArray, (bad) => sameRaw((lib) => lib.sodium_unpad(bad as never, 1, 1))), { numRuns: 30 })
    sameRaw((lib) => (lib.sodium_unpad as (...a: unknown[]) => unknown)(Buffer.alloc(8), 1, 1, 1))
  })
})

describe('differential: sodium_memzero, sodium_mlock, sodium_munlock', () => {
  for (const fn of ['sodium_memzero', 'sodium_mlock', 'sodium_munlock'] as const) {
    it(`${fn} leaves the same bytes and throws the same errors`, () => {
      fc.assert(fc.property(spec(), (s) => same([s], (lib, [x]) => lib[fn](x!))), { numRuns: 100 })
      fc.assert(fc.property(notTypedArray, (bad) => sameRaw((lib) => lib[fn](bad as never))), { numRuns: 30 })
      sameRaw((lib) => (lib[fn] as (...a: unknown[]) => unknown)())
    })
  }
})

/** Against sodium-native 5: where ours returns, 5 returns the same and leaves the same bytes. */
function sameAs5(specs: Spec[], call: (lib: Lib, views: NodeJS.TypedArray[]) => unknown): void {
  const a = specs.map(build)
  const b = specs.map(build)
  const mine = outcome(() => call(ours, b.map((x) => x.view)))
  if (mine.error !== undefined) return
  const theirs = outcome(() => call(native5 as Lib, a.map((x) => x.view)))
  expect(mine).toEqual(theirs)
  expect(b.map((x) => Buffer.from(x.whole).toString('hex'))).toEqual(a.map((x) => Buffer.from(x.whole).toString('hex')))
}

describe('differential against sodium-native 5, on the inputs this package accepts', () => {
  const sameLength = pair().filter(([x, y]) => x.bytes.length === y.bytes.length)
  it('sodium_memcmp, sodium_compare, sodium_add, sodium_sub', () => {
    for (const fn of ['sodium_memcmp', 'sodium_compare', 'sodium_add', 'sodium_sub'] as const) {
      fc.assert(fc.property(sameLength, (specs) => sameAs5(specs, (lib, [x, y]) => lib[fn](x!, y!))), { numRuns: RUNS / 2 })
    }
  })
  it('sodium_is_zero, sodium_increment, sodium_memzero', () => {
    fc.assert(fc.property(spec(), (s) => sameAs5([s], (lib, [x]) => lib.sodium_is_zero(x!))), { numRuns: RUNS / 2 })
    fc.assert(fc.property(spec(), (s) => sameAs5([s], (lib, [x]) => lib.sodium_increment(x!))), { numRuns: RUNS / 2 })
    fc.assert(fc.property(spec(), (s) => sameAs5([s], (lib, [x]) => lib.sodium_memzero(x!))), { numRuns: 100 })
  })
  it('sodium_pad and sodium_unpad', () => {
    const sizes = fc.tuple(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 64 }))
    fc.assert(
      fc.property(sizes, ([block, unpadded, extra]) => {
        const size = unpadded + block + extra
        sameAs5([{ kind: 'Buffer', bytes: new Uint8Array(size).fill(0x5a) }], (lib, [x]) => lib.sodium_pad(x!, unpadded, block))
        const buf = Buffer.alloc(size, 0x44)
        const len = native5.sodium_pad(buf, unpadded, block) as number
        sameAs5([{ kind: 'Buffer', bytes: new Uint8Array(buf) }], (lib, [x]) => lib.sodium_unpad(x!, len, block))
      }),
      { numRuns: RUNS }
    )
  })
})
