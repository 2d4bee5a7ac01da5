// tarsjs benchmarks: every case side by side in one process, against
// sodium-native and Buffer.alloc. Shows its progress on stderr (a bar with
// the time left on a terminal, plain lines otherwise), writes its report to
// bench/results/ (latest.json, benchmarks.md, benchmarks.svg; git-ignored)
// and prints the summary table last. The tracked docs/benchmarks.md and
// docs/benchmarks.svg change only with --write-docs.
//
//   --write-docs       also regenerate docs/benchmarks.md and docs/benchmarks.svg
//   --only=ID[,ID...]  run only these timed cases (e.g. --only=ed25519-sign,hmac-window,scrypt-window):
//                      no memory measurement and no pages, the JSON and the table only
//
// Environment:
//   BENCH_QUICK=1      few short rounds, 500 secrets: checks the harness, not the speed
//   BENCH_OUTPUT=path  where the JSON goes (default bench/results/latest.json); the
//                      markdown and the SVG go beside it
//   BENCH_DOCS_DIR=dir where --write-docs writes (default docs/ of the repository);
//                      setting it also asks for the docs
//
// `node run.mjs --render [file.json]` renders an earlier run's JSON (default
// bench/results/latest.json) without measuring, with the same outputs.
//   BENCH_RUNTIMES=node20,node24   the same as --runtimes=... below
//
// `node run.mjs --runtimes=node20,node22,node24,node26` runs the whole harness
// once per Node.js major, one after the other, each in that version's `node`
// (installed by scripts/runtimes.mjs; the running Node.js for its own major),
// into bench/results/<runtime>.json; the report then has the first run's
// tables and a column per version. With more than one file, `--render` does
// the same from earlier runs.
//
// Exit status: 0 when every benchmark ran and every checksum matched, even if
// a target was missed (missed targets are reported, not failed); 1 otherwise.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { judge, timedCases } from './lib/cases.mjs'
import { benchDir, loadSodiumAllocator } from './lib/load.mjs'
import { machineInfo, packageVersions, sourceRevision } from './lib/machine.mjs'
import { DRAIN_NOTE, measureCase } from './lib/measure.mjs'
import { measureMemory, memoryContenders, memoryRatios } from './lib/memory.mjs'
import { createProgress } from './lib/progress.mjs'
import { consoleReport, formatBytes, formatNs, formatRatio, renderMarkdown, renderSvg } from './lib/render.mjs'

const quick = process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true'
const settings = quick
  ? { quick, rounds: 3, warmupRounds: 1, batchMs: 2, maxIterations: 2000, memoryCount: 500, memoryReps: 1 }
  : { quick, rounds: 61, warmupRounds: 4, batchMs: 30, maxIterations: 5_000_000, memoryCount: 10_000, memoryReps: 3 }

const outputFile = resolve(process.env.BENCH_OUTPUT ?? join(benchDir, 'results', 'latest.json'))
const resultsDir = dirname(outputFile)
const writeDocs = process.argv.includes('--write-docs') || Boolean(process.env.BENCH_DOCS_DIR)
const onlyArg = process.argv.find((a) => a.startsWith('--only='))
/** `--only=id,id`: just these timed cases, no memory measurement and no pages. */
const only = onlyArg === undefined ? null : onlyArg.slice('--only='.length).split(',').filter(Boolean)
const docsDir = writeDocs ? resolve(process.env.BENCH_DOCS_DIR ?? join(benchDir, '..', 'docs')) : null

/** Writes benchmarks.md and benchmarks.svg into `dir`; returns the markdown's path. */
function writePages (report, dir, reports) {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'benchmarks.svg'), renderSvg(report))
  writeFileSync(join(dir, 'benchmarks.md'), renderMarkdown(report, 'benchmarks.svg', reports))
  return join(dir, 'benchmarks.md')
}

/** The pages of a report: beside the JSON always, in the docs when asked. Returns what was written. */
function writeReportPages (report, reports = [report]) {
  const written = [writePages(report, resultsDir, reports)]
  if (docsDir !== null) written.push(writePages(report, docsDir, reports))
  return written.map((file) => `Wrote ${file} and benchmarks.svg`)
}

