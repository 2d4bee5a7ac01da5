// Worker threads, each with its own allocators, working at the same time.
//
//   node examples/workers.mjs [--workers N] [--ops N]
//
// Allocator state is per thread: each worker loads its own copy of the
// modules, so its SlotAllocator / PageAllocator (and the default ones that
// ProtBuf and ProtKey use) are its own, with no locks shared between threads.
// Here each worker makes a ProtKey, then in a loop makes a random ProtBuf and
// HMACs it with the key inside a read window, keeping every tenth ProtBuf
// alive. All workers start together (a barrier on a SharedArrayBuffer) and
// report their allocator stats while their secrets are alive and after
// disposing them. Only numbers cross threads: never post a secret's bytes
// (postMessage copies an ArrayBuffer, even one over protected memory, into
// ordinary heap memory).

import { createHmac } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import { Worker, isMainThread, parentPort, threadId, workerData } from 'node:worker_threads'
import { PageAllocator, SlotAllocator } from '@tarsjs/page-alloc'
import { ProtBuf, ProtKey, defaultBufAllocator } from '@tarsjs/prot-containers'

const now = () => performance.timeOrigin + performance.now()

if (isMainThread) {
  await main(process.argv.slice(2))
} else {
  work(workerData)
}

/** Waits until every worker has reached slot `at` of the barrier (barrier[1] holds the count). */
function meet (barrier, at) {
  Atomics.add(barrier, at, 1)
  Atomics.notify(barrier, at)
  while (Atomics.load(barrier, at) < barrier[1]) Atomics.wait(barrier, at, Atomics.load(barrier, at), 50)
}

function work ({ index, ops, barrier }) {
  const bufs = new SlotAllocator()
  const keys = new PageAllocator()
  const key = ProtKey.random(32, { allocator: keys })
  const check = () => key.read((k) => createHmac('sha256', k).update('check').digest('hex'))
  const before = check()

  // Wait until every worker is ready, so that the work really overlaps.
  meet(barrier, 0)

  const startedAt = now()
  const kept = []
  let macs = 0
  for (let i = 0; i < ops; i++) {
    const buf = ProtBuf.random(32, { allocator: bufs })
    const mac = key.read((k) => createHmac('sha256', k).update(buf.bytes).digest())
    if (mac.length === 32) macs++
    if (i % 10 === 0) kept.push(buf)
    else buf.dispose()
    // Halfway, every worker waits for the others: all are mid-work at once,
    // however the threads are scheduled.
    if (i === ops >> 1) meet(barrier, 2)
  }
  const finishedAt = now()
  const alive = { bufs: bufs.stats(), keys: keys.stats() }
  const intact = check() === before
  for (const buf of kept) buf.dispose()
  key.dispose()
  parentPort.postMessage({
    index,
    threadId,
    startedAt,
    finishedAt,
    macs,
    kept: kept.length,
    intact,
    alive,
    after: { bufs: bufs.stats(), keys: keys.stats() }
  })
}

async function main (argv) {
  let workers = Math.max(2, Math.min(4, availableParallelism()))
  let ops = 2000
  for (let i = 0; i < argv.length; i += 2) {
    const value = Number(argv[i + 1])
    if (argv[i] === '--workers' && Number.isInteger(value) && value >= 1 && value <= 64) workers = value
    else if (argv[i] === '--ops' && Number.isInteger(value) && value >= 1) ops = value
    else {
      console.error('usage: node workers.mjs [--workers N] [--ops N]')
      process.exitCode = 2
      return
    }
  }

  // The main thread holds a secret of its own while the workers run.
  const mine = ProtBuf.random(32)
  const barrier = new Int32Array(new SharedArrayBuffer(12))
  barrier[1] = workers
  console.log(`${workers} workers × ${ops} operations (ProtBuf.random(32), then an HMAC of it with a ProtKey inside a read window)`)
  const results = await Promise.all(Array.from({ length: workers }, (_, index) => new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { index, ops, barrier } })
    worker.once('message', resolve)
    worker.once('error', reject)
    worker.once('exit', (code) => { if (code !== 0) reject(new Error(`worker ${index} exited with ${code}`)) })
  })))

  const kib = (n) => `${n / 1024} KiB`
  for (const r of results) {
    console.log(`worker ${r.index} (thread ${r.threadId}): ${r.macs} HMACs in ${(r.finishedAt - r.startedAt).toFixed(1)} ms, ` +
      `key intact after: ${r.intact}`)
    console.log(`  while alive  slot: ${r.alive.bufs.allocations} ProtBufs in ${r.alive.bufs.mappings} mapping(s), ` +
      `locked ${kib(r.alive.bufs.lockedBytes)} | page: ${r.alive.keys.allocations} ProtKey, ` +
      `locked ${kib(r.alive.keys.lockedBytes)}`)
    console.log(`  after dispose slot: ${r.after.bufs.allocations} live, cached pages ${r.after.bufs.cachedPages} | ` +
      `page: ${r.after.keys.allocations} live, cached pages ${r.after.keys.cachedPages}`)
  }
  const overlap = Math.max(...results.map((r) => r.startedAt)) < Math.min(...results.map((r) => r.finishedAt))
  const threads = new Set(results.map((r) => r.threadId))
  const mainStats = defaultBufAllocator().stats()
  console.log(`all workers were working at the same time: ${overlap}`)
  console.log(`each worker ran on a thread of its own: ${threads.size === workers}`)
  console.log(`main thread's default allocator: ${mainStats.allocations} allocation (its own secret), untouched by the workers: ${mainStats.allocations === 1}`)
  mine.dispose()
  const ok = overlap && threads.size === workers && mainStats.allocations === 1 &&
    results.every((r) => r.intact && r.macs === ops && r.after.bufs.allocations === 0 && r.after.keys.allocations === 0)
  console.log(ok ? 'OK' : 'FAIL')
  process.exitCode = ok ? 0 : 1
}
