// The JavaScript and TypeScript code blocks of the Markdown docs, and what
// their comments say they print.
//
// A block's info string is its language, then flags:
//   ```js                 runs as an ES module (.mjs)
//   ```js cjs             runs as CommonJS (.cjs)
//   ```ts                 type-checked (strict) and run after transpiling
//   ```js vitest          runs as a vitest test file
//   ```js after-previous  the previous code block of the same file runs first, in the same module
//   ```js norun           not run: a template or a fragment; the block says why in its first line
//
// Printed output: on a line that calls console.log, a trailing `// text` states what it prints.
// The text up to an explanation (`: why`, ` (why)`, `; why`) must appear in the output, with
// runs of spaces and line breaks counted as one space and `…` standing for anything.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const LANGUAGES = new Set(['js', 'javascript', 'mjs', 'cjs', 'ts', 'typescript'])
const FLAGS = new Set(['cjs', 'vitest', 'after-previous', 'norun'])

/** The Markdown files whose code blocks are checked: README.md, docs/*.md, each package's README. */
export function markdownFiles (root) {
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)
  const packages = readdirSync(join(root, 'packages')).sort().map((p) => `packages/${p}/README.md`)
  return ['README.md', ...docs, ...packages]
}

/**
 * The JS/TS blocks of one Markdown text: `{ line, lang, flags, code }`, `line`
 * being the line of the opening fence (1-based). Throws on an unknown flag.
 */
export function codeBlocks (markdown, file = 'markdown') {
  const lines = markdown.split('\n')
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)(.*)$/.exec(lines[i])
    if (open === null) continue
    let end = i + 1
    while (end < lines.length && !lines[end].startsWith('```')) end++
    const lang = open[1]
    if (LANGUAGES.has(lang)) {
      const flags = open[2].trim().split(/\s+/).filter((f) => f.length > 0)
      for (const flag of flags) if (!FLAGS.has(flag)) throw new Error(`${file}:${i + 1}: unknown code block flag "${flag}"`)
      blocks.push({ line: i + 1, lang: lang.startsWith('t') ? 'ts' : 'js', flags, code: lines.slice(i + 1, end).join('\n') })
    }
    i = end
  }
  return blocks
}

/**
 * The `@example` blocks of the doc comments in a source file, as `codeBlocks`
 * gives them (`line` is the line of the opening fence in the source).
 */
export function exampleBlocks (source, file = 'source') {
  const lines = source.split('\n')
  const out = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*\* @example\s*$/.test(lines[i])) continue
    let j = i + 1
    const body = []
    while (j < lines.length && /^\s*\*(?!\/)/.test(lines[j]) && !/^\s*\* @/.test(lines[j])) {
      body.push({ text: lines[j].replace(/^\s*\* ?/, ''), line: j + 1 })
      j++
    }
    const first = body.findIndex((b) => b.text.startsWith('```'))
    if (first === -1) continue
    for (const block of codeBlocks(body.slice(first).map((b) => b.text).join('\n'), file)) {
      out.push({ ...block, line: body[first].line + block.line - 1 })
    }
    i = j - 1
  }
  return out
}

function escape (text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** What one comment says is printed, or null when it says nothing checkable. */
export function expectedText (comment) {
  let text = comment.trim()
  const quoted = /^"([^"]*)"/.exec(text)
  if (quoted) return quoted[1]
  const cut = text.search(/: |\s\(|; /)
  if (cut > 0) text = text.slice(0, cut)
  return text.length > 0 ? text : null
}

/** The outputs the comments of a block promise: a list of `{ text, pattern }`. */
export function expectedOutputs (code) {
  const out = []
  for (const line of code.split('\n')) {
    if (!line.includes('console.log(')) continue
    const at = line.lastIndexOf('// ')
    if (at === -1) continue
    const text = expectedText(line.slice(at + 3))
    if (text === null) continue
    const pattern = escape(text.replace(/\s+/g, ' ')).replace(/…|\\\.\\\.\\\./g, '.*?')
    out.push({ text, pattern: new RegExp(pattern) })
  }
  return out
}

/** The promised outputs that `output` does not contain. */
export function missingOutputs (code, output) {
  const flat = output.replace(/\s+/g, ' ')
  return expectedOutputs(code).filter((e) => !e.pattern.test(flat)).map((e) => e.text)
}
