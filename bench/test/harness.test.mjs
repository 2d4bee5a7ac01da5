// Tests the benchmark harness itself — never the speed. The whole harness runs
// once in quick mode (a few short rounds), into a temporary directory, and its
// JSON, markdown and SVG are checked for completeness and validated checksums.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { byteFor, expectedSum, measureCase, median, pairedRatio } from '../lib/measure.mjs'

const benchDir = fileURLToPath(new URL('..', import.meta.url))
const TIMED = ['slot', 'page', 'protbuf', 'protkey', 'sealedkey', 'sodium-allocator', 'ed25519-sign', 'hmac-window', 'scrypt-window']
const WITH_BUFFER = ['slot', 'page', 'protbuf', 'sodium-allocator']

describe('measurement helpers', () => {
  it('expectedSum is the sum of the bytes a batch writes', () => {
    for (const n of [0, 1, 127, 128, 129, 1000, 4099]) {
      let sum = 0
      for (let i = 0; i < n; i++) sum += byteFor(i)
      expect(expectedSum(n)).toBe(sum)
    }
    for (let i = 0; i < 300; i++) {
      expect(byteFor(i)).toBeGreaterThan(0)
      expect(byteFor(i)).toBeLessThan(256)
    }
  })

  it('median and pairedRatio', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(pairedRatio([10, 20, 90], [5, 10, 10])).toBe(2)
  })

  it('a contender whose checksum is wrong is reported, not hidden', async () => {
    const settings = { rounds: 2, warmupRounds: 1, batchMs: 1, maxIterations: 64 }
    const honest = { id: 'honest', label: 'honest', role: 'ours', run: (n) => expectedSum(n), expect: expectedSum }
    const lying = { id: 'lying', label: 'lying', role: 'baseline', run: () => 0, expect: expectedSum }
    const results = await measureCase({ contenders: [honest, lying] }, settings)
    expect(results[0].checksum.ok).toBe(true)
    expect(results[1].checksum.ok).toBe(false)
    expect(results[0].samples).toHaveLength(2)
    expect(results[0].medianNs).toBeGreaterThan(0)
  })
})

