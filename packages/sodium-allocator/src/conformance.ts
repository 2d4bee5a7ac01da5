/**
 * The conformance suite of the `Allocator` interface, kept at this subpath for
 * the code that imports it from here. It lives beside the interface, in
 * `@tarsjs/page-alloc/conformance`; this module runs that same suite.
 */
import { runAllocatorConformance as run } from '@tarsjs/page-alloc/conformance'
import type { Allocator } from '@tarsjs/page-alloc'
import type { ConformanceFramework, ConformanceOptions } from '@tarsjs/page-alloc/conformance'

export type { ConformanceExpectation, ConformanceFramework, ConformanceOptions } from '@tarsjs/page-alloc/conformance'

/**
 * Registers the `Allocator` conformance suite for a backend: `@tarsjs/page-alloc/conformance`'s
 * `runAllocatorConformance`, unchanged, at the path it has always had here.
 * @throws nothing itself: failures are reported by the framework's `expect`
 * @example
 * ```js norun
 * // A test file of yours: MyAllocator is your backend.
 * import { describe, it, expect } from 'vitest'
 * import { runAllocatorConformance } from '@tarsjs/sodium-allocator/conformance'
 * runAllocatorConformance('mine', () => new MyAllocator(), { describe, it, expect })
 * ```
 */
export function runAllocatorConformance(
  name: string,
  makeAllocator: () => Allocator,
  framework: ConformanceFramework,
  options?: ConformanceOptions
): void {
  run(name, makeAllocator, framework, options)
}
