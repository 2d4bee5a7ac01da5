// The README's quick start for each package is real code: each one runs,
// as written, against the workspace packages, and exits 0.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PACKAGES } from './lib/codes.mjs'

const DOCS = join(import.meta.dirname, '..')
const ROOT = join(DOCS, '..')

/** Map of package name -> the first ```js block under "### `@tarsjs/<name>`" in the Quick starts section. */
export function quickStarts (markdown) {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('Quick starts'))
  const out = new Map()
  if (section === undefined) return out
  for (const part of section.split(/^### /m).slice(1)) {
    const name = /^`@tarsjs\/([a-z-]+)`/.exec(part)
    const code = /```js\n([\s\S]*?)```/.exec(part)
    if (name && code) out.set(name[1], code[1])
  }
  return out
}

const snippets = quickStarts(readFileSync(join(ROOT, 'README.md'), 'utf8'))
// Inside the docs package, so that `@tarsjs/*` resolve to the workspace packages.
const dir = mkdtempSync(join(DOCS, '.quickstart-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('README quick starts', () => {
  it('has one per package', () => {
    expect([...snippets.keys()].sort()).toEqual([...PACKAGES].sort())
  })

  for (const pkg of PACKAGES) {
    it(`@tarsjs/${pkg}: runs as written`, () => {
      const code = snippets.get(pkg)
      expect(code, `no quick start for @tarsjs/${pkg}`).toBeTypeOf('string')
      const lines = code.trim().split('\n').filter((l) => l.trim() !== '' && !l.startsWith('import '))
      expect(lines.length, 'a quick start is about ten lines').toBeLessThanOrEqual(14)
      const file = join(dir, `${pkg}.mjs`)
      writeFileSync(file, code)
      const run = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 60000 })
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0)
      expect(run.signal).toBe(null)
    })

    it(`@tarsjs/${pkg}: the package's own README links to the tested quick start instead of copying it`, () => {
      const own = readFileSync(join(ROOT, 'packages', pkg, 'README.md'), 'utf8')
      expect(own).toContain(`](../../README.md#tarsjs${pkg})`)
      expect(own).not.toMatch(/```js/)
    })
  }
})
