// The conformance subset: what tarsjs guarantees, checked on every runtime
// that implements Node-API (Node.js, Bun, Deno) without a test framework.
// Run it with `node`, `bun` or `deno run -A`; scripts/runtimes.mjs runs it on
// each runtime and adds the counts to the CI total.
//
// Checked here: the addon loads (from the local build or a prebuild), views
// are exactly their length and have an ArrayBuffer of their own,
// protect('none') and unmap detach every view, stale views have length 0 and
// never fault, ProtBuf/ProtKey/sodium_malloc work, workers load the addon,
// finalizers run (the containers' backstop), escaped backing stores never
// fault, and every allocator's statistics return to zero. The whole suite
// (vitest) runs on Node.js only. scripts/runtimes.mjs runs node with
// --expose-gc and deno with --v8-flags=--expose-gc, for the finalizer test.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { deepEqual, equal, ok, run, test, throws } from './harness.mjs'

const require = createRequire(import.meta.url)
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const PKG = join(ROOT, 'packages', 'os-memlock')

/** This runtime's name and version, as scripts/runtimes.mjs names them. */
function runtime () {
  if (process.versions.bun) return { name: 'bun', version: process.versions.bun }
  if (process.versions.deno) return { name: 'deno', version: process.versions.deno }
  return { name: 'node', version: process.versions.node }
}

const RT = runtime()
console.log(`# ${RT.name} ${RT.version} (Node.js API ${process.versions.node}, N-API ${process.versions.napi ?? 'unknown'})`)

const m = require(PKG)
const { PageAllocator, SlotAllocator } = require(join(ROOT, 'packages', 'page-alloc'))
const { ProtBuf, ProtKey, defaultBufAllocator, defaultKeyAllocator } = require(join(ROOT, 'packages', 'prot-containers'))
const sodium = require(join(ROOT, 'packages', 'sodium-allocator'))
const PS = m.pageSize()

/** Every stale view looks the same: no bytes, reads give undefined, constructing from its buffer throws. */
function expectDetached (view, what) {
  const buffer = view instanceof ArrayBuffer ? view : view.buffer
  equal(buffer.byteLength, 0, `${what}: buffer.byteLength`)
  if ('detached' in ArrayBuffer.prototype) equal(buffer.detached, true, `${what}: buffer.detached`)
  if (!(view instanceof ArrayBuffer)) {
    equal(view.length, 0, `${what}: length`)
    equal(view[0], undefined, `${what}: [0]`)
  }
  throws(() => new Uint8Array(buffer), { type: TypeError }, `${what}: new Uint8Array(buffer)`)
}

/** Every allocator this file uses, with statistics that must be back to zero at the end. */
const allocators = []
function track (allocator) {
  allocators.push(allocator)
  return allocator
}

test('the addon loads, from the local build or a bundled prebuild, and is mapped into this process', () => {
  const file = require(join(PKG, 'node_modules', 'node-gyp-build')).path(PKG)
  ok(/[/\\](build[/\\]Release|prebuilds[/\\]linux-[a-z0-9]+)[/\\][^/\\]+\.node$/.test(file), `unexpected addon path ${file}`)
  const maps = readFileSync('/proc/self/maps', 'utf8')
  ok(maps.includes(file), `${file} is not in /proc/self/maps`)
  equal(typeof m.map, 'function')
  ok(PS >= 4096 && PS % 4096 === 0, `pageSize() ${PS}`)
  const caps = m.capabilities()
  for (const key of ['mlock', 'madviseDontDump', 'madviseWipeOnFork', 'madviseDontFork', 'memfdSecret']) {
    equal(typeof caps[key], 'boolean', `capabilities().${key}`)
  }
})

test('a view is its own ArrayBuffer of exactly the requested length, over the region', () => {
  const r = m.map(PS)
  try {
    const a = m.view(r, 0, 32)
    const b = m.view(r, 16, 17)
    ok(a instanceof ArrayBuffer, 'view() returns an ArrayBuffer')
    equal(a.byteLength, 32)
    equal(b.byteLength, 17)
    ok(a !== b)
    new Uint8Array(a)[16] = 0x5a
    equal(new Uint8Array(b)[0], 0x5a, 'both views show the same memory')
    throws(() => m.view(r, PS - 8, 16), { code: 'ERR_OUT_OF_RANGE' }, 'a view past the region')
  } finally {
    m.unmap(r)
  }
})

test("protect('none') detaches every view first; readwrite again keeps the data and the old views stay detached", () => {
  const r = m.map(PS)
  try {
    const ab = m.view(r, 0, 64)
    const u8 = new Uint8Array(ab)
    const dv = new DataView(m.view(r, 64, 8))
    u8[0] = 42
    m.protect(r, 0, PS, 'none')
    expectDetached(ab, 'ArrayBuffer')
    expectDetached(u8, 'Uint8Array')
    throws(() => dv.getUint8(0), { type: TypeError }, 'DataView over a detached buffer')
    u8[0] = 1 // a write to a detached view is a no-op, never a fault
    m.protect(r, 0, PS, 'readwrite')
    equal(u8.length, 0, 'stays detached after readwrite')
    equal(new Uint8Array(m.view(r, 0, 1))[0], 42, 'the data survived')
  } finally {
    m.unmap(r)
  }
})

