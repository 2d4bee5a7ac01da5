// The API reference (`pnpm docs:api`): a landing page, no protected
// internals, and on every public function, class, constructor and method of
// every package entry point (found by the TypeScript checker from the
// `exports` maps, so a new one is covered without a list to update) a
// `@throws` with its error codes and an `@example`. The examples themselves
// run in snippets.test.mjs, with their printed output checked.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ENTRY_FILES, publicApi } from './lib/public-api.mjs'

const ROOT = join(import.meta.dirname, '..', '..')
const API = join(ROOT, 'docs', 'api')
const require = createRequire(join(ROOT, 'package.json'))
const ts = require('typescript')

/** A `@throws` must name its codes (`ERR_...`, an errno such as `ENOMEM`) or say that it throws nothing. */
const NAMES_CODES = /`(ERR_[A-Z_]+|E[A-Z]+)`|\bnothing\b/

/** What is missing from one entry's doc comment: `name: @throws`, `name: @example`. */
function missing (entry) {
  const tags = entry.tags.map((t) => t.tag)
  const out = []
  if (entry.kind !== 'class') {
    const throws = entry.tags.filter((t) => t.tag === 'throws')
    if (throws.length === 0) out.push(`${entry.name}: @throws`)
    else if (!NAMES_CODES.test(throws.map((t) => t.text).join(' '))) out.push(`${entry.name}: @throws names no error code`)
  }
  if (!tags.includes('example')) out.push(`${entry.name}: @example`)
  return out.map((m) => `${m} (${entry.file}:${entry.line})`)
}

