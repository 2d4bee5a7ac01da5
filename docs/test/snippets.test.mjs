// Every JavaScript and TypeScript block in README.md, docs/*.md and the
// package READMEs runs as written (or is marked `norun`), and prints what its
// comments say it prints. See lib/snippets.mjs for the rules.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { codeBlocks, exampleBlocks, expectedOutputs, expectedText, markdownFiles, missingOutputs } from './lib/snippets.mjs'

const DOCS = join(import.meta.dirname, '..')
const ROOT = join(DOCS, '..')
const require = createRequire(join(ROOT, 'package.json'))
const ts = require('typescript')
const VITEST = join(DOCS, 'node_modules', 'vitest', 'vitest.mjs')

// Inside the docs package, so that `@tarsjs/*` and sodium-native resolve to the workspace's.
const dir = mkdtempSync(join(DOCS, '.snippets-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const all = []
for (const file of markdownFiles(ROOT)) {
  const blocks = codeBlocks(readFileSync(join(ROOT, file), 'utf8'), file)
  blocks.forEach((block, index) => all.push({ file, index, block, previous: blocks[index - 1] }))
}
// The @example blocks of the API reference: the hand-written declarations of
// os-memlock and the TypeScript sources of the other packages.
const SOURCES = ['packages/os-memlock/index.d.ts']
for (const pkg of ['doctor', 'page-alloc', 'prot-containers', 'sodium-allocator']) {
  for (const f of readdirSync(join(ROOT, 'packages', pkg, 'src')).sort()) if (f.endsWith('.ts')) SOURCES.push(`packages/${pkg}/src/${f}`)
}
for (const file of SOURCES) {
  for (const block of exampleBlocks(readFileSync(join(ROOT, file), 'utf8'), file)) all.push({ file, index: 0, block, previous: undefined })
}

function source ({ block, previous }) {
  const before = block.flags.includes('after-previous') && previous ? `${previous.code}\n` : ''
  return `${before}${block.code}\n`
}

function typeCheck (file) {
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    strict: true,
    noEmit: true,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules', '@types')]
  })
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
}

function runBlock (entry, name) {
  const { block } = entry
  const code = source(entry)
  if (block.flags.includes('vitest')) {
    writeFileSync(join(dir, `${name}.test.mjs`), code)
    const config = join(dir, 'vitest.config.mjs')
    writeFileSync(config, "export default { test: { include: ['*.test.mjs'], testTimeout: 120000 } }\n")
    return spawnSync(process.execPath, [VITEST, 'run', '--config', config, '--root', dir, `${name}.test.mjs`], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 180000,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }
    })
  }
  if (block.lang === 'ts') {
    const file = join(dir, `${name}.mts`)
    writeFileSync(file, code)
    const problems = typeCheck(file)
    if (problems.length > 0) return { status: 1, signal: null, stdout: '', stderr: `type errors:\n${problems.join('\n')}` }
    const js = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText
    writeFileSync(join(dir, `${name}.mjs`), js)
    return spawnSync(process.execPath, [join(dir, `${name}.mjs`)], { cwd: dir, encoding: 'utf8', timeout: 60000 })
  }
  const file = join(dir, `${name}.${block.flags.includes('cjs') ? 'cjs' : 'mjs'}`)
  writeFileSync(file, code)
  return spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 60000 })
}

describe('code blocks in the docs', () => {
  it('there are blocks to run, and few are marked norun', () => {
    expect(all.length).toBeGreaterThan(20)
    const norun = all.filter((e) => e.block.flags.includes('norun'))
    expect(norun.length).toBeLessThanOrEqual(3)
    for (const e of norun) expect(e.block.code.split('\n')[0], `${e.file}:${e.block.line}: say why it does not run`).toMatch(/^\/\/ /)
  })

  for (const entry of all) {
    const { file, block } = entry
    const label = `${file}:${block.line} (${[block.lang, ...block.flags].join(' ')})`
    if (block.flags.includes('norun')) {
      it.skip(`${label}: not runnable, by its own note`, () => {})
      continue
    }
    it(`${label} runs and prints what it says`, () => {
      const name = `${file.replace(/[^a-z0-9]+/gi, '-')}-${block.line}`
      const run = runBlock(entry, name)
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0)
      expect(run.signal).toBe(null)
      if (block.flags.includes('vitest')) expect(run.stdout).toMatch(/Tests\s+\S*\d+ passed/)
      else expect(missingOutputs(block.code, run.stdout), run.stdout).toEqual([])
    })
  }
})

describe('the rules', () => {
  it('reads the language and flags of each block, and refuses unknown flags', () => {
    const md = '# x\n```js\na()\n```\n```sh\nls\n```\n```ts norun\n// why\n```\n```js cjs after-previous\nb()\n```\n'
    expect(codeBlocks(md).map((b) => [b.line, b.lang, b.flags, b.code])).toEqual([
      [2, 'js', [], 'a()'],
      [8, 'ts', ['norun'], '// why'],
      [11, 'js', ['cjs', 'after-previous'], 'b()']
    ])
    expect(() => codeBlocks('```js nrun\n```\n', 'f.md')).toThrow('f.md:1: unknown code block flag "nrun"')
  })

  it('reads the @example blocks of doc comments', () => {
    const src = '/**\n * Does x.\n * @example\n * ```js\n * x()\n * ```\n * @throws {Error} never\n */\nexport function x () {}\n'
    expect(exampleBlocks(src).map((b) => [b.line, b.lang, b.code])).toEqual([[4, 'js', 'x()']])
  })

  it('takes the printed text from a console.log comment, up to its explanation', () => {
    expect(expectedText('true 0 (every view is detached)')).toBe('true 0')
    expect(expectedText('<Buffer 00 00>: the heap copy is wiped')).toBe('<Buffer 00 00>')
    expect(expectedText('ERR_WINDOW_CONFLICT; the read goes on')).toBe('ERR_WINDOW_CONFLICT')
    expect(expectedText('"ProtKey(32 bytes, no access) 32": never the bytes')).toBe('ProtKey(32 bytes, no access) 32')
    expect(expectedOutputs('f()  // not a print\nconsole.log(x) // 64').map((e) => e.text)).toEqual(['64'])
    expect(missingOutputs('console.log(k) // ProtKey(… bytes, no access)', 'ProtKey(16 bytes, no access)\n')).toEqual([])
    expect(missingOutputs('console.log(o) // { a: 1, … }', '{\n  a: 1,\n  b: 2\n}\n')).toEqual([])
    expect(missingOutputs('console.log(a) // 1\nconsole.log(b) // 2', '1\n3\n')).toEqual(['2'])
  })
})
