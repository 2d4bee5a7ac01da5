// Output: the console report, the SVG chart and docs/benchmarks.md.

const ROLE_NAMES = {
  ours: 'tarsjs',
  baseline: 'sodium-native',
  buffer: 'Buffer.alloc',
  reference: 'reference',
  other: 'tarsjs (other)'
}

const ROLE_COLORS = {
  ours: '#2f6fb3',
  baseline: '#d9822b',
  buffer: '#8c8c8c',
  reference: '#9dc3e6',
  other: '#6aa870'
}

export function formatNs (ns) {
  if (!Number.isFinite(ns)) return 'n/a'
  if (ns >= 100) return Math.round(ns).toLocaleString('en-US')
  return ns.toFixed(1)
}

export function formatRatio (r) {
  if (r === null || !Number.isFinite(r)) return 'n/a'
  return r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`
}

export function formatBytes (b) {
  if (!Number.isFinite(b)) return 'n/a'
  const sign = b < 0 ? '-' : ''
  const abs = Math.abs(b)
  const fixed = (x, digits) => x.toFixed(digits).replace(/\.0+$/, '')
  if (abs >= 1024 ** 3) return `${sign}${fixed(abs / 1024 ** 3, 1)} GiB`
  if (abs >= 1024 ** 2) return `${sign}${fixed(abs / 1024 ** 2, 1)} MiB`
  if (abs >= 1024) return `${sign}${fixed(abs / 1024, abs >= 100 * 1024 ? 0 : 1)} KiB`
  return `${sign}${abs} B`
}

function targetText (target) {
  if (target.kind === 'added') return `≤ ${formatNs(target.value)} ns added`
  return target.kind === 'speedup' ? `≥ ${target.value}× faster` : `≤ ${target.value}× the cost`
}

function ratioText (kase, long = false) {
  if (kase.ratio === null || kase.ratio === undefined) return 'n/a'
  const baseline = kase.baseline ?? 'sodium-native'
  if (kase.target.kind === 'added') return `${kase.added >= 0 ? '+' : '-'}${formatNs(Math.abs(kase.added))} ns${long ? ` over ${baseline}` : ''} (${formatRatio(kase.ratio)})`
  if (kase.target.kind === 'speedup') return `${formatRatio(kase.ratio)} faster${long ? ` than ${baseline}` : ''}`
  return `${formatRatio(kase.ratio)} the cost${long ? ` of ${baseline}` : ''}`
}

function pad (s, n) {
  s = String(s)
  return s.length >= n ? s : s + ' '.repeat(n - s.length)
}

function padStart (s, n) {
  s = String(s)
  return s.length >= n ? s : ' '.repeat(n - s.length) + s
}

export function machineLine (machine) {
  return `${machine.cpu} (${machine.cores} cores), Linux ${machine.kernel} ${machine.arch}, Node ${machine.node}`
}

// ---------------------------------------------------------------- console

export function consoleReport (report) {
  const out = []
  const { settings } = report
  out.push(`tarsjs benchmarks on ${machineLine(report.machine)}`)
  out.push(`Medians of ${settings.rounds} interleaved rounds (after ${settings.warmupRounds} warm-up rounds), ns per operation${settings.quick ? ' [QUICK MODE: numbers are not meaningful]' : ''}.`)
  out.push(`Note: ${report.notes.finalizers}`)
  out.push('')
  let index = 0
  for (const kase of report.cases) {
    index++
    out.push(`${index}. ${kase.title}`)
    if (kase.skipped) {
      out.push(`   SKIPPED: ${kase.skipped}`)
      out.push('')
      continue
    }
    for (const r of kase.results) {
      const spread = `(${formatNs(r.minNs)} .. ${formatNs(r.maxNs)})`
      const check = r.checksum.ok ? 'checksum ok' : 'CHECKSUM MISMATCH'
      out.push(`   ${pad(r.label, 66)} ${padStart(formatNs(r.medianNs), 8)} ns/op  ${pad(spread, 20)} ${check}`)
    }
    const vsBuffer = kase.vsBuffer ? `; ${formatRatio(kase.vsBuffer)} the cost of Buffer.alloc` : ''
    const paired = Number.isFinite(kase.pairedRatio) ? ` [per-round paired median ${formatRatio(kase.pairedRatio)}]` : ''
    out.push(`   => ${ratioText(kase, true)}${paired} (target ${targetText(kase.target)}): ${kase.verdict}${vsBuffer}`)
    out.push('')
  }
  const mem = report.memory ?? { count: 0, reps: 0, results: [], ratios: null }
  index++
  if (report.memory) out.push(`${index}. Memory: ${mem.count.toLocaleString('en-US')} live 32-byte secrets (change in VmLck and in /proc/self/maps lines; median of ${mem.reps})`)
  for (const r of mem.results) {
    const check = r.checksum.ok ? 'checksum ok' : 'CHECKSUM MISMATCH'
    out.push(`   ${pad(r.label, 46)} locked ${padStart(formatBytes(r.lockedBytes), 10)}   mappings ${padStart(r.mappings.toLocaleString('en-US'), 7)}   ${check}`)
  }
  if (mem.ratios) out.push(`   => sodium-native locks ${formatRatio(mem.ratios.locked)} the bytes and uses ${formatRatio(mem.ratios.mappings)} the mappings of ProtBuf`)
  out.push('')
  out.push('Summary')
  out.push(`   ${pad('case', 64)} ${padStart('tarsjs', 9)} ${padStart('sodium', 9)} ${padStart('Buffer', 7)}  ${pad('ratio', 20)} ${pad('target', 20)} verdict`)
  for (const kase of report.cases) {
    if (kase.skipped) {
      out.push(`   ${pad(kase.title, 64)} skipped`)
      continue
    }
    const ours = kase.results.find((r) => r.role === 'ours')
    const base = kase.results.find((r) => r.role === 'baseline')
    const buf = kase.results.find((r) => r.role === 'buffer')
    out.push(`   ${pad(kase.title, 64)} ${padStart(formatNs(ours?.medianNs), 9)} ${padStart(formatNs(base?.medianNs), 9)} ${padStart(buf ? formatNs(buf.medianNs) : '-', 7)}  ${pad(ratioText(kase), 20)} ${pad(targetText(kase.target), 20)} ${kase.verdict}`)
  }
  out.push(`   (ns/op medians; ratio = sodium-native vs tarsjs)`)
  out.push('')
  out.push(`Checksums: ${report.checksumsOk ? 'all validated' : 'MISMATCH (see above)'}`)
  return out.join('\n')
}

// ---------------------------------------------------------------- SVG

function esc (s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/**
 * One horizontal bar panel with a logarithmic axis.
 * groups: [{ title, bars: [{ label, value, role, text }] }]
 */
function panel ({ title, axisLabel, groups, tickFormat, ticks }, y0, width) {
  const labelW = 300
  const valueW = 90
  const barX = labelW
  const barW = width - labelW - valueW - 20
  const values = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => v > 0)
  const min = values.length ? Math.min(...values) : 1
  const max = values.length ? Math.max(...values) : 10
  const candidates = ticks ?? Array.from({ length: 13 }, (_, i) => Math.pow(10, i))
  const lo = [...candidates].reverse().find((t) => t <= min / 2) ?? candidates[0]
  let hi = candidates.find((t) => t >= max) ?? candidates[candidates.length - 1]
  if (hi <= lo) hi = lo * 10
  const scale = (v) => (v <= 0 ? 0 : Math.max(2, ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * barW))
  const parts = []
  let y = y0
  if (title) {
    parts.push(`<text x="10" y="${y + 16}" class="title">${esc(title)}</text>`)
    y += 30
  } else {
    y += 6
  }
  const top = y
  const rows = []
  for (const g of groups) {
    rows.push(`<text x="10" y="${y + 13}" class="group">${esc(g.title)}</text>`)
    y += 20
    for (const b of g.bars) {
      rows.push(`<text x="${barX - 8}" y="${y + 11}" class="label" text-anchor="end"><title>${esc(b.title ?? b.label)}</title>${esc(b.label)}</text>`)
      const w = scale(b.value)
      rows.push(`<rect x="${barX}" y="${y + 1}" width="${w.toFixed(1)}" height="13" fill="${ROLE_COLORS[b.role] ?? '#999'}"/>`)
      rows.push(`<text x="${(barX + w + 6).toFixed(1)}" y="${y + 11}" class="value">${esc(b.text)}</text>`)
      y += 17
    }
    y += 6
  }
  // grid and axis
  for (const t of candidates.filter((c) => c >= lo && c <= hi)) {
    const x = barX + scale(t)
    parts.push(`<line x1="${x.toFixed(1)}" y1="${top - 4}" x2="${x.toFixed(1)}" y2="${y}" class="grid"/>`)
    parts.push(`<text x="${x.toFixed(1)}" y="${y + 14}" class="tick" text-anchor="middle">${esc(tickFormat(t))}</text>`)
  }
  parts.push(...rows)
  parts.push(`<text x="${barX + barW / 2}" y="${y + 30}" class="axis" text-anchor="middle">${esc(axisLabel)}</text>`)
  return { svg: parts.join('\n'), height: y + 40 - y0 }
}

function tickNs (t) {
  if (t >= 1e6) return `${t / 1e6} ms`
  if (t >= 1e3) return `${t / 1e3} µs`
  return `${t} ns`
}

const BYTE_TICKS = [1, 1024, 1024 ** 2, 1024 ** 3].flatMap((unit) => [unit, 10 * unit, 100 * unit])

function tickCount (t) {
  return t >= 1e6 ? `${t / 1e6}M` : t >= 1e3 ? `${t / 1e3}k` : String(t)
}

export function renderSvg (report) {
  const width = 1000
  const timed = report.cases.filter((k) => !k.skipped)
  const mem = report.memory
  const panels = [
    {
      title: 'Time per operation (median, log scale, shorter is better)',
      axisLabel: 'ns per operation',
      tickFormat: tickNs,
      groups: timed.map((k) => ({
        title: `${k.title} — ${ratioText(k, true)} (target ${targetText(k.target)}): ${k.verdict}`,
        bars: k.results.map((r) => ({ label: r.short ?? r.label, title: r.label, value: r.medianNs, role: r.role, text: `${formatNs(r.medianNs)} ns` }))
      }))
    },
    {
      title: `Memory for ${mem.count.toLocaleString('en-US')} live 32-byte secrets (log scale, shorter is better)`,
      axisLabel: 'bytes locked (VmLck change)',
      tickFormat: (t) => formatBytes(t),
      ticks: BYTE_TICKS,
      groups: [{
        title: `Bytes locked — sodium-native locks ${formatRatio(mem.ratios.locked)} as much as ProtBuf`,
        bars: mem.results.map((r) => ({ label: r.label, value: r.lockedBytes, role: r.role, text: formatBytes(r.lockedBytes) }))
      }]
    },
    {
      title: '',
      axisLabel: 'kernel mappings (/proc/self/maps lines, change)',
      tickFormat: tickCount,
      groups: [{
        title: `Kernel mappings — sodium-native uses ${formatRatio(mem.ratios.mappings)} as many as ProtBuf`,
        bars: mem.results.map((r) => ({ label: r.label, value: r.mappings, role: r.role, text: r.mappings.toLocaleString('en-US') }))
      }]
    }
  ]
  const body = []
  let y = 10
  for (const p of panels) {
    const { svg, height } = panel(p, y, width)
    body.push(svg)
    y += height
  }
  // legend
  const roles = ['ours', 'baseline', 'buffer', 'reference', 'other']
  let x = 10
  for (const role of roles) {
    body.push(`<rect x="${x}" y="${y + 2}" width="12" height="12" fill="${ROLE_COLORS[role]}"/>`)
    body.push(`<text x="${x + 18}" y="${y + 12}" class="label">${esc(ROLE_NAMES[role])}</text>`)
    x += 40 + ROLE_NAMES[role].length * 7
  }
  y += 24
  body.push(`<text x="10" y="${y + 12}" class="foot">${esc(machineLine(report.machine))} · ${esc(report.generatedAt)}</text>`)
  y += 24
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">`,
    '<style>',
    '.title{font-size:15px;font-weight:600;fill:#222}',
    '.group{font-size:12.5px;font-weight:600;fill:#333}',
    '.label{font-size:11.5px;fill:#333}',
    '.value{font-size:11px;fill:#333}',
    '.tick{font-size:10px;fill:#666}',
    '.axis{font-size:11px;fill:#555}',
    '.foot{font-size:10.5px;fill:#777}',
    '.grid{stroke:#e3e3e3;stroke-width:1}',
    '</style>',
    `<rect width="${width}" height="${y}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    ''
  ].join('\n')
}

// ---------------------------------------------------------------- markdown

function mdCell (s) {
  return String(s).replace(/\|/g, '\\|')
}

/**
 * One column per Node.js version: the median of every contender of every case
 * (the ProtKey window's parts included) and each case's ratio, from one report
 * per version (`node run.mjs --runtimes=node20,node22,...`).
 */
export function renderVersionTable (reports) {
  const out = []
  const heads = reports.map((r) => `Node.js ${r.machine.node.replace(/^v/, '')}`)
  out.push(`| Case | Contender | ${heads.join(' | ')} |`)
  out.push(`| --- | --- | ${heads.map(() => '---:').join(' | ')} |`)
  const [first] = reports
  let index = 0
  for (const kase of first.cases) {
    index++
    const per = reports.map((r) => r.cases.find((k) => k.id === kase.id))
    if (kase.skipped) continue
    for (const result of kase.results) {
      const cells = per.map((k) => {
        const r = k?.results?.find((x) => x.id === result.id)
        return r ? `${formatNs(r.medianNs)} ns` : '–'
      })
      out.push(`| ${index}. ${mdCell(kase.title)} | ${mdCell(result.label)} | ${cells.join(' | ')} |`)
    }
    if (kase.ratio !== null) {
      out.push(`| ${index}. ${mdCell(kase.title)} | ratio | ${per.map((k) => (k && k.ratio !== null && !k.skipped ? ratioText(k) : '–')).join(' | ')} |`)
    }
  }
  const mem = (r) => r.memory?.results?.find((x) => x.role === 'ours')
  out.push(`| ${index + 1}. Memory, ${first.memory.count.toLocaleString('en-US')} live 32-byte secrets | ProtBuf: bytes locked | ${reports.map((r) => (mem(r) ? formatBytes(mem(r).lockedBytes) : '–')).join(' | ')} |`)
  return out
}

export function renderMarkdown (report, svgName, byVersion = []) {
  const m = report.machine
  const s = report.settings
  const v = report.versions
  const out = []
  out.push('<!-- Generated by bench/run.mjs (`pnpm bench -- --write-docs`). Do not edit by hand: run the benchmarks again. -->')
  out.push('')
  out.push('# Benchmarks')
  out.push('')
  out.push('`pnpm bench` (at the repository root) builds the packages and runs every benchmark side by side in one')
  out.push('Node.js process: tarsjs against sodium-native and, where it means something, a plain `Buffer.alloc`.')
  out.push('It shows its progress, writes its report to `bench/results/` and prints a table of medians and ratios;')
  out.push(`with \`--write-docs\` it also regenerates this page and [\`${svgName}\`](${svgName}). The numbers below are from one run on the machine described at the end;`)
  out.push('run it on yours — the ratios matter more than the absolute times.')
  out.push('')
  out.push(`![Benchmark chart](${svgName})`)
  out.push('')
  out.push('## Results')
  out.push('')
  out.push('| Case | tarsjs (ns/op) | sodium-native (ns/op) | `Buffer.alloc` (ns/op) | Ratio | Target | Verdict |')
  out.push('| --- | ---: | ---: | ---: | --- | --- | --- |')
  let index = 0
  for (const kase of report.cases) {
    index++
    if (kase.skipped) {
      out.push(`| ${index}. ${mdCell(kase.title)} | – | – | – | – | ${targetText(kase.target)} | skipped: ${mdCell(kase.skipped)} |`)
      continue
    }
    const ours = kase.results.find((r) => r.role === 'ours')
    const base = kase.results.find((r) => r.role === 'baseline')
    const buf = kase.results.find((r) => r.role === 'buffer')
    out.push(`| ${index}. ${mdCell(kase.title)} | ${formatNs(ours.medianNs)} | ${formatNs(base.medianNs)} | ${buf ? formatNs(buf.medianNs) : '–'} | ${ratioText(kase)} | ${targetText(kase.target)} | **${kase.verdict}** |`)
  }
  const mem = report.memory
  const memOurs = mem.results.find((r) => r.role === 'ours')
  const memBase = mem.results.find((r) => r.role === 'baseline')
  index++
  out.push(`| ${index}. Memory, ${mem.count.toLocaleString('en-US')} live 32-byte secrets: bytes locked | ${formatBytes(memOurs.lockedBytes)} | ${formatBytes(memBase.lockedBytes)} | – | sodium-native ${formatRatio(mem.ratios.locked)} | report | – |`)
  out.push(`| ${index}. Memory, ${mem.count.toLocaleString('en-US')} live 32-byte secrets: kernel mappings | ${memOurs.mappings.toLocaleString('en-US')} | ${memBase.mappings.toLocaleString('en-US')} | – | sodium-native ${formatRatio(mem.ratios.mappings)} | report | – |`)
  out.push('')
  out.push('Ratios compare medians: for the allocation cases, sodium-native\'s time divided by ours (higher is better);')
  out.push('for the key window, our time divided by sodium-native\'s (lower is better); for memory, sodium-native\'s')
  out.push('use divided by ours. A missed target is reported here, not hidden: the harness is a measurement, not a test.')
  out.push('')
  if (byVersion.length > 1) {
    out.push('## By Node.js version')
    out.push('')
    out.push('The same cases, one run per Node.js major on the same machine, one after the other:')
    out.push(`\`node bench/run.mjs --runtimes=${byVersion.map((r) => `node${r.machine.node.replace(/^v/, '').split('.')[0]}`).join(',')}\`. Medians in ns/op; the other sections of this page are from the`)
    out.push(`first of them (Node.js ${report.machine.node.replace(/^v/, '')}). The key window's parts are the ProtKey case's reference rows: the`)
    out.push('copy out of the keyed pages (`keyedCopy`), the window memory (the key\'s own slot: view, wipe, detach), and, for machines without protection keys, the same window over `PROT_NONE` pages with the `mprotect` pair it needs.')
    out.push('')
    out.push(...renderVersionTable(byVersion))
    out.push('')
  }
  out.push('## Every contender')
  out.push('')
  index = 0
  for (const kase of report.cases) {
    index++
    out.push(`### ${index}. ${kase.title}`)
    out.push('')
    if (kase.skipped) {
      out.push(`Skipped: ${kase.skipped}.`)
      out.push('')
      continue
    }
    out.push('| Contender | Median (ns/op) | Fastest round | Slowest round | Batch | Checksum | Notes |')
    out.push('| --- | ---: | ---: | ---: | ---: | --- | --- |')
    for (const r of kase.results) {
      out.push(`| ${mdCell(r.label)} | ${formatNs(r.medianNs)} | ${formatNs(r.minNs)} | ${formatNs(r.maxNs)} | ${r.batch.toLocaleString('en-US')} | ${r.checksum.ok ? 'ok' : '**mismatch**'} | ${mdCell(r.note ?? '')} |`)
    }
    out.push('')
    if (kase.ratio !== null) {
      const paired = Number.isFinite(kase.pairedRatio) ? `; the median of the per-round ratios is ${formatRatio(kase.pairedRatio)}` : ''
      out.push(`Ratio of the medians: ${ratioText(kase, true)}${paired}. Target ${targetText(kase.target)}: **${kase.verdict}**.`)
      out.push('')
    }
  }
  index++
  out.push(`### ${index}. Memory: ${mem.count.toLocaleString('en-US')} live 32-byte secrets`)
  out.push('')
  out.push('Change in `VmLck` (`/proc/self/status`) and in the number of lines of `/proc/self/maps` between just before')
  out.push(`the secrets are allocated and while all of them are alive (median of ${mem.reps}).`)
  out.push('')
  out.push('| Contender | Bytes locked | Per secret | Kernel mappings | Checksum | Notes |')
  out.push('| --- | ---: | ---: | ---: | --- | --- |')
  for (const r of mem.results) {
    out.push(`| ${mdCell(r.label)} | ${formatBytes(r.lockedBytes)} | ${formatBytes(Math.round(r.lockedBytes / mem.count))} | ${r.mappings.toLocaleString('en-US')} | ${r.checksum.ok ? 'ok' : '**mismatch**'} | ${mdCell(r.note ?? '')} |`)
  }
  out.push('')
  if (report.observations.length > 0) {
    out.push('## What the numbers say')
    out.push('')
    for (const line of report.observations) out.push(`- ${line}`)
    out.push('')
  }
  out.push('## Method')
  out.push('')
  out.push('- One process, every contender of a case in the same run. Each case sizes a batch per contender to take')
  out.push(`  about ${s.batchMs} ms, runs ${s.warmupRounds} warm-up rounds, then ${s.rounds} measured rounds; within a round the`)
  out.push('  contenders run one batch each, round-robin, starting with a different one each round, so the drifts of a')
  out.push('  noisy, shared machine fall on all of them alike. The figure is the median of the per-round ns/op.')
  out.push('- Equal work: every iteration allocates 32 bytes, obtains a view, writes one byte through it, reads it back')
  out.push('  and frees. Our views are created lazily, so they are created — and detached by free — inside the loop,')
  out.push('  as `sodium_malloc` hands out a Buffer and `sodium_free` detaches it.')
  out.push('- Nothing can be optimised away: every iteration adds the byte it read to a checksum that the harness')
  out.push('  compares with the expected sum after every batch; the run fails when one does not match.')
  out.push(`- ${report.notes.finalizers}`)
  out.push('- sodium-native is pinned to 4.3.1, whose `sodium_free` releases memory at once. In 5.x it only detaches and')
  out.push('  leaves the unmapping to a GC finalizer, so a tight loop exhausts the kernel\'s map count after ~16k')
  out.push('  allocations and the process aborts.')
  out.push('- Reference rows (light blue) isolate what every design pays: one external ArrayBuffer (`os.view` +')
  out.push('  `os.detach`), and the two `mprotect` calls plus a view that a crash-safe read window needs.')
  out.push('')
  out.push('## Machine and versions')
  out.push('')
  out.push('| | |')
  out.push('| --- | --- |')
  out.push(`| CPU | ${mdCell(m.cpu)}, ${m.cores} cores (available parallelism ${m.availableParallelism}) |`)
  out.push(`| Memory | ${formatBytes(m.memoryBytes)} |`)
  out.push(`| Kernel | ${mdCell(`${m.platform} ${m.kernel} ${m.arch}`)} (${mdCell(m.kernelVersion)}) |`)
  out.push(`| Node.js | ${m.node} (V8 ${m.v8}) |`)
  out.push(`| Page size | ${m.pageSize} |`)
  if (m.memlockLimit) out.push(`| RLIMIT_MEMLOCK | soft ${m.memlockLimit.soft}, hard ${m.memlockLimit.hard} |`)
  if (m.capabilities) {
    const caps = Object.entries(m.capabilities).map(([k, val]) => `${k} ${val ? 'yes' : 'no'}`).join(', ')
    out.push(`| Kernel features | ${caps} |`)
  }
  for (const [name, version] of Object.entries(v)) out.push(`| \`${name}\` | ${version ?? 'not installed'} |`)
  if (report.revision) out.push(`| Source | ${report.revision.commit}${report.revision.dirty ? ' (with uncommitted changes)' : ''} |`)
  out.push(`| Run | ${report.generatedAt}, ${s.rounds} rounds, ${Math.round(report.durationMs / 1000)} s |`)
  out.push('')
  return out.join('\n')
}
