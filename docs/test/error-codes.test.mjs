// docs/error-codes.md must list every code each package's sources can throw
// or warn with, under that package; and every code it lists must exist in
// some package's sources (no invented or stale codes).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PACKAGES, documentedCodes, sourceCodes, stringLiterals } from './lib/codes.mjs'

const ROOT = join(import.meta.dirname, '..', '..')
const TABLE = readFileSync(join(ROOT, 'docs', 'error-codes.md'), 'utf8')
const documented = documentedCodes(TABLE)
const CLASSES = /\b(TypeError|RangeError|Error|AllocError|ContainerError|DoctorError|warning)\b/

describe('docs/error-codes.md', () => {
  it('has a section for every package', () => {
    expect([...documented.keys()].sort()).toEqual([...PACKAGES].sort())
  })

  for (const pkg of PACKAGES) {
    it(`lists every code in the sources of @tarsjs/${pkg}`, () => {
      const inSources = sourceCodes(ROOT, pkg)
      expect(inSources.size, `no codes found in packages/${pkg}: is the extraction broken?`).toBeGreaterThan(0)
      const table = documented.get(pkg) ?? new Map()
      const missing = [...inSources.keys()]
        .filter((code) => !table.has(code))
        .map((code) => `${code} (in ${[...inSources.get(code)].join(', ')})`)
      expect(missing, `add these codes to the @tarsjs/${pkg} table of docs/error-codes.md`).toEqual([])
    })
  }

  it('lists no code that no source produces', () => {
    const everywhere = new Set(PACKAGES.flatMap((pkg) => [...sourceCodes(ROOT, pkg).keys()]))
    const stale = []
    for (const [pkg, rows] of documented) {
      for (const [code, row] of rows) if (!everywhere.has(code)) stale.push(`${code} (@tarsjs/${pkg}, line ${row.line})`)
    }
    expect(stale).toEqual([])
  })

  it('gives every row a class, a cause and a remedy', () => {
    const incomplete = []
    for (const [pkg, rows] of documented) {
      for (const [code, row] of rows) {
        if (!CLASSES.test(row.klass) || row.when.length < 10 || row.fix.length < 3) incomplete.push(`${pkg} ${code} (line ${row.line})`)
      }
    }
    expect(incomplete).toEqual([])
  })

  it('marks warning codes as warnings and error codes as errors', () => {
    for (const [, rows] of documented) {
      for (const [code, row] of rows) {
        expect(row.klass.replaceAll('`', '') === 'warning', `${code}: class "${row.klass}"`).toBe(code.startsWith('TARSJS_'))
      }
    }
  })
})

describe('code extraction', () => {
  it('reads string literals and skips comments and template literals', () => {
    const src = [
      "// 'ERR_IN_LINE_COMMENT'",
      '/* "ERR_IN_BLOCK_COMMENT" */',
      "throw new AllocError('ERR_ONE', `ERR_TEMPLATE ${'ERR_NESTED'}`)",
      'THROW_TYPE("ERR_TWO", "it\'s fine")',
      'case ENOMEM: return "ENOMEM";'
    ].join('\n')
    const literals = stringLiterals(src)
    expect(literals).toContain('ERR_ONE')
    expect(literals).toContain('ERR_TWO')
    expect(literals).toContain('ENOMEM')
    expect(literals).not.toContain('ERR_IN_LINE_COMMENT')
    expect(literals).not.toContain('ERR_IN_BLOCK_COMMENT')
  })

  it('parses the tables per package section', () => {
    const md = [
      '## `@tarsjs/os-memlock`',
      '| Code | Class | When | What to do |',
      '| --- | --- | --- | --- |',
      '| `ENOMEM` | `Error` | out of memory | free something |',
      '## Other',
      '| `ERR_NOT_COUNTED` | x | y | z |'
    ].join('\n')
    const parsed = documentedCodes(md)
    expect([...parsed.keys()]).toEqual(['os-memlock'])
    expect([...parsed.get('os-memlock').keys()]).toEqual(['ENOMEM'])
  })
})