test('unmap detaches every view and the region is dead afterwards', () => {
  const r = m.map(2 * PS)
  const views = [new Uint8Array(m.view(r, 0, 16)), new Float64Array(m.view(r, PS, 64))]
  m.unmap(r)
  views.forEach((v, i) => expectDetached(v, `view ${i}`))
  equal(m.isMapped(r), false)
  throws(() => m.view(r, 0, 1), { code: 'ERR_REGION_UNMAPPED' })
})

test('detach(), wipe() and constant-time equals() act on exactly the given bytes', () => {
  const r = m.map(PS)
  try {
    const u = new Uint8Array(m.view(r, 0, 48))
    u.fill(0xff)
    m.wipe(r, 8, 16)
    equal(u[7], 0xff)
    equal(u[8], 0)
    equal(u[23], 0)
    equal(u[24], 0xff)
    const plain = Uint8Array.of(0xff, 0xff)
    ok(m.equals(r, 0, plain, 0, 2))
    ok(!m.equals(r, 7, plain, 0, 2))
    const other = m.view(r, 0, 4)
    m.detach(other)
    expectDetached(other, 'detach()')
    equal(u[0], 0xff, 'detaching one view leaves the others')
  } finally {
    m.unmap(r)
  }
})

test('slot allocator: exact-size ArrayBuffer per allocation, detached on free', () => {
  const slots = track(new SlotAllocator())
  const a = slots.alloc(32)
  const b = slots.alloc(32)
  const va = new Uint8Array(slots.view(a))
  equal(va.byteLength, 32)
  equal(va.buffer.byteLength, 32, 'never a subarray of a shared page')
  ok(va.buffer !== slots.view(b), 'neighbours have their own ArrayBuffers')
  va.fill(7)
  slots.free(a)
  expectDetached(va, 'freed slot')
  throws(() => slots.free(a), {}, 'double free throws')
  slots.free(b)
})

test("page allocator: protect('none') detaches the view, free wipes and detaches", () => {
  const pages = track(new PageAllocator())
  const k = pages.alloc(64)
  const v = new Uint8Array(pages.view(k))
  equal(v.byteLength, 64)
  equal(v.buffer.byteLength, 64)
  v.fill(9)
  pages.protect(k, 'none')
  expectDetached(v, "after protect('none')")
  pages.protect(k, 'readwrite')
  const again = new Uint8Array(pages.view(k))
  equal(again[63], 9)
  pages.free(k)
  expectDetached(again, 'after free')
})

test('ProtBuf: random, exact bytes, constant-time equals, redacted, disposed views have length 0', () => {
  const buf = ProtBuf.random(32)
  const bytes = buf.bytes
  try {
    equal(bytes.byteLength, 32)
    equal(bytes.buffer.byteLength, 32)
    ok(buf.equals(bytes))
    equal(String(buf), 'ProtBuf(32 bytes, read-write)')
    equal(`${buf}`, 'ProtBuf(32 bytes, read-write)')
    equal(JSON.stringify({ buf }), '{"buf":"ProtBuf(32 bytes, read-write)"}')
  } finally {
    buf.dispose()
  }
  buf.dispose() // idempotent
  expectDetached(bytes, 'disposed ProtBuf')
})

test('ProtKey: no access outside a window, views detached when the window closes, async callbacks refused', () => {
  const key = ProtKey.random(32)
  try {
    let kept
    const length = key.read((k) => {
      kept = k
      return k.byteLength
    })
    equal(length, 32)
    expectDetached(kept, 'view kept past its read window')
    key.write((k) => { k[0] = 1 })
    equal(key.read((k) => k[0]), 1)
    equal(key.read((outer) => key.read((inner) => outer[0] + inner[0])), 2, 'nested readers')
    equal(String(key), 'ProtKey(32 bytes, no access)')
    throws(() => key.read(async () => 0), {}, 'a callback that returns a Promise')
  } finally {
    key.dispose()
  }
  equal(String(key), 'ProtKey(32 bytes, disposed)')
})

test('sodium_malloc / sodium_free: 0xdb fill, .secure, canary layout, detached after free, double free a no-op', () => {
  const buf = sodium.sodium_malloc(32)
  equal(buf.byteLength, 32)
  equal(buf.buffer.byteLength, 32)
  equal(buf.secure, true)
  ok(buf.every((b) => b === 0xdb), '0xdb fill')
  sodium.sodium_memzero(buf)
  ok(sodium.sodium_is_zero(buf, 32))
  sodium.sodium_mprotect_noaccess(buf) // touching it now would fault, as in libsodium: not touched
  sodium.sodium_mprotect_readwrite(buf)
  buf[0] = 1
  sodium.sodium_free(buf)
  equal(buf.byteLength, 0)
  sodium.sodium_free(buf)
})