describe('bench/run.mjs --only', () => {
  it('runs just the named cases, with no memory measurement and no pages', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tarsjs-bench-only-'))
    try {
      const run = spawnSync(process.execPath, [join(benchDir, 'run.mjs'), '--only=hmac-window,scrypt-window'], {
        cwd: benchDir,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, BENCH_QUICK: '1', BENCH_OUTPUT: join(dir, 'out.json'), BENCH_DOCS_DIR: '' }
      })
      expect(run.status, run.stderr).toBe(0)
      const report = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'))
      expect(report.cases.map((k) => k.id)).toEqual(['hmac-window', 'scrypt-window'])
      expect(report.memory).toBe(null)
      expect(report.checksumsOk).toBe(true)
      const scrypt = report.cases[1]
      expect(scrypt.target.kind).toBe('added')
      expect(Number.isFinite(scrypt.added)).toBe(true)
      expect(run.stdout).toMatch(/ns over scrypt on a heap Buffer/)
      expect(existsSync(join(dir, 'benchmarks.md'))).toBe(false)
      const bad = spawnSync(process.execPath, [join(benchDir, 'run.mjs'), '--only=no-such-case'], { cwd: benchDir, encoding: 'utf8', env: { ...process.env, BENCH_QUICK: '1', BENCH_OUTPUT: join(dir, 'bad.json') } })
      expect(bad.status).not.toBe(0)
      expect(bad.stderr).toContain('unknown case id(s) no-such-case')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('quick run of bench/run.mjs', () => {
  let dir
  let run
  let report

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tarsjs-bench-'))
    run = spawnSync(process.execPath, [join(benchDir, 'run.mjs')], {
      cwd: benchDir,
      encoding: 'utf8',
      timeout: 110_000,
      env: { ...process.env, BENCH_QUICK: '1', BENCH_OUTPUT: join(dir, 'out.json'), BENCH_DOCS_DIR: dir }
    })
    if (existsSync(join(dir, 'out.json'))) report = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'))
  })

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('exits 0 and prints the table', () => {
    expect(run.error).toBeUndefined()
    expect(run.stderr).not.toMatch(/error:/)
    expect(run.status).toBe(0)
    expect(run.stdout).toMatch(/Summary/)
    expect(run.stdout).toMatch(/Checksums: all validated/)
    expect(run.stderr).toMatch(/setImmediate/) // the finalizer-drain note is printed
  })

  it('writes JSON with the machine and the package versions', () => {
    expect(report).toBeDefined()
    expect(report.settings.quick).toBe(true)
    expect(report.errors).toEqual([])
    expect(report.checksumsOk).toBe(true)
    const m = report.machine
    expect(typeof m.cpu).toBe('string')
    expect(m.cores).toBeGreaterThan(0)
    expect(m.kernel).toMatch(/\d/)
    expect(m.node).toBe(process.version)
    expect(report.versions['sodium-native']).toBe('4.3.1')
    for (const name of ['@tarsjs/os-memlock', '@tarsjs/page-alloc', '@tarsjs/prot-containers']) {
      expect(report.versions[name]).toMatch(/^\d+\.\d+\.\d+/)
    }
  })

  it('has every timed case with positive medians, validated checksums and a verdict', () => {
    expect(report.cases.map((k) => k.id)).toEqual(TIMED)
    for (const kase of report.cases) {
      expect(kase.target.value).toBeGreaterThan(0)
      if (kase.skipped) {
        // Only the optional package may be missing, and then it says why.
        expect(kase.id).toBe('sodium-allocator')
        expect(kase.verdict).toBe('SKIPPED')
        expect(kase.skipped).toMatch(/sodium-allocator/)
        continue
      }
      const roles = kase.results.map((r) => r.role)
      expect(roles).toContain('ours')
      expect(roles).toContain('baseline')
      if (WITH_BUFFER.includes(kase.id)) expect(roles).toContain('buffer')
      for (const r of kase.results) {
        expect(Number.isFinite(r.medianNs) && r.medianNs > 0, `${kase.id}/${r.id} median`).toBe(true)
        expect(r.samples).toHaveLength(report.settings.rounds)
        expect(r.iterations).toBeGreaterThan(0)
        expect(r.checksum.ok, `${kase.id}/${r.id} checksum`).toBe(true)
        expect(r.checksum.actual).toBe(r.checksum.expected)
        expect(r.checksum.actual).toBeGreaterThan(0)
      }
      expect(Number.isFinite(kase.ratio) && kase.ratio > 0).toBe(true)
      expect(['PASS', 'MISS']).toContain(kase.verdict)
    }
  })

  it('measures the memory of live secrets for ours and sodium-native', () => {
    const mem = report.memory
    expect(mem.count).toBeGreaterThan(0)
    const ours = mem.results.find((r) => r.role === 'ours')
    const base = mem.results.find((r) => r.role === 'baseline')
    expect(ours.lockedBytes).toBeGreaterThan(0)
    expect(base.lockedBytes).toBeGreaterThan(0)
    expect(ours.mappings).toBeGreaterThanOrEqual(0)
    expect(base.mappings).toBeGreaterThan(0)
    for (const r of mem.results) {
      expect(r.checksum.ok, `memory/${r.id} checksum`).toBe(true)
      expect(r.checksum.actual).toBeGreaterThan(0)
    }
    expect(mem.ratios.locked).toBeGreaterThan(0)
  })

  it('renders the markdown page and the SVG chart', () => {
    const md = readFileSync(join(dir, 'benchmarks.md'), 'utf8')
    const svg = readFileSync(join(dir, 'benchmarks.svg'), 'utf8')
    expect(md).toMatch(/^<!-- Generated by bench\/run\.mjs/)
    expect(md).toContain('](benchmarks.svg)')
    expect(md).toContain(report.machine.cpu)
    expect(md).toContain(report.machine.node)
    for (const kase of report.cases) expect(md).toContain(kase.title)
    expect(md).toMatch(/live 32-byte secrets/)
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trim().endsWith('</svg>')).toBe(true)
    expect(svg).toMatch(/<rect [^>]*fill="#2f6fb3"/)
    expect(svg).not.toMatch(/NaN|undefined|Infinity/)
  })

  it('regenerates the docs from the JSON alone with --render', () => {
    const again = join(dir, 'again')
    const render = spawnSync(process.execPath, [join(benchDir, 'run.mjs'), '--render', join(dir, 'out.json')], {
      cwd: benchDir,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, BENCH_QUICK: '1', BENCH_DOCS_DIR: again, BENCH_OUTPUT: join(again, 'unused.json') }
    })
    expect(render.status).toBe(0)
    expect(readFileSync(join(again, 'benchmarks.md'), 'utf8')).toBe(readFileSync(join(dir, 'benchmarks.md'), 'utf8'))
    expect(readFileSync(join(again, 'benchmarks.svg'), 'utf8')).toBe(readFileSync(join(dir, 'benchmarks.svg'), 'utf8'))
  })

  it('--render with several runs gives a column per Node.js version, the ProtKey window parts included', () => {
    const other = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'))
    other.machine.node = 'v99.1.2'
    const key = other.cases.find((k) => k.id === 'protkey')
    for (const r of key.results) r.medianNs = 12345
    writeFileSync(join(dir, 'other.json'), JSON.stringify(other))
    const both = join(dir, 'both')
    const render = spawnSync(process.execPath, [join(benchDir, 'run.mjs'), '--render', join(dir, 'out.json'), join(dir, 'other.json')], {
      cwd: benchDir,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, BENCH_QUICK: '1', BENCH_DOCS_DIR: both }
    })
    expect(render.status, render.stderr).toBe(0)
    const md = readFileSync(join(both, 'benchmarks.md'), 'utf8')
    const section = md.slice(md.indexOf('## By Node.js version'), md.indexOf('## Every contender'))
    expect(section).toContain(`| Case | Contender | Node.js ${report.machine.node.slice(1)} | Node.js 99.1.2 |`)
    for (const r of key.results) {
      const row = section.split('\n').find((line) => line.includes(key.title) && line.includes(`| ${r.label.replace(/\|/g, '\\|')} |`))
      expect(row, r.label).toBeDefined()
      expect(row).toMatch(/\| 12,345 ns \|$/)
    }
    // A single run's page has no such section.
    expect(readFileSync(join(dir, 'benchmarks.md'), 'utf8')).not.toContain('## By Node.js version')
  })

  it('--runtimes runs the harness in each named Node.js and writes one JSON per runtime', () => {
    const name = `node${process.versions.node.split('.')[0]}`
    const docs = join(dir, 'runtimes')
    const run = spawnSync(process.execPath, [join(benchDir, 'run.mjs'), `--runtimes=${name}`], {
      cwd: benchDir,
      encoding: 'utf8',
      timeout: 110_000,
      env: { ...process.env, BENCH_QUICK: '1', BENCH_OUTPUT: join(dir, 'out.json'), BENCH_DOCS_DIR: docs }
    })
    expect(run.status, run.stderr).toBe(0)
    const single = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'))
    expect(single.machine.node).toBe(process.version)
    expect(single.checksumsOk).toBe(true)
    expect(readFileSync(join(docs, 'benchmarks.md'), 'utf8')).toContain(process.version)
    const bad = spawnSync(process.execPath, [join(benchDir, 'run.mjs'), '--runtimes=bun'], { cwd: benchDir, encoding: 'utf8', timeout: 30_000 })
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain('not a Node.js major')
  })
})

