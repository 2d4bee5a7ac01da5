#!/usr/bin/env node
// Checks that every relative link, and every anchor, in the repository's
// Markdown (README.md, docs/*.md, packages/*/README.md) and in the generated
// API reference (docs/api/**/*.html) resolves to a file that exists and, for
// an anchor, to a heading or id inside it.
//
//   node scripts/check-links.mjs            check, print each broken link, exit 1 if any
//   node scripts/check-links.mjs --no-api   skip docs/api (before `pnpm docs:api`)
//
// Links with a scheme (https:, mailto:, ...) are not fetched: the check is
// about the repository being consistent with itself, and runs offline.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, extname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Markdown files checked by default, relative to the root. */
export function defaultMarkdownFiles (root = ROOT) {
  const files = ['README.md']
  for (const name of safeReaddir(join(root, 'docs'))) {
    if (name.endsWith('.md')) files.push(`docs/${name}`)
  }
  for (const name of safeReaddir(join(root, 'packages'))) {
    if (existsSync(join(root, 'packages', name, 'README.md'))) files.push(`packages/${name}/README.md`)
  }
  return files.filter((f) => existsSync(join(root, f)))
}

/** Every .html file under `dir` (recursively), relative to the root. */
export function htmlFiles (root, dir) {
  const out = []
  const walk = (abs) => {
    for (const entry of safeReaddir(abs)) {
      const p = join(abs, entry)
      if (statSync(p).isDirectory()) walk(p)
      else if (entry.endsWith('.html')) out.push(relative(root, p))
    }
  }
  if (existsSync(join(root, dir))) walk(join(root, dir))
  return out.sort()
}

function safeReaddir (dir) {
  try {
    return readdirSync(dir).sort()
  } catch {
    return []
  }
}

// ---- Markdown -----------------------------------------------------------------

/** A closing fence: the same character, at least as many, nothing after it. */
function closesFence (line, fence) {
  const m = /^\s{0,3}(`{3,}|~{3,})\s*$/.exec(line)
  return m !== null && m[1][0] === fence[0] && m[1].length >= fence.length
}

/** Markdown without fenced code blocks and inline code spans (their text is not a link). */
export function stripCode (text) {
  const lines = text.split('\n')
  let fence = null
  const out = []
  for (const line of lines) {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line)
    if (fence !== null) {
      if (closesFence(line, fence)) fence = null
      out.push('')
      continue
    }
    if (m) {
      fence = m[1]
      out.push('')
      continue
    }
    out.push(line.replace(/(`+)[\s\S]*?\1/g, (s) => ' '.repeat(s.length)))
  }
  return out.join('\n')
}

/** Link targets in Markdown: inline links and images, reference definitions, and HTML href/src. */
export function markdownLinks (text) {
  const body = stripCode(text)
  const links = []
  const lineOf = (index) => body.slice(0, index).split('\n').length
  // [text](target "title") and ![alt](target); the text may hold nested brackets one level deep.
  const inline = /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g
  for (const m of body.matchAll(inline)) links.push({ target: m[1], line: lineOf(m.index) })
  // [id]: target
  const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/gm
  for (const m of body.matchAll(definition)) links.push({ target: m[1], line: lineOf(m.index) })
  // <a href="..."> and <img src="..."> written as HTML
  const html = /\b(?:href|src)\s*=\s*"([^"]*)"/g
  for (const m of body.matchAll(html)) links.push({ target: m[1], line: lineOf(m.index) })
  return links
}