function maxMapCount () {
  try {
    return Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8').trim())
  } catch {
    return 65530
  }
}

function observations (report) {
  const lines = []
  const byId = (caseId) => report.cases.find((k) => k.id === caseId && !k.skipped)
  const res = (kase, id) => kase?.results.find((r) => r.id === id)
  const slot = byId('slot')
  const floor = res(slot, 'view-floor')
  const slotOurs = res(slot, 'slot')
  if (floor && slotOurs) {
    lines.push(`One external ArrayBuffer (\`os.view\` + \`os.detach\`, no allocator) costs ${formatNs(floor.medianNs)} ns, ` +
      `${Math.round((100 * floor.medianNs) / slotOurs.medianNs)}% of the slot allocator's ${formatNs(slotOurs.medianNs)} ns loop. ` +
      'Every secret gets its own ArrayBuffer of exactly its size (so `view.buffer` cannot expose a neighbour); that is a fixed cost a plain `Buffer.alloc` does not pay.')
  }
  const pageOurs = res(byId('page'), 'page')
  const pageStats = pageOurs?.details?.stats
  if (pageStats && pageOurs.iterations > 0) {
    lines.push(`The page allocator's cache was warm: ${pageStats.cacheHits.toLocaleString('en-US')} of its ${(pageOurs.iterations + 1).toLocaleString('en-US')} allocations ` +
      'reused a wiped, cached mapping instead of mapping a new one.')
  }
  const key = byId('protkey')
  const keyOurs = res(key, 'protkey')
  const keyBase = res(key, 'sodium-native')
  const keyCopy = res(key, 'keyed-copy')
  const keyMemory = res(key, 'key-window-memory')
  const keyNone = res(key, 'protkey-mprotect')
  const keyPair = res(key, 'protect-pair')
  if (keyOurs && keyBase && keyCopy && keyMemory) {
    const keyed = keyCopy.details?.protectionKeys === true
    lines.push(`A ProtKey read window costs ${formatNs(keyOurs.medianNs)} ns, ${formatRatio(keyOurs.medianNs / keyBase.medianNs)} sodium-native's ${formatNs(keyBase.medianNs)} ns. ` +
      "It never makes the key's own pages readable: it copies the key into the key's own slot of window memory and hands out a view of that copy. " +
      (keyed
        ? `The copy out of the keyed pages (\`keyedCopy\`: this thread's PKRU opened for the copy alone) costs ${formatNs(keyCopy.medianNs)} ns; `
        : `This machine has no memory protection key, so the copy needs an mprotect pair (the plain copy alone: ${formatNs(keyCopy.medianNs)} ns); `) +
      `the window memory (the key's own slot: view, wipe, detach) ${formatNs(keyMemory.medianNs)} ns. ` +
      'sodium-native creates no view: its Buffer stays attached while no-access, and reading it then kills the process.')
    if (keyNone && keyPair) {
      lines.push(`Where there is no protection key (or with \`protectionKey: 'off'\`), the key's pages are \`PROT_NONE\` and each window ` +
        `pays an mprotect pair (${formatNs(keyPair.medianNs)} ns here) for the copy: ${formatNs(keyNone.medianNs)} ns, ${formatRatio(keyNone.medianNs / keyBase.medianNs)} sodium-native's.`)
    }
  }
  const mem = report.memory
  const memOurs = mem.results.find((r) => r.role === 'ours')
  const memBase = mem.results.find((r) => r.role === 'baseline')
  if (memOurs && memBase) {
    lines.push(`Per 32-byte secret, sodium-native locks ${formatBytes(Math.round(memBase.lockedBytes / mem.count))} and adds ` +
      `${(memBase.mappings / mem.count).toFixed(2)} kernel mappings; ProtBuf locks ${formatBytes(Math.round(memOurs.lockedBytes / mem.count))} and adds ` +
      `${(memOurs.mappings / mem.count).toFixed(4)}. With this machine's \`vm.max_map_count\` (${maxMapCount().toLocaleString('en-US')}) sodium-native runs out of mappings after roughly ` +
      `${Math.round(maxMapCount() / Math.max(memBase.mappings / mem.count, 1e-9)).toLocaleString('en-US')} live secrets (fewer, counting the mappings Node itself holds).`)
  }
  const protKeyMem = mem.results.find((r) => r.id === 'protkey')
  if (protKeyMem) {
    const perKey = protKeyMem.lockedBytes / mem.count
    const secret = protKeyMem.allocatorStats?.protections?.secretmem === true
    const guardsCounted = perKey <= 1.5 * report.machine.pageSize
      ? ` Only the data page is charged against RLIMIT_MEMLOCK${secret ? ' (it is `memfd_secret` memory here)' : ''}: the guard pages are plain PROT_NONE memory, shared by neighbouring keys.`
      : ` Each key is charged ${formatBytes(Math.round(perKey))} against RLIMIT_MEMLOCK for one page of data.`
    lines.push(`ProtKey gives each key its own guarded page (so a window can change its protection): ` +
      `${formatBytes(Math.round(perKey))} locked (VmLck) and ${(protKeyMem.mappings / mem.count).toFixed(2)} mappings per key.${guardsCounted} ` +
      'Use ProtBuf for many small secrets, ProtKey for the few keys that must be unreadable between uses.')
  }
  for (const kase of report.cases) if (kase.skipped) lines.push(`${kase.title}: skipped (${kase.skipped}).`)
  return lines
}

