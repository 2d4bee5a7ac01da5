// The API reference (`pnpm docs:api`): a landing page, no protected
// internals, and a `@throws` (with error codes) and an `@example` on every
// public entry point. The examples themselves run in snippets.test.mjs.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
const API = join(ROOT, 'docs', 'api')
const require = createRequire(join(ROOT, 'package.json'))
const ts = require('typescript')

/** The entry points a user calls first: `file` → names (`Class.method`, `Class.constructor`, or a function). */
const ENTRY_POINTS = {
  'packages/os-memlock/index.d.ts': ['pageSize', 'map', 'unmap', 'protect', 'lock', 'wipe', 'view'],
  'packages/page-alloc/src/slot-allocator.ts': ['SlotAllocator.constructor'],
  'packages/page-alloc/src/page-allocator.ts': ['PageAllocator.constructor'],
  'packages/prot-containers/src/prot-buf.ts': ['ProtBuf.alloc', 'ProtBuf.random', 'ProtBuf.from'],
  'packages/prot-containers/src/prot-key.ts': ['ProtKey.random', 'ProtKey.read'],
  'packages/prot-containers/src/doctor.ts': ['diagnose'],
  'packages/sodium-allocator/src/secure-buffer.ts': ['sodium_malloc', 'sodium_free'],
  'packages/sodium-allocator/src/with-tarsjs-memory.ts': ['withTarsjsMemory'],
  'packages/sodium-allocator/src/conformance.ts': ['runAllocatorConformance']
}
/** Public functions that can throw, beyond the entry points: each must say what it throws. */
const THROWING = {
  'packages/os-memlock/index.d.ts': ['capabilities', 'memlockLimit', 'isMapped', 'unlock', 'advise', 'fill', 'copy', 'equals', 'detach'],
  'packages/page-alloc/src/slot-allocator.ts': ['SlotAllocator.alloc', 'SlotAllocator.free', 'SlotAllocator.view', 'SlotAllocator.protect'],
  'packages/page-alloc/src/page-allocator.ts': ['PageAllocator.alloc', 'PageAllocator.free', 'PageAllocator.view', 'PageAllocator.protect'],
  'packages/prot-containers/src/prot-key.ts': ['ProtKey.write', 'ProtKey.readAsync', 'ProtKey.writeAsync', 'ProtKey.readerAsync', 'ProtKey.writerAsync'],
  'packages/prot-containers/src/sealed-key.ts': ['SealedKey.readAsync', 'SealedKey.writeAsync', 'SealedKey.readerAsync', 'SealedKey.writerAsync'],
  'packages/prot-containers/src/derive.ts': ['scryptKey', 'scryptKeySync', 'pbkdf2Key', 'pbkdf2KeySync', 'hkdfKey', 'hkdfKeySync'],
  'packages/prot-containers/src/key-object.ts': ['privateKeyObject', 'secretKeyObject', 'importCryptoKey']
}

/** `name` → the tag names of its doc comment, for the functions and class members of one file. */
function docTags (file) {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.ES2022, true)
  const tags = new Map()
  const record = (name, node) => tags.set(name, ts.getJSDocTags(node).map((t) => ({ tag: t.tagName.text, text: ts.getTextOfJSDocComment(t.comment) ?? '' })))
  for (const statement of source.statements) {
    if (ts.isFunctionDeclaration(statement) && statement.name) record(statement.name.text, statement)
    if (ts.isClassDeclaration(statement) && statement.name) {
      for (const member of statement.members) {
        if (ts.isConstructorDeclaration(member)) record(`${statement.name.text}.constructor`, member)
        else if (ts.isMethodDeclaration(member) && ts.isIdentifier(member.name)) record(`${statement.name.text}.${member.name.text}`, member)
      }
    }
  }
  return tags
}

describe('doc comments of the public API', () => {
  for (const [file, names] of Object.entries(ENTRY_POINTS)) {
    it(`${file}: every entry point has @throws with error codes, and an @example`, () => {
      const tags = docTags(file)
      for (const name of names) {
        const own = tags.get(name)
        expect(own, `${name} in ${file}`).toBeDefined()
        const throws = own.filter((t) => t.tag === 'throws')
        expect(throws.length, `${name}: @throws`).toBeGreaterThan(0)
        expect(throws.map((t) => t.text).join(' '), `${name}: @throws names codes`).toMatch(/`(ERR_[A-Z_]+|E[A-Z]+)`|nothing/)
        expect(own.some((t) => t.tag === 'example'), `${name}: @example`).toBe(true)
      }
    })
  }
  for (const [file, names] of Object.entries(THROWING)) {
    it(`${file}: the other public functions that throw say what they throw`, () => {
      const tags = docTags(file)
      for (const name of names) {
        const throws = (tags.get(name) ?? []).filter((t) => t.tag === 'throws')
        expect(throws.map((t) => t.text).join(' '), `${name}: @throws with codes`).toMatch(/`(ERR_[A-Z_]+|E[A-Z]+)`/)
      }
    })
  }
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

  it('leaves the protected internals of the containers out', () => {
    for (const page of ['classes/_tarsjs_prot-containers.ProtBuf.html', 'classes/_tarsjs_prot-containers.ProtKey.html']) {
      const html = readFileSync(join(API, page), 'utf8')
      for (const internal of ['beforeDispose', 'describeState', 'openRead', 'closeRead']) expect(html, `${page}: ${internal}`).not.toContain(internal)
      expect(html).toContain('dispose')
    }
  })
})
