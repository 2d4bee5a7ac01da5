// Every relative link and anchor in README.md, docs/*.md, packages/*/README.md
// and the generated API reference (docs/api, built by the docs:api task that
// this test depends on in turbo) resolves.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkLinks, defaultFiles, formatProblems, markdownAnchors, slug } from '../../scripts/check-links.mjs'

const ROOT = join(import.meta.dirname, '..', '..')

describe('the API reference', () => {
  it('is built, with a page for every package', () => {
    expect(existsSync(join(ROOT, 'docs/api/index.html')), 'run `pnpm docs:api`').toBe(true)
    for (const name of ['doctor', 'os-memlock', 'page-alloc', 'prot-containers', 'sodium-allocator', 'sodium-allocator_conformance']) {
      expect(existsSync(join(ROOT, `docs/api/modules/_tarsjs_${name}.html`)), name).toBe(true)
    }
  })
})

describe('links', () => {
  it('every relative link and anchor in the docs, the READMEs and the API reference resolves', () => {
    const files = defaultFiles({ root: ROOT })
    expect(files).toContain('README.md')
    expect(files).toContain('docs/overview.md')
    expect(files.some((f) => f.startsWith('docs/api/'))).toBe(true)
    const problems = checkLinks({ root: ROOT, files })
    expect(problems.length, formatProblems(problems)).toBe(0)
  })
})

describe('the link checker', () => {
  function fixture (files) {
    const dir = mkdtempSync(join(tmpdir(), 'tarsjs-links-'))
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true })
      writeFileSync(join(dir, name), text)
    }
    return dir
  }

  it('reports missing files and anchors, and nothing else', () => {
    const dir = fixture({
      'a.md': [
        '# Title',
        '## The `Allocator` interface',
        'See [b](b.md#section-two), [self](#the-allocator-interface), [web](https://example.com/x).',
        'Broken: [c](c.md), [anchor](b.md#nope), [self](#missing).',
        '```sh',
        'echo [not a link](nowhere.md)',
        '```',
        'Inline `[code](nowhere.md)` is not a link either.',
        '[ref]: b.md#section-two',
        '<a href="b.html#x">html</a>'
      ].join('\n'),
      'b.md': '# B\n\n## Section two\n',
      'b.html': '<html><body><h1 id="x">x</h1><a href="a.md">back</a><a href="#y">bad</a></body></html>'
    })
    try {
      const problems = checkLinks({ root: dir, files: ['a.md', 'b.html'] })
      expect(problems.map((p) => `${p.file}:${p.target}`).sort()).toEqual([
        'a.md:#missing',
        'a.md:b.md#nope',
        'a.md:c.md',
        'b.html:#y'
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('makes heading ids as GitHub does', () => {
    expect(slug('`@tarsjs/os-memlock`')).toBe('tarsjsos-memlock')
    expect(slug('Compared with sodium-native')).toBe('compared-with-sodium-native')
    expect(slug('What is *not* protected (and why)')).toBe('what-is-not-protected-and-why')
    expect(slug('Node 20: `structuredClone`/`postMessage`')).toBe('node-20-structuredclonepostmessage')
    expect([...markdownAnchors('# A\n## A\n## A\n```\n# not a heading\n```\n')]).toEqual(['a', 'a-1', 'a-2'])
  })

  it('refuses links that leave the repository or are absolute', () => {
    const dir = fixture({ 'a.md': '[up](../outside.md) [abs](/etc/passwd)\n' })
    try {
      const reasons = checkLinks({ root: dir, files: ['a.md'] }).map((p) => p.reason)
      expect(reasons).toEqual(['points outside the repository', 'absolute path: use a path relative to the file'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
