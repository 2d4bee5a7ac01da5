/**
 * The conformance suite of the `Allocator` interface: what every backend must
 * do, whoever wrote it. It registers its tests through the test framework's
 * own `describe`/`it`/`expect`, passed in, so it runs under vitest, jest or
 * anything with the same three functions:
 *
 *   import { describe, it, expect } from 'vitest'
 *   import { runAllocatorConformance } from '@tarsjs/page-alloc/conformance'
 *   runAllocatorConformance('my backend', () => new MyAllocator(), { describe, it, expect })
 *
 * `makeAllocator` is called once per test (and once more where a second,
 * foreign allocator is needed); every test frees what it allocated.
 */
import { randomBytes } from 'node:crypto'
import { setImmediate } from 'node:timers'
import { inspect } from 'node:util'
import { serialize } from 'node:v8'
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads'
import type { Allocation, Allocator, AllocatorStats } from './allocator.js'
import { PAGE_SIZE } from './guarded-mapping.js'

/**
 * What each way of copying or printing `x` produces: structuredClone,
 * v8.serialize, postMessage, util.inspect (custom inspection off, hidden
 * properties on, and the default), spread, Object.entries, own property
 * names, JSON and String. A path that throws gives its error text.
 */
function copiesOf(x: unknown): Array<{ path: string; out: Buffer | string }> {
  const out: Array<{ path: string; out: Buffer | string }> = []
  const attempt = (path: string, fn: () => Buffer | string): void => {
    try {
      out.push({ path, out: fn() })
    } catch (err) {
      out.push({ path, out: `${path} threw ${String(err)}` })
    }
  }
  const object = x as Record<string, unknown>
  attempt('structuredClone', () => serialize(structuredClone(x)))
  attempt('v8.serialize', () => serialize(x))
  attempt('postMessage', () => {
    const { port1, port2 } = new MessageChannel()
    try {
      port1.postMessage(x)
      return serialize(receiveMessageOnPort(port2)?.message)
    } finally {
      port1.close()
    }
  })
  attempt('inspect', () => inspect(x, { customInspect: false, showHidden: true, depth: Infinity, maxArrayLength: Infinity }))
  attempt('inspect (default)', () => inspect(x, { depth: Infinity }))
  attempt('spread', () => serialize({ ...object }))
  attempt('Object.entries', () => serialize(Object.entries(object)))
  attempt('own property names', () => serialize(Object.getOwnPropertyNames(object).map((k) => [k, object[k]])))
  attempt('JSON', () => JSON.stringify(x) ?? '')
  attempt('String', () => String(x))
  return out
}

/** True when `secret` appears in `out`: as bytes, or printed as hex, as a decimal list or as latin1 text. */
function shows(out: Buffer | string, secret: Buffer): boolean {
  if (typeof out !== 'string') return out.includes(secret)
  return out.includes(secret.toString('hex')) || out.includes([...secret].join(', ')) || out.includes(secret.toString('latin1'))
}

/** The assertions the suite uses (a subset of vitest's and jest's `expect`). */
export interface ConformanceExpectation {
  toBe(expected: unknown): void
  toEqual(expected: unknown): void
}

/** The test framework's functions. */
export interface ConformanceFramework {
  describe: (name: string, fn: () => void) => void
  it: (name: string, fn: () => void | Promise<void>) => void
  expect: (actual: unknown) => ConformanceExpectation
}

export interface ConformanceOptions {
  /** The byte fresh allocations hold: 0 (the interface's default) or what the backend documents (0xdb for libsodium's layout). */
  fillByte?: number
  /** Alloc/free cycles of the churn test. Default 2000. */
  churn?: number
}

const PROTECTION_KEYS = ['locked', 'noDump', 'wipeOnFork', 'dontFork', 'guardPages', 'canary', 'secretmem', 'isolated'] as const
const STATS_KEYS = ['allocations', 'bytes', 'mappedBytes', 'lockedBytes', 'cachedPages', 'mappings', 'cacheHits', 'unlockedAllocations'] as const

/** The `code` of what `fn` throws, or `'(nothing thrown)'`. */
function codeOf(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return (err as { code?: unknown } | null)?.code ?? `(no code: ${String(err)})`
  }
  return '(nothing thrown)'
}

/** Sizes around the interesting boundaries: tiny, slot-sized, page-sized, multi-page. */
function sizes(): number[] {
  return [1, 15, 16, 17, 31, 32, 33, 64, 100, 255, 1000, PAGE_SIZE / 2 - 1, PAGE_SIZE / 2, PAGE_SIZE / 2 + 1, PAGE_SIZE - 1, PAGE_SIZE, PAGE_SIZE + 1, 3 * PAGE_SIZE + 5]
}