test('worker threads: the addon loads in a worker and its views follow protect() there too', async () => {
  const { Worker } = await import('node:worker_threads')
  const source = `
    const { parentPort } = require('node:worker_threads')
    const m = require(${JSON.stringify(PKG)})
    const r = m.map(m.pageSize())
    const v = new Uint8Array(m.view(r, 0, 16))
    v[0] = 9
    const first = v[0]
    m.protect(r, 0, m.pageSize(), 'none')
    parentPort.postMessage({ first, after: v.length })
    m.unmap(r)
  `
  const result = await new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true })
    worker.once('message', resolve)
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before answering`)))
  })
  deepEqual(result, { first: 9, after: 0 })
})

test('wipe() of every typed array kind this runtime has touches exactly its bytes', () => {
  const kinds = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
    Float32Array, Float64Array, BigInt64Array, BigUint64Array, globalThis.Float16Array].filter((k) => typeof k === 'function')
  const wrong = []
  for (const Kind of kinds) {
    // Bytes 8..23 of a buffer large enough that a wipe of up to 8 bytes per
    // element (the widest kind) stays inside it, should the size be wrong.
    const ab = new ArrayBuffer(256)
    const bytes = new Uint8Array(ab)
    bytes.fill(0xff)
    const view = new Kind(ab, 8, 16 / Kind.BYTES_PER_ELEMENT)
    try {
      m.wipe(view)
    } catch (err) {
      if (err?.code === undefined) throw err // a typed refusal is allowed; anything else is not
      continue
    }
    const zeroed = bytes.reduce((n, b, i) => (b === 0 ? [...n, i] : n), [])
    if (zeroed.length !== 16 || zeroed[0] !== 8 || zeroed[15] !== 23) wrong.push(`${Kind.name}: zeroed ${zeroed.length} bytes (${zeroed[0]}..${zeroed.at(-1)}), expected 8..23`)
  }
  deepEqual(wrong, [])
})

const NATIVE_USING = (() => {
  try {
    return typeof new Function('{ using x = null } return true')() === 'boolean'
  } catch {
    return false
  }
})()

test.skipIf(!NATIVE_USING, 'no native `using` in this runtime')('native `using`: a reader closes its window and a container is disposed at the end of the block', async () => {
  const { usingWindows } = await import('./fixtures/using.mjs')
  deepEqual(usingWindows(ProtKey, ProtBuf), { inside: 32, closed: 0, described: 'ProtKey(32 bytes, no access)', disposedBuf: 0 })
})

// A backing store moved out of the addon's tracking (a transfer list, or
// ArrayBuffer.prototype.transfer() where the runtime has it) must never fault
// the process once its memory is closed or freed: each case runs in a child,
// which reads through the escaped buffer last.
const ESCAPES = {
  'transfer-key': 'ArrayBuffer.prototype.transfer() of a ProtKey window view, read after the window closes',
  'transfer-buf': 'ArrayBuffer.prototype.transfer() of ProtBuf bytes, read after dispose()',
  'clone-key': 'structuredClone with a transfer list inside a ProtKey window, read after it closes',
  'post-key': 'MessagePort postMessage with a transfer list inside a ProtKey window, read after it closes'
}
for (const [how, title] of Object.entries(ESCAPES)) {
  test(`never a fault: ${title}`, () => {
    const file = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'escape.mjs')
    const argv = RT.name === 'deno' ? ['run', '-A', file, how] : [file, how]
    const res = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 60_000 })
    const steps = res.stdout.trim().split('\n').filter(Boolean)
    const what = `${how}: ${steps.join(' ')}${res.signal ? ` killed by ${res.signal}` : ''}`
    equal(res.signal, null, what)
    equal(res.status, 0, `${what} ${res.stderr.split('\n').find((l) => l.trim()) ?? ''}`)
    equal(steps.at(-1), '{"survived":true}', what)
  })
}

const collect = globalThis.gc ?? (globalThis.Bun ? () => globalThis.Bun.gc(true) : undefined)

test.skipIf(collect === undefined, 'no way to force a collection: run node with --expose-gc, deno with --v8-flags=--expose-gc')('finalizers run: a view kept without its container is detached once the container is collected', async () => {
  const { setLeakWarnings } = require(join(ROOT, 'packages', 'prot-containers'))
  setLeakWarnings?.(false)
  const kept = (() => ProtBuf.random(16).bytes)() // the container itself is dropped at once
  equal(kept.byteLength, 16)
  for (let i = 0; i < 50 && kept.byteLength !== 0; i++) {
    collect()
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  equal(kept.byteLength, 0, 'detached by the backstop')
})

test('statistics of every allocator return to zero', () => {
  for (const a of [...allocators, defaultBufAllocator(), defaultKeyAllocator(), sodium.defaultSodiumAllocator()]) {
    const s = a.stats()
    equal(s.allocations, 0, `${a.constructor.name}: allocations`)
    equal(s.bytes, 0, `${a.constructor.name}: bytes`)
  }
})

await run()