describe('where a run writes, and what it prints', () => {
  const docsPage = join(benchDir, '..', 'docs', 'benchmarks.md')
  let dir
  let plain
  let withDocs
  let docsBefore

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tarsjs-bench-out-'))
    docsBefore = existsSync(docsPage) ? readFileSync(docsPage, 'utf8') : null
    const env = { ...process.env, BENCH_QUICK: '1', BENCH_OUTPUT: join(dir, 'results', 'latest.json') }
    delete env.BENCH_DOCS_DIR
    plain = spawnSync(process.execPath, [join(benchDir, 'run.mjs')], { cwd: benchDir, encoding: 'utf8', timeout: 110_000, env })
    withDocs = spawnSync(process.execPath, [join(benchDir, 'run.mjs'), '--render', join(dir, 'results', 'latest.json'), '--write-docs'], {
      cwd: benchDir,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...env, BENCH_OUTPUT: join(dir, 'rendered', 'latest.json'), BENCH_DOCS_DIR: join(dir, 'docs') }
    })
  })

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('writes the report to its own folder and leaves the tracked docs alone', () => {
    expect(plain.status, plain.stderr).toBe(0)
    for (const file of ['latest.json', 'benchmarks.md', 'benchmarks.svg']) expect(existsSync(join(dir, 'results', file)), file).toBe(true)
    expect(existsSync(docsPage) ? readFileSync(docsPage, 'utf8') : null).toBe(docsBefore)
    expect(plain.stdout).not.toContain(join(benchDir, '..', 'docs'))
  })

  it('--write-docs writes the docs pages too', () => {
    expect(withDocs.status, withDocs.stderr).toBe(0)
    expect(readFileSync(join(dir, 'docs', 'benchmarks.md'), 'utf8')).toBe(readFileSync(join(dir, 'rendered', 'benchmarks.md'), 'utf8'))
    expect(existsSync(join(dir, 'docs', 'benchmarks.svg'))).toBe(true)
  })

  it('without a terminal prints one progress line per step, with the time left, and the summary table last', () => {
    const steps = plain.stderr.split('\n').filter((l) => l.startsWith('- '))
    // one line per timed case of the run's own report, and one for the memory measurement
    const written = JSON.parse(readFileSync(join(dir, 'results', 'latest.json'), 'utf8'))
    expect(steps.length).toBe(written.cases.length + 1)
    for (const line of steps.slice(1)) expect(line).toMatch(/\(about \d+ (s|min)( \d+ s)? left\)$/)
    expect(plain.stderr).not.toContain('\r')
    expect(plain.stderr).toMatch(/^done in \d+ s$/m)
    const out = plain.stdout.trimEnd().split('\n')
    expect(out[out.length - 1]).toMatch(/^Checksums: all validated/)
    expect(plain.stdout.indexOf('Wrote ')).toBeLessThan(plain.stdout.indexOf('Summary'))
  })
})