/** GitHub's heading ids ("## The `Allocator` API" -> "the-allocator-api"), de-duplicated with -1, -2... */
export function markdownAnchors (text) {
  const anchors = new Set()
  const seen = new Map()
  const lines = text.split('\n')
  let fence = null
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const f = /^\s{0,3}(`{3,}|~{3,})/.exec(line)
    if (fence !== null) {
      if (closesFence(line, fence)) fence = null
      continue
    }
    if (f) {
      fence = f[1]
      continue
    }
    let heading = null
    const atx = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (atx) heading = atx[1]
    else if (i + 1 < lines.length && /^\s{0,3}(=+|-+)\s*$/.test(lines[i + 1]) && line.trim() !== '' && !/^\s*[-*|>]/.test(line)) {
      heading = line.trim()
    }
    if (heading !== null) {
      const base = slug(heading)
      const n = seen.get(base) ?? 0
      seen.set(base, n + 1)
      anchors.add(n === 0 ? base : `${base}-${n}`)
    }
    // explicit anchors: <a id="x"></a>, <a name="x">
    for (const m of line.matchAll(/<a\s+(?:id|name)\s*=\s*"([^"]+)"/g)) anchors.add(m[1])
  }
  return anchors
}

/** The id GitHub gives a heading. */
export function slug (heading) {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images keep their text
    .replace(/<[^>]+>/g, '') // inline HTML
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-')
}

// ---- HTML ---------------------------------------------------------------------

/** href and src values of an HTML document. */
export function htmlLinks (text) {
  const links = []
  const body = text.replace(/<script\b[\s\S]*?<\/script>/gi, (s) => s.replace(/[^\n]/g, ' '))
  const lineOf = (index) => body.slice(0, index).split('\n').length
  for (const m of body.matchAll(/\b(?:href|src)\s*=\s*"([^"]*)"/g)) links.push({ target: decodeEntities(m[1]), line: lineOf(m.index) })
  return links
}

/** id and name attributes of an HTML document. */
export function htmlAnchors (text) {
  const anchors = new Set()
  for (const m of text.matchAll(/\b(?:id|name)\s*=\s*"([^"]*)"/g)) anchors.add(decodeEntities(m[1]))
  return anchors
}

function decodeEntities (s) {
  return s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')
}

// ---- the check --------------------------------------------------------------------

const SCHEME = /^[a-z][a-z0-9+.-]*:/i

/**
 * Checks `files` (paths relative to `root`). Returns one entry per broken link:
 * `{ file, line, target, reason }`. An empty array means every link resolves.
 */
export function checkLinks ({ root = ROOT, files } = {}) {
  const anchorCache = new Map()
  const anchorsOf = (abs) => {
    if (!anchorCache.has(abs)) {
      const text = readFileSync(abs, 'utf8')
      anchorCache.set(abs, abs.endsWith('.md') ? markdownAnchors(text) : htmlAnchors(text))
    }
    return anchorCache.get(abs)
  }
  const problems = []
  for (const file of files) {
    const abs = join(root, file)
    const text = readFileSync(abs, 'utf8')
    const isHtml = file.endsWith('.html')
    const links = isHtml ? htmlLinks(text) : markdownLinks(text)
    for (const { target, line } of links) {
      const report = (reason) => problems.push({ file, line, target, reason })
      if (target === '' || SCHEME.test(target) || target.startsWith('//')) continue
      const hash = target.indexOf('#')
      let path = hash === -1 ? target : target.slice(0, hash)
      const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1))
      path = path.split('?')[0]
      let resolved
      if (path === '') {
        resolved = abs
      } else {
        if (path.startsWith('/')) {
          report('absolute path: use a path relative to the file')
          continue
        }
        try {
          resolved = resolve(dirname(abs), decodeURIComponent(path))
        } catch {
          report('malformed URL')
          continue
        }
        if (!(resolved + sep).startsWith(root + sep)) {
          report('points outside the repository')
          continue
        }
        if (!existsSync(resolved)) {
          report('no such file or directory')
          continue
        }
      }
      if (anchor === null || anchor === '') continue
      const isDir = statSync(resolved).isDirectory()
      const ext = extname(resolved)
      if (!isDir && (ext === '.md' || ext === '.html' || ext === '.svg')) {
        if (!anchorsOf(resolved).has(anchor)) report(`no heading or id "${anchor}" in ${relative(root, resolved)}`)
      } else if (!/^L\d+(-L\d+)?$/.test(anchor)) {
        report(`anchor "${anchor}" into a file that has no headings`)
      }
    }
  }
  return problems
}

/** Every Markdown file of the repository, and the generated API reference unless `api` is false. */
export function defaultFiles ({ root = ROOT, api = true } = {}) {
  const files = defaultMarkdownFiles(root)
  if (api) files.push(...htmlFiles(root, 'docs/api'))
  return files
}

export function formatProblems (problems) {
  return problems.map((p) => `${p.file}:${p.line}: ${p.target} — ${p.reason}`).join('\n')
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const api = !process.argv.includes('--no-api')
  if (api && !existsSync(join(ROOT, 'docs/api/index.html'))) {
    console.error('docs/api/index.html is missing: run `pnpm docs:api` first (or pass --no-api)')
    process.exit(1)
  }
  const files = defaultFiles({ api })
  const problems = checkLinks({ files })
  if (problems.length > 0) {
    console.error(formatProblems(problems))
    console.error(`${problems.length} broken link(s) in ${files.length} files`)
    process.exit(1)
  }
  console.log(`links ok: ${files.length} files`)
}
