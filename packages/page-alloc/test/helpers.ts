// Shared test helpers: the built package (the same dist/ the child processes
// load), the kernel readers, error assertions, data patterns and fixture runs.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ChildRun, expectClean, expectCode as expectErrorCode, runNode, startNode, which } from '@tarsjs/test-kit'
import * as kernel from '@tarsjs/test-kit/smaps'
import { expect } from 'vitest'
import type * as PA from '../src/index.js'

const require = createRequire(import.meta.url)

export const HERE = dirname(fileURLToPath(import.meta.url))
export const PKG = join(HERE, '..')
export const FIXTURES = join(HERE, 'fixtures')

// Tests and fixtures load dist/: refuse to test a build older than its source.
for (const file of readdirSync(join(PKG, 'src'))) {
  const built = join(PKG, 'dist', file.replace(/\.ts$/, '.js'))
  if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(PKG, 'src', file)).mtimeMs) {
    throw new Error(`dist/ is missing or older than src/${file}: run \`npx tsc -b\` in packages/page-alloc first`)
  }
}

export const pa: typeof import('../src/index.js') = require('../dist/index.js')
const slotInternals: typeof import('../src/slot-allocator.js') = require('../dist/slot-allocator.js')
const pageInternals: typeof import('../src/page-allocator.js') = require('../dist/page-allocator.js')
export const os: typeof import('@tarsjs/os-memlock') = require('@tarsjs/os-memlock')

export { kernel }
export type { Vma } from '@tarsjs/test-kit/smaps'

export const PAGE = pa.PAGE_SIZE

/** Quarantine off: freed memory is reusable at once (the cache and page mechanics, which a quarantine only delays). */
export const NO_QUARANTINE = Object.freeze({ frees: 0, bytes: 0 })

function withoutQuarantine(options: unknown): unknown {
  return options === undefined ? { quarantine: NO_QUARANTINE } : typeof options === 'object' && options !== null ? { quarantine: NO_QUARANTINE, ...options } : options
}

/**
 * The allocators with the quarantine off unless an option says otherwise, for
 * the tests of the cache, retirement and reuse mechanics written before the
 * quarantine; test/quarantine.test.ts covers the default.
 */
export const immediate = {
  SlotAllocator: class SlotAllocator extends pa.SlotAllocator {
    constructor(options?: PA.SlotAllocatorOptions) {
      super(withoutQuarantine(options) as PA.SlotAllocatorOptions)
    }
  },
  PageAllocator: class PageAllocator extends pa.PageAllocator {
    constructor(options?: PA.PageAllocatorOptions) {
      super(withoutQuarantine(options) as PA.PageAllocatorOptions)
    }
  }
}

/** Calls fn, expects an `AllocError` with `code`; returns it. */
export function expectCode(fn: () => unknown, code: string): Error & { code: string; cause?: unknown } {
  return expectErrorCode(fn, code, { Class: pa.AllocError })
}

/** `length` bytes that depend on `seed` (xorshift32): distinct seeds give distinct contents. */
export function pattern(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  let x = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

/** Writes `bytes` through the allocation's view. */
export function put(allocator: { view(a: never): ArrayBuffer }, a: unknown, bytes: Uint8Array): void {
  new Uint8Array(allocator.view(a as never)).set(bytes)
}

/** True when the allocation's view holds exactly `bytes`. */
export function holds(allocator: { view(a: never): ArrayBuffer }, a: unknown, bytes: Uint8Array): boolean {
  const ab = allocator.view(a as never)
  return ab.byteLength === bytes.length && Buffer.compare(Buffer.from(ab), bytes) === 0
}

/** Internals of a slot allocation, for the tests that simulate native corruption. */
export function slotPlace(a: unknown): { region: import('@tarsjs/os-memlock').Region; offset: number; slotSize: number; index: number } {
  return slotInternals.slotPlace(a as never)
}

/** Internals of a page allocation, for the tests that simulate native corruption. */
export function pagePlace(a: unknown): { region: import('@tarsjs/os-memlock').Region; start: number; dataPages: number; dataOffset: number } {
  return pageInternals.pagePlace(a as never)
}

const PRLIMIT = which('prlimit')
const SETPRIV = which('setpriv')

/** Root can drop CAP_IPC_LOCK for a child (setpriv) and give it the default 8 MiB memlock limit (prlimit). */
export const CAN_RUN_UNPRIVILEGED = SETPRIV !== null && PRLIMIT !== null && process.getuid?.() === 0

/** Command prefix: no CAP_IPC_LOCK, RLIMIT_MEMLOCK 8 MiB, no core dumps. */
export const UNPRIVILEGED = [SETPRIV ?? 'setpriv', '--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', '--', PRLIMIT ?? 'prlimit', '--memlock=8388608', '--core=0']

/** A finished fixture; `rec` holds the lines `KEY {json}` it printed. */
export type FixtureRun = ChildRun

/** Runs `node [nodeArgs] fixtures/<name> [args]` (core dumps off) and waits. */
export function runFixture(
  name: string,
  args: string[] = [],
  { nodeArgs = [], wrap = null, timeout = 120000 }: { nodeArgs?: string[]; wrap?: string[] | null; timeout?: number } = {}
): FixtureRun {
  return runNode(join(FIXTURES, name), args, { nodeArgs, wrap, timeout, cwd: HERE })
}

/** The same as `runFixture`, without blocking (to run two children side by side). */
export function startFixture(
  name: string,
  args: string[] = [],
  { nodeArgs = [], wrap = null }: { nodeArgs?: string[]; wrap?: string[] | null } = {}
): Promise<FixtureRun> {
  return startNode(join(FIXTURES, name), args, { nodeArgs, wrap, cwd: HERE })
}

export { expectClean }

export type AnyAllocator = import('../src/index.js').Allocator

/**
 * Takes a snapshot of an allocator (stats), of the process (VmLck, the
 * allocators' kernel mappings) and of live allocations' contents, runs `fn`,
 * and checks nothing changed: misuse must throw and lose nothing.
 */
export function expectUnchanged(allocator: AnyAllocator, live: Array<[unknown, Buffer]>, fn: () => void): void {
  const stats = allocator.stats()
  const vmLck = kernel.status('VmLck')
  const vmas = kernel.allocatorVmas()
  fn()
  expect(allocator.stats()).toEqual(stats)
  expect(kernel.status('VmLck')).toBe(vmLck)
  expect(kernel.allocatorVmas()).toEqual(vmas)
  for (const [a, bytes] of live) expect(holds(allocator, a, bytes)).toBe(true)
}

/** The stats of a page allocator that holds nothing (the map-count budget is the process's). */
export const ZERO_STATS = {
  allocations: 0,
  bytes: 0,
  mappedBytes: 0,
  lockedBytes: 0,
  secretmemBytes: 0,
  cachedPages: 0,
  cachedBytes: 0,
  cachedChargedBytes: 0,
  chargeReleases: 0,
  reservations: 0,
  mappings: 0,
  cacheHits: 0,
  unlockedAllocations: 0,
  quarantinedBytes: 0,
  escapedBytes: 0,
  retiredBytes: 0,
  mapBudget: expect.objectContaining({ limit: expect.any(Number), reserve: expect.any(Number), used: expect.any(Number) })
}
