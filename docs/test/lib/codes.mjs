// The error and warning codes each package's sources can produce, read from
// the sources themselves, and the codes docs/error-codes.md documents.
//
// A code is a string literal (single or double quotes) that is exactly
// ERR_*, TARSJS_* or an errno name (E followed by capitals: ENOMEM, EPERM...),
// outside comments. That covers `throw new AllocError('ERR_X', ...)`,
// `THROW_TYPE("ERR_X", ...)`, `case ENOMEM: return "ENOMEM"`, warning
// constants and code unions, so a new code cannot be added without the table
// noticing.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

export const PACKAGES = ['os-memlock', 'page-alloc', 'prot-containers', 'sodium-allocator', 'doctor']

const CODE = /^(ERR_[A-Z0-9_]+|TARSJS_[A-Z0-9_]+|E[A-Z][A-Z0-9]+)$/
// Environment variables os-memlock reads or writes (docs/os-memlock.md, "Test-only switches") and the
// map-count budget's settings (docs/page-alloc.md, "The map-count budget"): names, not codes.
const ENV_NAMES = new Set([
  'TARSJS_OS_MEMLOCK_TEST', 'TARSJS_OS_MEMLOCK_SIMULATE_NO_EXTERNAL_BUFFERS', 'TARSJS_OS_MEMLOCK_SIMULATE_NO_PKEYS', 'TARSJS_OS_MEMLOCK_BINARY', 'TARSJS_OS_MEMLOCK_INSTANCE',
  'TARSJS_MAP_LIMIT', 'TARSJS_MAP_RESERVE'
])
const SOURCE_EXT = /\.(c|h|ts|js|mjs|cjs)$/

/** Source files of a package that can throw: src/ (no .d.ts), bin/, and the scripts at its top (index.js...). */
export function sourceFiles (root, pkg) {
  const dir = join(root, 'packages', pkg)
  const out = []
  const walk = (abs) => {
    let entries
    try {
      entries = readdirSync(abs)
    } catch {
      return
    }
    for (const entry of entries.sort()) {
      const p = join(abs, entry)
      if (statSync(p).isDirectory()) walk(p)
      else if (SOURCE_EXT.test(entry) && !entry.endsWith('.d.ts')) out.push(p)
    }
  }
  walk(join(dir, 'src'))
  walk(join(dir, 'bin'))
  // the package's own top-level scripts (index.js and the files it requires), not tool configs
  for (const top of readdirSync(dir).sort()) {
    if (!/\.(js|cjs|mjs)$/.test(top) || /\.config\./.test(top)) continue
    if (statSync(join(dir, top)).isFile()) out.push(join(dir, top))
  }
  return out.map((p) => relative(root, p))
}

/**
 * String literals of a C/TypeScript/JavaScript source, comments skipped.
 * Template literals are skipped too (their text is a message, not a code).
 */
export function stringLiterals (text) {
  const out = []
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text[i]
    const next = text[i + 1]
    if (c === '/' && next === '/') {
      while (i < n && text[i] !== '\n') i++
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2)
      i = end === -1 ? n : end + 2
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1
      let value = ''
      while (j < n && text[j] !== c) {
        if (text[j] === '\\') {
          value += text[j + 1] ?? ''
          j += 2
          continue
        }
        if (c !== '`' && text[j] === '\n') break // unterminated: not a string (e.g. an apostrophe in a regex)
        value += text[j]
        j++
      }
      if (c !== '`') out.push(value)
      i = j + 1
    } else {
      i++
    }
  }
  return out
}

/** Map of code -> files (relative to root) of one package's sources. */
export function sourceCodes (root, pkg) {
  const codes = new Map()
  for (const file of sourceFiles(root, pkg)) {
    for (const literal of stringLiterals(readFileSync(join(root, file), 'utf8'))) {
      if (!CODE.test(literal) || ENV_NAMES.has(literal)) continue
      if (!codes.has(literal)) codes.set(literal, new Set())
      codes.get(literal).add(file)
    }
  }
  return codes
}

/**
 * The tables of docs/error-codes.md: for each `## @tarsjs/<package>` section,
 * its rows `| \`CODE\` | class | when | what to do |`.
 * Returns Map(pkg -> Map(code -> { klass, when, fix, line })).
 */
export function documentedCodes (markdown) {
  const sections = new Map()
  let current = null
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const heading = /^##\s+`?@tarsjs\/([a-z-]+)`?\s*$/.exec(line)
    if (heading) {
      current = heading[1]
      if (!sections.has(current)) sections.set(current, new Map())
      continue
    }
    if (/^##\s/.test(line)) {
      current = null
      continue
    }
    if (current === null || !line.startsWith('|')) continue
    const cells = line.split('|').slice(1, -1).map((c) => c.trim())
    const code = /^`([A-Z0-9_]+)`$/.exec(cells[0] ?? '')
    if (!code) continue
    const rows = sections.get(current)
    if (rows.has(code[1])) throw new Error(`docs/error-codes.md:${i + 1}: ${code[1]} is listed twice under @tarsjs/${current}`)
    rows.set(code[1], { klass: cells[1] ?? '', when: cells[2] ?? '', fix: cells[3] ?? '', line: i + 1 })
  }
  return sections
}
