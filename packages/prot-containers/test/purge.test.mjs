// purge() and catchSignals(): every container of the thread wiped and freed;
// in a child process, after a signal or an uncaught exception, the process's
// memory read at the last moment (/proc/PID/mem) holds none of the secrets.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { ProtBuf, ProtKey, expectCode, live, pc, startFixture } from './helpers.mjs'

const { SealedKey, purge, catchSignals, defaultBufAllocator, defaultKeyAllocator } = pc
const { windowAllocator, windowBufferAllocator, atRestAllocator } = createRequire(import.meta.url)('../dist/sealed-allocators.js')

describe('purge()', () => {
  it('wipes and frees every live container of the thread, open windows included; they then throw ERR_DISPOSED', () => {
    const buf = ProtBuf.random(32)
    const key = ProtKey.random(32)
    const written = ProtKey.alloc(32)
    const sealed = SealedKey.random(32)
    const bufView = buf.bytes
    const keyWindow = key.reader()
    const writeWindow = written.writer()
    writeWindow.bytes.fill(7)
    const sealedWindow = sealed.reader()
    const views = [bufView, keyWindow.bytes, writeWindow.bytes, sealedWindow.bytes]
    const result = purge()
    expect(result.failed).toBe(0)
    expect(result.freed).toBeGreaterThanOrEqual(4)
    // The window copies were wiped and freed with the containers: every view is detached.
    for (const v of views) expect(v.byteLength).toBe(0)
    for (const c of [buf, key, written, sealed]) {
      expect(c.disposed).toBe(true)
      expect(String(c)).toMatch(/disposed/)
      c.dispose()
    }
    expectCode(() => buf.bytes, 'ERR_DISPOSED')
    expectCode(() => key.read(() => {}), 'ERR_DISPOSED')
    expectCode(() => written.write(() => {}), 'ERR_DISPOSED')
    expectCode(() => sealed.read(() => {}), 'ERR_DISPOSED')
    // Closing a window the purge already wiped is quiet, as for a SealedKey: nothing is left to write back.
    for (const w of [keyWindow, writeWindow, sealedWindow]) {
      w.close()
      expect(w.closed).toBe(true)
      expect(w.bytes.byteLength).toBe(0)
    }
    for (const a of [defaultBufAllocator(), defaultKeyAllocator(), windowAllocator(), windowBufferAllocator(), atRestAllocator()]) {
      expect(live(a)).toEqual({ allocations: 0, bytes: 0 })
    }
  })

  it('new containers work after a purge (a new sealing key is made)', () => {
    purge()
    const sealed = SealedKey.from(new Uint8Array([1, 2, 3]))
    expect(sealed.read((b) => b[2])).toBe(3)
    expect(sealed.protections().sealingKey.split).toBe(true)
    purge()
    expect(sealed.disposed).toBe(true)
  })

  it('is per thread: a worker purges its own containers and leaves the main thread\'s alone', async () => {
    const mine = SealedKey.random(32)
    const mineToo = ProtBuf.random(16)
    const dist = createRequire(import.meta.url).resolve('../dist/index.js')
    const code = `
      const { parentPort } = require('node:worker_threads')
      const { ProtBuf, ProtKey, SealedKey, purge } = require(${JSON.stringify(dist)})
      const cs = [ProtBuf.random(32), ProtKey.random(32), SealedKey.random(32)]
      const w = cs[2].reader()
      const r = purge()
      parentPort.postMessage({ freed: r.freed, failed: r.failed, disposed: cs.map((c) => c.disposed), view: w.bytes.byteLength })
    `
    const result = await new Promise((resolve, reject) => {
      const worker = new Worker(code, { eval: true })
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    expect(result).toEqual({ freed: 3, failed: 0, disposed: [true, true, true], view: 0 })
    expect(mine.read((b) => b.byteLength)).toBe(32)
    expect(mineToo.bytes.byteLength).toBe(16)
    mine.dispose()
    mineToo.dispose()
  })

  it('catchSignals() is idempotent and stop() removes its listeners', () => {
    const before = process.listenerCount('SIGTERM')
    const a = catchSignals()
    expect(catchSignals()).toBe(a)
    expect(process.listenerCount('SIGTERM')).toBe(before + 1)
    expect(process.listenerCount('exit')).toBeGreaterThan(0)
    a.stop()
    expect(process.listenerCount('SIGTERM')).toBe(before)
  })
})

/** Every byte of a live process's memory (all mappings, no-access and no-dump ones too), as far as /proc/PID/mem gives it. */
function processMemory (pid) {
  const chunks = []
  const fd = openSync(`/proc/${pid}/mem`, 'r')
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n')) {
      const [range, perms] = line.split(/\s+/)
      const [start, end] = range.split('-').map((h) => parseInt(h, 16))
      const size = end - start
      // Large no-access reservations (V8's cages) hold nothing; small ones are guard pages and keys.
      if (perms.startsWith('---') && size > (1 << 20)) continue
      if (line.includes('[vvar') || line.includes('[vsyscall]')) continue
      const buf = Buffer.alloc(size)
      try {
        readSync(fd, buf, 0, size, start)
        chunks.push(buf)
      } catch {
        // Unreadable (secretmem, some special mappings): not part of what the parent can see.
      }
    }
  } finally {
    closeSync(fd)
  }
  return chunks
}

function found (chunks, hexes) {
  return hexes.filter((h) => {
    const needle = Buffer.from(h, 'hex')
    return chunks.some((c) => c.indexOf(needle) !== -1)
  })
}

