// Timing machinery: interleaved rounds, calibrated batches, medians, checksums.
//
// Every contender of a case runs one batch per round, round-robin, with the
// starting contender rotating each round, so slow drifts of a noisy, shared
// machine (other tenants, CPU frequency, GC pressure) hit every contender alike.
// A batch is sized during warm-up to take about `batchMs`; the reported figure
// is the median of the per-round ns/op.

/**
 * Node runs the finalizers of external ArrayBuffers (every view over protected
 * memory is one) from the event loop, not inside a synchronous loop. Letting
 * the loop turn between batches drains them, so one contender's garbage is not
 * billed to the next.
 */
export const DRAIN_NOTE =
  'External ArrayBuffer finalizers are deferred to the event loop; the harness awaits ' +
  'setImmediate (twice) after every batch so they drain between measurements.'

export async function drain () {
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
}

/** Median over rounds of a/b, pairing the samples of two contenders taken in the same round. */
export function pairedRatio (a, b) {
  const n = Math.min(a.length, b.length)
  const ratios = []
  for (let i = 0; i < n; i++) ratios.push(a[i] / b[i])
  return median(ratios)
}

export function median (values) {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Value written in iteration `i`: never 0 (fresh memory is zero-filled) and it varies. */
export function byteFor (i) {
  return (i & 0x7f) + 1
}

/** Sum of `byteFor(i)` for i in [0, n): what a batch that wrote and read back one byte per iteration returns. */
export function expectedSum (n) {
  const full = Math.floor(n / 128)
  const rest = n % 128
  return full * 8256 + (rest * (rest + 1)) / 2
}

/** Times one batch; an async `run` (one that returns a promise) is timed until its promise settles. */
function timeBatch (run, n) {
  const t0 = process.hrtime.bigint()
  const got = run(n)
  if (typeof got?.then === 'function') return got.then((value) => ({ got: value, ns: Number(process.hrtime.bigint() - t0) }))
  const t1 = process.hrtime.bigint()
  return { got, ns: Number(t1 - t0) }
}

/**
 * Measures every contender of a case.
 * A contender is `{ id, label, role, run(n) → checksum (or a promise of it), expect(n) → checksum, setup?(), teardown?() }`.
 * Returns per contender: median/min/max ns/op, samples, iterations, checksum result.
 */
export async function measureCase (kase, settings) {
  const states = kase.contenders.map((c) => ({
    c,
    n: 1,
    samples: [],
    iterations: 0,
    actual: 0,
    expected: 0,
    batchesOk: true
  }))
  const account = (s, n, got) => {
    const want = s.c.expect(n)
    s.actual += got
    s.expected += want
    s.iterations += n
    if (got !== want) s.batchesOk = false
  }

  try {
    for (const s of states) if (s.c.setup) s.c.setup()

    // Calibration doubles as the first warm-up: grow the batch until it takes about batchMs.
    const targetNs = settings.batchMs * 1e6
    for (const s of states) {
      let n = 4
      for (;;) {
        const { got, ns } = await timeBatch(s.c.run, n)
        account(s, n, got)
        await drain()
        if (ns >= targetNs / 8 || n >= settings.maxIterations) {
          n = Math.max(1, Math.min(settings.maxIterations, Math.round((n * targetNs) / Math.max(ns, 1))))
          break
        }
        n *= 4
      }
      s.n = n
    }

    const total = settings.warmupRounds + settings.rounds
    for (let round = 0; round < total; round++) {
      for (let k = 0; k < states.length; k++) {
        const s = states[(round + k) % states.length]
        const { got, ns } = await timeBatch(s.c.run, s.n)
        account(s, s.n, got)
        if (round >= settings.warmupRounds) s.samples.push(ns / s.n)
        if (settings.onBatch) settings.onBatch()
        await drain()
      }
    }
    for (const s of states) s.details = s.c.details ? s.c.details() : null
  } finally {
    for (const s of states) {
      if (s.c.teardown) {
        try {
          s.c.teardown()
        } catch {}
      }
    }
  }

  return states.map((s) => ({
    id: s.c.id,
    label: s.c.label,
    short: s.c.short ?? s.c.label,
    role: s.c.role,
    note: s.c.note ?? null,
    details: s.details ?? null,
    medianNs: median(s.samples),
    minNs: Math.min(...s.samples),
    maxNs: Math.max(...s.samples),
    samples: s.samples,
    batch: s.n,
    iterations: s.iterations,
    checksum: { expected: s.expected, actual: s.actual, ok: s.batchesOk && s.actual === s.expected }
  }))
}