/** `node run.mjs --render [file.json...]`: prints and writes the pages from earlier runs' JSON, measuring nothing; with several files, a column per Node.js version. */
function renderOnly (files) {
  const reports = files.map((file) => JSON.parse(readFileSync(file, 'utf8')))
  for (const report of reports) report.observations = observations(report)
  const [report] = reports
  for (const line of writeReportPages(report, reports)) console.log(`${line} from ${files.join(', ')}`)
  console.log(consoleReport(report))
}

/** `--runtimes=node20,node24`: the whole harness under each Node.js major, then one report from all of them. */
function runEach (names) {
  const files = []
  for (const name of names) {
    const major = /^node(\d+)$/.exec(name)?.[1]
    if (major === undefined) throw new Error(`--runtimes: ${name} is not a Node.js major such as node24 (the benchmarks compare against sodium-native, a Node.js addon)`)
    let bin = process.execPath
    if (major !== process.versions.node.split('.')[0]) {
      const found = spawnSync(process.execPath, [join(benchDir, '..', 'scripts', 'runtimes.mjs'), 'path', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
      if (found.status !== 0) throw new Error(`could not install ${name}`)
      bin = found.stdout.trim()
    }
    const file = join(resultsDir, `${name}.json`)
    console.error(`== ${name}: ${bin}`)
    // Each single run writes its own JSON (and pages beside it); this process writes the combined report.
    const run = spawnSync(bin, [join(benchDir, 'run.mjs')], {
      cwd: benchDir,
      stdio: 'inherit',
      env: { ...process.env, BENCH_RUNTIMES: '', BENCH_OUTPUT: file, BENCH_DOCS_DIR: '', PATH: `${dirname(bin)}:${process.env.PATH}` }
    })
    if (run.status !== 0) throw new Error(`the benchmarks failed under ${name} (status ${run.status ?? run.signal})`)
    files.push(file)
  }
  renderOnly(files)
}

async function main () {
  const renderAt = process.argv.indexOf('--render')
  if (renderAt !== -1) {
    const files = process.argv.slice(renderAt + 1).filter((a) => !a.startsWith('--'))
    renderOnly((files.length > 0 ? files : [outputFile]).map((f) => resolve(f)))
    return
  }
  const runtimes = process.argv.find((a) => a.startsWith('--runtimes='))?.slice('--runtimes='.length) ?? process.env.BENCH_RUNTIMES
  if (runtimes) {
    runEach(runtimes.split(',').filter(Boolean))
    return
  }
  const started = Date.now()
  const sodiumAllocator = loadSodiumAllocator()
  const report = {
    generatedAt: new Date().toISOString(),
    settings,
    machine: machineInfo(),
    versions: packageVersions(),
    revision: sourceRevision(),
    notes: { finalizers: DRAIN_NOTE, sodiumAllocator: sodiumAllocator.available ? 'loaded' : sodiumAllocator.reason },
    cases: [],
    memory: null,
    checksumsOk: true,
    errors: [],
    observations: [],
    durationMs: 0
  }
  if (!sodiumAllocator.available) report.versions['@tarsjs/sodium-allocator'] = null

  const cases = only === null ? timedCases(sodiumAllocator) : timedCases(sodiumAllocator).filter((k) => only.includes(k.id))
  if (only !== null && cases.length !== only.length) {
    const known = timedCases(sodiumAllocator).map((k) => k.id)
    throw new Error(`--only: unknown case id(s) ${only.filter((id) => !known.includes(id)).join(', ')}; known: ${known.join(', ')}`)
  }
  const memoryRuns = only === null ? memoryContenders(sodiumAllocator) : []
  const batchesPerCase = settings.warmupRounds + settings.rounds
  const units = cases.reduce((sum, k) => sum + (k.skipped ? 0 : k.contenders.length * batchesPerCase), 0) + settings.memoryReps * memoryRuns.length
  const progress = createProgress({ total: units })
  const measuring = { ...settings, onBatch: () => progress.advance() }

  progress.log(`tarsjs bench${quick ? ' (quick mode)' : ''}: ${report.notes.finalizers}`)
  for (const kase of cases) {
    const entry = { id: kase.id, title: kase.title, target: kase.target, ...(kase.baseline ? { baseline: kase.baseline } : {}) }
    if (kase.skipped) {
      progress.log(`- ${kase.title}: skipped (${kase.skipped})`)
      report.cases.push({ ...entry, skipped: kase.skipped, verdict: 'SKIPPED', ratio: null })
      continue
    }
    progress.step(kase.title)
    try {
      const results = await measureCase(kase, measuring)
      const verdict = judge(kase, results)
      report.cases.push({ ...entry, results, ...verdict })
      for (const r of results) if (!r.checksum.ok) report.checksumsOk = false
    } catch (err) {
      report.errors.push({ case: kase.id, message: String(err?.stack ?? err) })
      report.cases.push({ ...entry, skipped: `error: ${err?.message ?? err}`, verdict: 'ERROR', ratio: null })
      progress.log(`  error: ${err?.stack ?? err}`)
    }
  }

  if (memoryRuns.length > 0) {
    progress.step(`memory: ${settings.memoryCount} live 32-byte secrets`)
    try {
      const results = await measureMemory(memoryRuns, { count: settings.memoryCount, reps: settings.memoryReps, onStep: () => progress.advance() })
      report.memory = { count: settings.memoryCount, reps: settings.memoryReps, results, ratios: memoryRatios(results) }
      for (const r of results) if (!r.checksum.ok) report.checksumsOk = false
    } catch (err) {
      report.errors.push({ case: 'memory', message: String(err?.stack ?? err) })
      progress.log(`  error: ${err?.stack ?? err}`)
    }
  }
  progress.finish()

  report.durationMs = Date.now() - started
  if (report.memory) report.observations = observations(report)

  mkdirSync(dirname(outputFile), { recursive: true })
  writeFileSync(outputFile, `${JSON.stringify(report, null, 2)}\n`)

  console.log(`Wrote ${outputFile} (${Math.round(report.durationMs / 1000)} s)`)
  if (only !== null) {
    // A partial run: the JSON and the table, no pages (they describe a whole run).
    console.log('')
    console.log(consoleReport(report))
  } else if (report.memory) {
    for (const line of writeReportPages(report)) console.log(line)
    // The summary table comes last, where a terminal leaves it in view.
    console.log('')
    console.log(consoleReport(report))
  }

  if (report.errors.length > 0 || !report.checksumsOk) {
    console.error(report.errors.length > 0 ? `${report.errors.length} benchmark(s) failed to run` : 'A checksum did not match')
    process.exitCode = 1
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