/** Resolves when the child prints LAST: it is about to end and waits for a byte on stdin. */
function lastLine (child) {
  return new Promise((resolve) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('LAST\n')) resolve()
    })
  })
}

/** Starts the fixture, triggers its end, reads its memory at the last moment, lets it go. */
async function lastMoment (mode, trigger, then = 'wait') {
  const run = await startFixture('purge-target.cjs', [mode, then])
  const { child, ready } = run
  try {
    const last = lastLine(child)
    trigger(child)
    await last
    const memory = processMemory(ready.pid)
    const secretsFound = found(memory, [...ready.secrets, ...ready.open])
    const controlFound = found(memory, [ready.control]).length
    child.stdin.write('x')
    const end = await run.finish()
    return { secretsFound, controlFound, total: ready.secrets.length + ready.open.length, end }
  } finally {
    run.kill()
  }
}

describe('purge() and containers made while it runs', () => {
  it('purges a container that an allocator\'s free makes during the purge (still young then)', async () => {
    const { SlotAllocator } = createRequire(import.meta.url)('@tarsjs/page-alloc')
    const inner = new SlotAllocator()
    const made = []
    const custom = {
      capabilities: inner.capabilities,
      alloc (n) {
        const h = inner.alloc(n)
        return { allocator: custom, byteLength: n, get freed () { return h.freed }, h }
      },
      view: (a) => inner.view(a.h),
      protections: (a) => inner.protections(a.h),
      stats: () => inner.stats(),
      protect () { throw new Error('not isolated') },
      free (a) {
        inner.free(a.h)
        if (made.length === 0) made.push(ProtBuf.from(Buffer.from('made during the purge'), { allocator: custom }))
      }
    }
    const first = ProtBuf.from(Buffer.from('first'), { allocator: custom })
    await new Promise((resolve) => setImmediate(resolve))
    const result = purge()
    expect(made.length).toBe(1)
    expect(first.disposed).toBe(true)
    expect(made[0].disposed).toBe(true)
    expect(result).toMatchObject({ freed: 2, failed: 0 })
  })
})

describe('catchSignals() in a child process: memory read at the last moment', () => {
  it('control: without catchSignals the memory holds the secrets (the search works)', async () => {
    const run = await startFixture('purge-target.cjs', ['none'])
    try {
      const memory = processMemory(run.ready.pid)
      const { secrets, open, control } = run.ready
      expect(found(memory, [control])).toHaveLength(1)
      // ProtBufs, ProtKeys (no-access pages included) and the open SealedKey window: all there.
      expect(found(memory, secrets.slice(0, 40))).toHaveLength(40)
      expect(found(memory, open)).toHaveLength(2)
      // Sealed keys at rest are not (only the one in an open window).
      expect(found(memory, secrets.slice(41))).toHaveLength(0)
    } finally {
      run.kill()
    }
  })

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'])('%s: purged, then the process dies by the signal', async (signal) => {
    const r = await lastMoment('catch', (child) => child.kill(signal))
    expect(r.controlFound).toBe(1)
    expect(r.secretsFound).toEqual([])
    expect(r.end.signal).toBe(signal)
  })

  it('uncaught exception: purged, the error is still printed and the exit code is still 1', async () => {
    const r = await lastMoment('catch', (child) => child.stdin.write('go\n'), 'throw')
    expect(r.controlFound).toBe(1)
    expect(r.secretsFound).toEqual([])
    expect(r.end.code).toBe(1)
    expect(r.end.stderr).toContain('uncaught on purpose')
  })

  it('process.exit(0): the exit hook purges what is left, the exit code stays 0', async () => {
    const r = await lastMoment('catch', (child) => child.stdin.write('go\n'), 'exit')
    expect(r.controlFound).toBe(1)
    expect(r.secretsFound).toEqual([])
    expect(r.end.code).toBe(0)
  })

  it('without catchSignals the same uncaught exception leaves the secrets in memory at exit', async () => {
    const r = await lastMoment('none', (child) => child.stdin.write('go\n'), 'throw')
    expect(r.controlFound).toBe(1)
    expect(r.secretsFound.length).toBeGreaterThanOrEqual(40)
    expect(r.end.code).toBe(1)
  })
})

describe('catchSignals() with worker threads: memory read at the last moment', () => {
  async function withWorkers (mode) {
    const run = await startFixture('purge-workers.cjs', [mode])
    const { child, ready } = run
    try {
      const last = lastLine(child)
      child.kill('SIGTERM')
      await last
      const memory = processMemory(ready.pid)
      /** @type {{ total: number, secretsFound: number[], controlFound: number, end?: { code: number | null, signal: NodeJS.Signals | null } }} */
      const result = { total: ready.secrets.length, secretsFound: found(memory, ready.secrets), controlFound: found(memory, [ready.control]).length }
      child.stdin.write('x')
      result.end = await run.finish()
      return { ...result, secrets: ready.secrets }
    } finally {
      run.kill()
    }
  }

  it('SIGTERM in the main thread purges the workers that called catchSignals() too', async () => {
    const r = await withWorkers('catch')
    expect(r.total).toBe(9)
    expect(r.controlFound).toBe(1)
    expect(r.secretsFound).toEqual([])
    expect(r.end.signal).toBe('SIGTERM')
  })

  it('control: workers that did not call catchSignals() keep their secrets to the end', async () => {
    const r = await withWorkers('main')
    expect(r.controlFound).toBe(1)
    expect(r.secretsFound).toEqual(r.secrets.slice(3))
    expect(r.end.signal).toBe('SIGTERM')
  })
})
