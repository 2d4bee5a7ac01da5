// Shared test helpers: the built package (the dist/ that the child-process
// fixtures load too), sodium-native for differential tests, the kernel
// readers, and a fixture runner.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ChildRun, expectCode, runNode } from '@tarsjs/test-kit'

const require = createRequire(import.meta.url)

export const HERE = dirname(fileURLToPath(import.meta.url))
export const PKG = join(HERE, '..')
export const FIXTURES = join(HERE, 'fixtures')

// Tests and fixtures load dist/: refuse to test a build older than its source.
for (const file of readdirSync(join(PKG, 'src'))) {
  const built = join(PKG, 'dist', file.replace(/\.ts$/, '.js'))
  if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(PKG, 'src', file)).mtimeMs) {
    throw new Error(`dist/ is missing or older than src/${file}: run \`npx tsc -b\` in packages/sodium-allocator first`)
  }
}

export const ours: typeof import('../src/index.js') = require('../dist/index.js')
export const conformance: typeof import('../src/conformance.js') = require('../dist/conformance.js')
export const pa: typeof import('@tarsjs/page-alloc') = require('@tarsjs/page-alloc')
export const os: typeof import('@tarsjs/os-memlock') = require('@tarsjs/os-memlock')
// sodium-native ships no type declarations, so the tests use it as `any`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const native: any = require('sodium-native')
// sodium-native 5, installed under an alias: the peer range covers ^4.3.1 and ^5.
// It ships no type declarations either.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const native5: any = require('sodium-native-5')
export const NATIVE_VERSION: string = require('sodium-native/package.json').version
export const NATIVE5_VERSION: string = require('sodium-native-5/package.json').version

export type { Vma } from '@tarsjs/test-kit/smaps'
export const kernel: typeof import('./kernel.cjs') = require('./kernel.cjs')

export const PAGE = kernel.PAGE

/** What calling `fn` does: its value, or the error's class name, message and code. */
export function outcome(fn: () => unknown): { value?: unknown; error?: { name: string; message: string } } {
  try {
    return { value: fn() }
  } catch (err) {
    const e = err as Error
    return { error: { name: e.constructor.name, message: e.message } }
  }
}

export { expectCode }

export type FixtureRun = ChildRun

/**
 * Runs `test/fixtures/<name>.cjs` in a child process; `wrap` is a command that
 * runs node (e.g. setpriv/prlimit with their arguments).
 */
export function runFixture(
  name: string,
  args: string[] = [],
  options: { nodeArgs?: string[]; timeout?: number; wrap?: string[] } = {}
): FixtureRun {
  return runNode(join(FIXTURES, `${name}.cjs`), args, {
    nodeArgs: options.nodeArgs ?? [],
    wrap: options.wrap ?? null,
    timeout: options.timeout ?? 60_000,
    env: { ...process.env, NODE_OPTIONS: '' }
  })
}

/** The last line of a fixture's stdout, parsed as JSON. */
export function report<T = Record<string, unknown>>(run: FixtureRun): T {
  const lines = run.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1] as string) as T
}