describe('doc comments of the public API', () => {
  const api = publicApi(ts, ROOT)

  it('finds every entry point and what it exports', () => {
    expect(new Set(api.map((e) => e.pkg))).toEqual(new Set(Object.keys(ENTRY_FILES)))
    const names = new Set(api.map((e) => e.name))
    for (const name of [
      'map', 'detach', 'enableUnprotectedDevelopmentMode', // os-memlock's .d.ts
      'SlotAllocator.stats', 'PageAllocator.trim', 'PageAllocator.protections', 'AllocError', // page-alloc
      'ProtBuf.fromFd', 'ProtKey.fromFile', 'ProtKey.fromStream', 'ProtBuf.dispose', 'ProtKey.protections', // inherited from Container
      'SealedKey', 'SealedKey.rekey', 'purge', 'catchSignals', // prot-containers
      'diagnose', 'formatReport', 'isCheckId', 'DoctorError', // doctor
      'sodium_add', 'sodium_pad', 'sodium_unpad', 'SodiumAllocator.constructor', 'withTarsjsMemory', 'runAllocatorConformance'
    ]) expect(names.has(name), name).toBe(true)
    // Internals stay out, as in the reference: protected members, `@internal` exports and members.
    for (const name of ['ProtKey.openRead', 'ProtBuf.describeState', 'ProtKey.beforeDispose', 'handleState', 'SodiumAllocator.allocFor', 'PageAllocator.allocFor']) {
      expect(names.has(name), name).toBe(false)
    }
    expect(api.length).toBeGreaterThan(150)
  })

  it('every public function, constructor and method has @throws with its error codes and an @example; every class an @example', () => {
    expect(api.flatMap(missing)).toEqual([])
  })

  it('every @example is in a file whose examples snippets.test.mjs runs', () => {
    for (const entry of api) {
      if (!entry.tags.some((t) => t.tag === 'example')) continue
      // A method inherited across packages is read from the built declarations; its source is the package's src.
      const source = entry.file.replace(/^(packages\/[^/]+)\/dist\/(.*)\.d\.ts$/, '$1/src/$2.ts')
      expect(source, entry.name).toMatch(/^packages\/(os-memlock\/index\.d\.ts|[^/]+\/src\/[^/]+\.ts)$/)
      expect(existsSync(join(ROOT, source)), source).toBe(true)
    }
  })

  it('a new undocumented export fails: a function, a class, its own and inherited methods', () => {
    const dir = mkdtempSync(join(tmpdir(), 'public-api-'))
    try {
      mkdirSync(join(dir, 'src'))
      writeFileSync(join(dir, 'src', 'base.ts'), [
        'export abstract class Base {',
        '  /** Documented. @throws nothing @example', ' * ```js', ' * x', ' * ```', ' */',
        '  kept(): void {}',
        '  inherited(): void {}',
        '  protected hidden(): void {}',
        '}'
      ].join('\n'))
      writeFileSync(join(dir, 'src', 'index.ts'), [
        "import { Base } from './base.js'",
        '/** @example', ' * ```js', ' * new Thing()', ' * ```', ' */',
        'export class Thing extends Base {',
        '  /** Throws. @throws {Error} when it fails */',
        '  own(): void {}',
        '  static make(): Thing { return new Thing() }',
        '  #secret(): void {}',
        '  /** @internal */',
        '  backend(): void {}',
        '}',
        'export function added(): void {}',
        'export const arrow = (): void => {}',
        'export class Bare {}'
      ].join('\n'))
      const found = publicApi(ts, dir, { fixture: 'src/index.ts' })
      expect(found.map((e) => e.name).sort()).toEqual(['Bare', 'Thing', 'Thing.inherited', 'Thing.kept', 'Thing.make', 'Thing.own', 'added', 'arrow'])
      expect(found.flatMap(missing).map((m) => m.replace(/ \(.*\)$/, '')).sort()).toEqual([
        'Bare: @example',
        'Thing.inherited: @example', 'Thing.inherited: @throws',
        'Thing.make: @example', 'Thing.make: @throws',
        'Thing.own: @example', 'Thing.own: @throws names no error code',
        'added: @example', 'added: @throws',
        'arrow: @example', 'arrow: @throws'
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the generated reference', () => {
  it('opens on a landing page that links every package', () => {
    const index = readFileSync(join(API, 'index.html'), 'utf8')
    expect(index).toContain('<h1>tarsjs API reference</h1>')
    for (const target of [
      'classes/_tarsjs_prot-containers.ProtKey.html',
      'functions/_tarsjs_sodium-allocator.withTarsjsMemory.html',
      'functions/_tarsjs_sodium-allocator_conformance.runAllocatorConformance.html',
      'classes/_tarsjs_page-alloc.PageAllocator.html',
      'functions/_tarsjs_os-memlock.map.html'
    ]) {
      expect(index).toContain(`href="${target}"`)
      expect(existsSync(join(API, target)), target).toBe(true)
    }
  })

  it('has a page for every public function and class, and none for the internals the backends share', () => {
    const slug = (pkg) => pkg.replace('@', '_').replace(/\//g, '_')
    for (const entry of publicApi(ts, ROOT)) {
      if (entry.kind === 'function') expect(existsSync(join(API, 'functions', `${slug(entry.pkg)}.${entry.name}.html`)), entry.name).toBe(true)
      if (entry.kind === 'class') expect(existsSync(join(API, 'classes', `${slug(entry.pkg)}.${entry.name}.html`)), entry.name).toBe(true)
    }
    for (const page of ['_tarsjs_sodium-allocator.SodiumAllocator', '_tarsjs_page-alloc.PageAllocator', '_tarsjs_page-alloc.SlotAllocator']) {
      const html = readFileSync(join(API, 'classes', `${page}.html`), 'utf8')
      for (const internal of ['allocFor', 'freeAs', 'viewAs', 'protectAs', 'protectionsAs']) expect(html, `${page}: ${internal}`).not.toContain(internal)
    }
    expect(existsSync(join(API, 'functions', '_tarsjs_page-alloc.handleState.html'))).toBe(false)
  })

  it('leaves the protected internals of the containers out', () => {
    for (const page of ['classes/_tarsjs_prot-containers.ProtBuf.html', 'classes/_tarsjs_prot-containers.ProtKey.html']) {
      const html = readFileSync(join(API, page), 'utf8')
      for (const internal of ['beforeDispose', 'describeState', 'openRead', 'closeRead']) expect(html, `${page}: ${internal}`).not.toContain(internal)
      expect(html).toContain('dispose')
    }
  })
})