/**
 * @throws nothing itself: failures are reported by the framework's `expect`
 * @example
 * ```js norun
 * // A test file of yours: MyAllocator is your backend.
 * import { describe, it, expect } from 'vitest'
 * import { runAllocatorConformance } from '@tarsjs/page-alloc/conformance'
 * runAllocatorConformance('mine', () => new MyAllocator(), { describe, it, expect })
 * ```
 */
export function runAllocatorConformance(
  name: string,
  makeAllocator: () => Allocator,
  framework: ConformanceFramework,
  options: ConformanceOptions = {}
): void {
  const { describe, it, expect } = framework
  const fill = options.fillByte ?? 0
  const churn = options.churn ?? 2000

  /** Runs `body` with a fresh allocator; frees whatever `body` left allocated. */
  function withAllocator(body: (alloc: Allocator, live: Allocation[]) => void): void {
    const allocator = makeAllocator()
    const live: Allocation[] = []
    try {
      body(allocator, live)
    } finally {
      for (const a of live) if (!a.freed) allocator.free(a)
      const trim = (allocator as { trim?: () => void }).trim
      if (typeof trim === 'function') trim.call(allocator)
    }
  }

  function allocate(allocator: Allocator, live: Allocation[], n: number): Allocation {
    const a = allocator.alloc(n)
    live.push(a)
    return a
  }

  function sameStats(a: AllocatorStats, b: AllocatorStats): void {
    expect({ allocations: a.allocations, bytes: a.bytes, lockedBytes: a.lockedBytes, mappings: a.mappings }).toEqual({
      allocations: b.allocations,
      bytes: b.bytes,
      lockedBytes: b.lockedBytes,
      mappings: b.mappings
    })
  }

  describe(`Allocator conformance: ${name}`, () => {
    it('has a name and capabilities', () => {
      withAllocator((allocator) => {
        expect(typeof allocator.name === 'string' && allocator.name.length > 0).toBe(true)
        expect(typeof allocator.capabilities.protect).toBe('boolean')
        const alignment = allocator.capabilities.alignment
        expect(alignment === undefined || (Number.isInteger(alignment) && alignment >= 1 && (alignment & (alignment - 1)) === 0)).toBe(true)
      })
    })

    it('allocates exactly the requested length, owned by the allocator', () => {
      withAllocator((allocator, live) => {
        for (const n of sizes()) {
          const a = allocate(allocator, live, n)
          expect([a.byteLength, a.allocator === allocator, a.freed]).toEqual([n, true, false])
        }
      })
    })

    it('gives each allocation its own ArrayBuffer of exactly its length, holding the fill byte', () => {
      withAllocator((allocator, live) => {
        const seen = new Set<ArrayBuffer>()
        for (const n of sizes()) {
          const view = allocator.view(allocate(allocator, live, n))
          expect(view instanceof ArrayBuffer).toBe(true)
          expect(view.byteLength).toBe(n)
          expect(seen.has(view)).toBe(false)
          seen.add(view)
          expect(new Uint8Array(view).every((b) => b === fill)).toBe(true)
        }
      })
    })

    it('keeps writes inside their allocation', () => {
      withAllocator((allocator, live) => {
        const all = sizes().concat(sizes()).map((n) => allocate(allocator, live, n))
        all.forEach((a, i) => new Uint8Array(allocator.view(a)).fill((i * 37 + 1) & 0xff))
        all.forEach((a, i) => {
          const bytes = new Uint8Array(allocator.view(a))
          expect(bytes.every((b) => b === ((i * 37 + 1) & 0xff))).toBe(true)
        })
      })
    })

    it('free marks the allocation freed and detaches its view', () => {
      withAllocator((allocator, live) => {
        for (const n of sizes()) {
          const a = allocate(allocator, live, n)
          const view = allocator.view(a)
          const bytes = new Uint8Array(view)
          bytes.fill(0x5a)
          allocator.free(a)
          expect([a.freed, view.byteLength, bytes.length, bytes[0]]).toEqual([true, 0, 0, undefined])
        }
      })
    })

    it('never lets a retained view read a later allocation', () => {
      withAllocator((allocator, live) => {
        for (const n of [16, 32, PAGE_SIZE]) {
          const a = allocate(allocator, live, n)
          const stale = new Uint8Array(allocator.view(a))
          allocator.free(a)
          for (let i = 0; i < 8; i++) new Uint8Array(allocator.view(allocate(allocator, live, n))).fill(0xa5)
          expect([stale.length, stale[0]]).toEqual([0, undefined])
        }
      })
    })

    it('never shows an earlier secret in a fresh allocation', () => {
      withAllocator((allocator, live) => {
        for (const n of [16, 32, 100, PAGE_SIZE]) {
          const first = Array.from({ length: 16 }, () => allocate(allocator, live, n))
          for (const a of first) new Uint8Array(allocator.view(a)).fill(0x5a)
          for (const a of first) allocator.free(a)
          for (let i = 0; i < 16; i++) {
            const bytes = new Uint8Array(allocator.view(allocate(allocator, live, n)))
            expect(bytes.every((b) => b === fill)).toBe(true)
          }
        }
      })
    })

    it('throws ERR_DOUBLE_FREE on a second free and changes nothing', () => {
      withAllocator((allocator, live) => {
        const a = allocate(allocator, live, 32)
        const keep = allocate(allocator, live, 32)
        new Uint8Array(allocator.view(keep)).fill(7)
        allocator.free(a)
        const before = allocator.stats()
        expect(codeOf(() => allocator.free(a))).toBe('ERR_DOUBLE_FREE')
        sameStats(allocator.stats(), before)
        expect(new Uint8Array(allocator.view(keep)).every((b) => b === 7)).toBe(true)
      })
    })

    it('refuses foreign and invalid allocations with typed errors', () => {
      withAllocator((allocator) => {
        withAllocator((other, otherLive) => {
          const theirs = allocate(other, otherLive, 32)
          const before = allocator.stats()
          expect(codeOf(() => allocator.free(theirs))).toBe('ERR_FOREIGN_ALLOCATION')
          expect(codeOf(() => allocator.view(theirs))).toBe('ERR_FOREIGN_ALLOCATION')
          expect(codeOf(() => allocator.protections(theirs))).toBe('ERR_FOREIGN_ALLOCATION')
          const fake = { byteLength: 32, allocator, freed: false }
          expect(codeOf(() => allocator.free(fake))).toBe('ERR_FOREIGN_ALLOCATION')
          for (const bad of [null, undefined, 42, 'allocation']) {
            expect(codeOf(() => allocator.free(bad as unknown as Allocation))).toBe('ERR_INVALID_ARG_TYPE')
          }
          sameStats(allocator.stats(), before)
          expect(theirs.freed).toBe(false)
          expect(other.view(theirs).byteLength).toBe(32)
        })
      })
    })

    it('refuses invalid lengths with typed errors and allocates nothing', () => {
      withAllocator((allocator) => {
        const before = allocator.stats()
        for (const bad of [-1, -0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53, 2 ** 40]) {
          expect(codeOf(() => allocator.alloc(bad))).toBe('ERR_OUT_OF_RANGE')
        }
        for (const bad of ['8', null, undefined, 8n, {}, [8]]) {
          expect(codeOf(() => allocator.alloc(bad as unknown as number))).toBe('ERR_INVALID_ARG_TYPE')
        }
        sameStats(allocator.stats(), before)
      })
    })

    it('gives an empty allocation for length 0 or refuses it with ERR_OUT_OF_RANGE', () => {
      withAllocator((allocator, live) => {
        let a: Allocation | undefined
        const code = codeOf(() => {
          a = allocate(allocator, live, 0)
        })
        if (a === undefined) {
          expect(code).toBe('ERR_OUT_OF_RANGE')
        } else {
          expect([a.byteLength, allocator.view(a).byteLength]).toEqual([0, 0])
          allocator.free(a)
          expect(a.freed).toBe(true)
        }
      })
    })

    it('has no view or protections once freed', () => {
      withAllocator((allocator, live) => {
        const a = allocate(allocator, live, 32)
        allocator.free(a)
        expect(codeOf(() => allocator.view(a))).toBe('ERR_ALLOCATION_FREED')
        expect(codeOf(() => allocator.protections(a))).toBe('ERR_ALLOCATION_FREED')
        expect(codeOf(() => allocator.protect(a, 'none'))).toBe('ERR_ALLOCATION_FREED')
      })
    })

    it('reports protections as booleans and the current access', () => {
      withAllocator((allocator, live) => {
        for (const n of sizes()) {
          const p = allocator.protections(allocate(allocator, live, n))
          for (const key of PROTECTION_KEYS) expect(typeof p[key]).toBe('boolean')
          expect(p.access).toBe('readwrite')
          if (allocator.capabilities.protect) expect(p.isolated).toBe(true)
        }
      })
    })

    it('protects isolated allocations and refuses the others with ERR_NOT_ISOLATED', () => {
      withAllocator((allocator, live) => {
        for (const n of sizes()) {
          const a = allocate(allocator, live, n)
          const bytes = new Uint8Array(allocator.view(a))
          bytes.fill(0x3c)
          if (!allocator.protections(a).isolated) {
            expect(codeOf(() => allocator.protect(a, 'none'))).toBe('ERR_NOT_ISOLATED')
            expect(bytes.every((b) => b === 0x3c)).toBe(true)
            continue
          }
          allocator.protect(a, 'none')
          expect([bytes.length, allocator.protections(a).access]).toEqual([0, 'none'])
          expect(codeOf(() => allocator.view(a))).toBe('ERR_NO_ACCESS')
          allocator.protect(a, 'read')
          const readable = new Uint8Array(allocator.view(a))
          expect([readable.length, allocator.protections(a).access]).toEqual([n, 'read'])
          expect(readable.every((b) => b === 0x3c)).toBe(true)
          allocator.protect(a, 'readwrite')
          const writable = new Uint8Array(allocator.view(a))
          writable[n - 1] = 1
          expect([writable[n - 1], allocator.protections(a).access]).toEqual([1, 'readwrite'])
          expect(codeOf(() => allocator.protect(a, 'rw' as never))).toBe('ERR_INVALID_ARG_VALUE')
          // Freeing works whatever the protection.
          allocator.protect(a, 'none')
          allocator.free(a)
          expect(a.freed).toBe(true)
        }
      })
    })

    it('counts live allocations and bytes exactly', () => {
      withAllocator((allocator, live) => {
        const base = allocator.stats()
        for (const key of STATS_KEYS) expect(Number.isInteger(base[key]) && base[key] >= 0).toBe(true)
        const all = sizes().map((n) => allocate(allocator, live, n))
        const total = sizes().reduce((s, n) => s + n, 0)
        const mid = allocator.stats()
        expect([mid.allocations - base.allocations, mid.bytes - base.bytes]).toEqual([all.length, total])
        expect(mid.mappedBytes >= total).toBe(true)
        const locked = all.some((a) => allocator.protections(a).locked)
        expect(mid.lockedBytes > 0).toBe(locked)
        const unlocked = all.filter((a) => !allocator.protections(a).locked).length
        expect(mid.unlockedAllocations - base.unlockedAllocations).toBe(unlocked)
        for (const a of all) allocator.free(a)
        const end = allocator.stats()
        expect([end.allocations, end.bytes, end.unlockedAllocations]).toEqual([base.allocations, base.bytes, base.unlockedAllocations])
      })
    })

    // A quarantine may hold freed memory back for a while (a turn of the event
    // loop at least), so churn grows memory up to a bound; the same churn after
    // a turn must not map more than that.
    it('never clones, serializes or prints secret bytes through the allocator or a handle', () => {
      withAllocator((allocator, live) => {
        for (const n of [32, 100, 5000]) {
          const secret = randomBytes(n)
          const a = allocate(allocator, live, n)
          new Uint8Array(allocator.view(a)).set(secret)
          for (const x of [allocator, a]) {
            const leaks = copiesOf(x).filter(({ out }) => shows(out, secret)).map(({ path }) => path)
            expect(leaks).toEqual([])
          }
        }
      })
    })

    it('keeps its mappings bounded under alloc/free churn, and reuses them after a turn', async () => {
      const allocator = makeAllocator()
      const cycle = [16, 32, 48, 100, PAGE_SIZE / 2 + 1, PAGE_SIZE, 2 * PAGE_SIZE]
      const round = (count: number): void => {
        for (let i = 0; i < count; i++) {
          const a = allocator.alloc(cycle[i % cycle.length] as number)
          new Uint8Array(allocator.view(a)).fill(i & 0xff)
          allocator.free(a)
        }
      }
      const base = allocator.stats()
      round(churn)
      const peak = allocator.stats()
      await new Promise<void>((resolve) => setImmediate(resolve))
      round(churn)
      const end = allocator.stats()
      expect([end.allocations, end.bytes]).toEqual([base.allocations, base.bytes])
      expect(end.mappings <= peak.mappings).toBe(true)
      expect(end.lockedBytes <= peak.lockedBytes).toBe(true)
      const trim = (allocator as { trim?: () => void }).trim
      if (typeof trim === 'function') trim.call(allocator)
    })
  })
}
