// read()/write() refuse async callbacks in their TypeScript types, not only at
// run time: a fixture is compiled with tsc, and each line it marks with a
// `@ts-expect-error` must really be an error (or tsc reports the unused marker).
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const require = createRequire(import.meta.url)
const ts = require('typescript')
const FIXTURE = join(import.meta.dirname, 'fixtures', 'types', 'sync-callbacks.ts')

function diagnostics (file) {
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node']
  })
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0
    return `${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
  })
}

describe('types of the window callbacks', () => {
  it('compile: sync callbacks pass, async ones and coercions are errors', () => {
    expect(diagnostics(FIXTURE)).toEqual([])
  })

  it('without the markers, each marked line is an error (the check can fail)', () => {
    const source = readFileSync(FIXTURE, 'utf8')
    const lines = source.split('\n')
    const expected = lines.flatMap((l, i) => (l.includes('// @ts-expect-error') ? [i + 2] : []))
    const marked = expected.length
    const dir = mkdtempSync(join(import.meta.dirname, 'fixtures', 'types', 'tmp-'))
    try {
      const file = join(dir, 'unmarked.ts')
      writeFileSync(file, source.replaceAll('// @ts-expect-error', '// expected error:').replaceAll('../../../src/', '../../../../src/'))
      const found = diagnostics(file)
      const failing = new Set(found.map((d) => Number(d.split(':')[0])))
      expect(expected.filter((line) => !failing.has(line)), found.join('\n')).toEqual([])
      expect(marked).toBe(7)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
