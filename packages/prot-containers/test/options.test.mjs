// Every input is read once. Options: each property a function uses is read
// exactly one time, before the source is looked at; getters that change state
// cannot make a check and its use disagree. Sources: taken with the built-in
// getters after all option code ran, and checked again right before the copy,
// so a resizable ArrayBuffer shrunk (or a buffer detached) by an allocator's
// code is ERR_SOURCE_CHANGED, never a short or zero-filled container.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, openSync } from 'node:fs'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { CountingAllocator, HERE, PageAllocator, ProtBuf, ProtKey, SlotAllocator, expectCode, expectReject, keepsNothing, pc, tempFiles } from './helpers.mjs'

const file = tempFiles('prot-containers-opts-')(randomBytes(40))

const pageA = new PageAllocator({ secretmem: 'off' })
const slotA = new SlotAllocator()
keepsNothing(() => [pageA, slotA, pc.defaultBufAllocator(), pc.defaultKeyAllocator()])

/** Options whose every property read is counted (a Proxy sees each get, own or inherited). */
function counted (values) {
  const reads = {}
  const proxy = new Proxy(values, {
    get (target, key, receiver) {
      reads[String(key)] = (reads[String(key)] ?? 0) + 1
      return Reflect.get(target, key, receiver)
    }
  })
  return { proxy, reads }
}

/**
 * Every public function that takes options, with the option names it reads.
 * @returns {Array<[string, string[], (o: any) => any]>}
 */
function calls (C, allocator) {
  const fd = () => openSync(file, 'r')
  return /** @type {Array<[string, string[], (o: any) => any]>} */ ([
    [`${C.name}.alloc`, ['allocator'], (o) => C.alloc(32, o)],
    [`${C.name}.random`, ['allocator'], (o) => C.random(32, o)],
    [`${C.name}.from`, ['allocator', 'wipeSource'], (o) => C.from(randomBytes(32), o)],
    [`${C.name}.fromFile`, ['allocator', 'maxLength'], (o) => C.fromFile(file, o)],
    [`${C.name}.fromFd`, ['allocator', 'maxLength'], (o) => {
      const d = fd()
      try {
        return C.fromFd(d, o)
      } finally {
        closeSync(d)
      }
    }],
    [`${C.name}.fromStream`, ['allocator', 'maxLength'], (o) => C.fromStream(Readable.from([Buffer.from(randomBytes(8))]), o)],
    ...(C === ProtBuf
      ? [['ProtBuf#toKey', ['allocator'], (o) => {
          const b = ProtBuf.random(16, { allocator })
          try {
            return b.toKey(o)
          } finally {
            if (!b.disposed) b.dispose()
          }
        }]]
      : [])
  ])
}

const CLASSES = [[ProtBuf, slotA], [ProtKey, pageA]]

describe('options are objects or undefined', () => {
  const NOT_OPTIONS = [null, 42, 'x', true, Symbol('o'), 42n, () => ({})]
  for (const [C, allocator] of CLASSES) {
    for (const [name, , call] of calls(C, allocator)) {
      it(`${name}: ${NOT_OPTIONS.length} kinds of non-object are ERR_INVALID_ARG_TYPE, nothing allocated`, async () => {
        for (const o of NOT_OPTIONS) {
          let err
          try {
            await call(o)
          } catch (e) {
            err = e
          }
          expect(err?.code, `${name}(${typeof o})`).toBe('ERR_INVALID_ARG_TYPE')
          expect(err.name).toBe('TypeError')
        }
        const c = await call(undefined)
        c.dispose()
      })
    }
  }

  it('the constructors refuse any call from outside with ERR_ILLEGAL_CONSTRUCTOR; the process lives on (child process)', () => {
    // Before, `new ProtBuf()` was accepted and the GC backstop threw an uncaught TypeError a turn later.
    const code = `
      const { ProtBuf, ProtKey } = require('../dist/index.js')
      const pageA = ProtKey.alloc(1).allocator
      const seen = []
      for (const C of [ProtBuf, ProtKey]) {
        for (const args of [[], [42], ['x'], [null], [{}, {}], [pageA, pageA.alloc(8)], [Symbol('construct'), pageA, {}]]) {
          try { new C(...args); seen.push('constructed') } catch (e) { seen.push(e.code + ' ' + e.name) }
        }
      }
      setTimeout(() => setImmediate(() => { console.log(JSON.stringify(seen)); console.log(JSON.stringify(pageA.stats().allocations)) }), 20)
    `
    const res = spawnSync(process.execPath, ['-e', code], { cwd: HERE, encoding: 'utf8', timeout: 30000 })
    expect(res.status, res.stderr).toBe(0)
    const [seen, live] = res.stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(seen).toEqual(Array(14).fill('ERR_ILLEGAL_CONSTRUCTOR TypeError'))
    expect(live).toBe(3) // the 1-byte key and the two allocations made by hand: nothing else
  })
})

describe('each option is read exactly once', () => {
  for (const [C, allocator] of CLASSES) {
    for (const [name, used, call] of calls(C, allocator)) {
      it(`${name} reads ${used.join(', ')} once each and nothing else`, async () => {
        const { proxy, reads } = counted({ allocator: name === 'ProtBuf#toKey' ? pageA : allocator, wipeSource: false, maxLength: 1000 })
        const c = await call(proxy)
        c.dispose()
        expect(reads).toEqual(Object.fromEntries(used.map((k) => [k, 1])))
      })
    }
  }

  it('a getter that returns a different value each time cannot pass a check and then fail the use', () => {
    let calls = 0
    const src = randomBytes(16)
    const copy = Buffer.from(src)
    // A valid boolean first, a string after: read once, the check and the use see `true`.
    const key = ProtKey.from(src, { get wipeSource () { return calls++ === 0 ? true : 'no' } })
    expect(calls).toBe(1)
    expect(key.equals(copy)).toBe(true)
    expect(src.every((b) => b === 0)).toBe(true)
    key.dispose()
  })
})

describe('sources: resizable and detachable buffers', () => {
  for (const [C, allocator] of CLASSES) {
    const name = C.name
    it(`${name}.from: an option getter shrinking a resizable ArrayBuffer source runs before the source is taken`, () => {
      const secret = randomBytes(32)
      for (const make of [(rab) => new Uint8Array(rab), (rab) => rab]) {
        const rab = new ArrayBuffer(32, { maxByteLength: 64 })
        new Uint8Array(rab).set(secret)
        const c = C.from(make(rab), { get allocator () { rab.resize(16); return allocator } })
        expect(c.byteLength).toBe(16)
        expect(c.equals(secret.subarray(0, 16))).toBe(true)
        c.dispose()
      }
      // A fixed-length view that the shrink leaves out of bounds has no bytes.
      const rab = new ArrayBuffer(32, { maxByteLength: 64 })
      expectCode(() => C.from(new Uint8Array(rab, 0, 32), { get wipeSource () { rab.resize(16); return true } }), 'ERR_OUT_OF_RANGE')
      const gone = new ArrayBuffer(32, { maxByteLength: 64 })
      expectCode(() => C.from(gone, { get allocator () { gone.resize(0); return allocator } }), 'ERR_OUT_OF_RANGE')
    })

    it(`${name}.from: an allocator that shrinks or detaches the source while allocating gets ERR_SOURCE_CHANGED, nothing kept, source not wiped`, () => {
      const secret = randomBytes(32)
      const rab = new ArrayBuffer(32, { maxByteLength: 64 })
      new Uint8Array(rab).set(secret)
      const shrinking = new CountingAllocator(allocator)
      shrinking.alloc = (n) => { rab.resize(8); return allocator.alloc(n) }
      expectCode(() => C.from(new Uint8Array(rab), { allocator: shrinking, wipeSource: true }), 'ERR_SOURCE_CHANGED', 'ContainerError')
      expect(Buffer.from(rab).equals(secret.subarray(0, 8))).toBe(true) // not wiped

      const plain = new Uint8Array(randomBytes(32))
      const detaching = new CountingAllocator(allocator)
      detaching.view = (a) => { structuredClone(plain.buffer, { transfer: [plain.buffer] }); return allocator.view(a) }
      expectCode(() => C.from(plain, { allocator: detaching }), 'ERR_SOURCE_CHANGED')
    })

    it(`${name}.from: a growable SharedArrayBuffer (or a view of one) grown meanwhile gives the bytes as they were when taken`, () => {
      const sab = new SharedArrayBuffer(16, { maxByteLength: 64 })
      const secret = randomBytes(16)
      new Uint8Array(sab).set(secret)
      const growing = new CountingAllocator(allocator)
      growing.alloc = (n) => { sab.grow(64); new Uint8Array(sab).fill(7, 16); return allocator.alloc(n) }
      const c = C.from(new Uint8Array(sab), { allocator: growing })
      expect(c.byteLength).toBe(16)
      expect(c.equals(secret)).toBe(true)
      c.dispose()
      // The SharedArrayBuffer itself is a source too: its length after the option getters.
      const bare = new SharedArrayBuffer(8, { maxByteLength: 32 })
      new Uint8Array(bare).set(secret.subarray(0, 8))
      const d = C.from(bare, { get allocator () { bare.grow(12); return allocator } })
      expect(d.byteLength).toBe(12)
      expect(d.equals(Buffer.concat([secret.subarray(0, 8), Buffer.alloc(4)]))).toBe(true)
      d.dispose()
    })

    it(`${name}.from: a view's own buffer/byteOffset/byteLength getters are never called`, () => {
      const secret = randomBytes(32)
      const lies = { byteLength: 0, byteOffset: 0, buffer: 0 }
      for (const view of [new Uint8Array(secret), new DataView(new Uint8Array(secret).buffer)]) {
        Object.defineProperty(view, 'byteLength', { get () { lies.byteLength++; return 4 } })
        Object.defineProperty(view, 'byteOffset', { get () { lies.byteOffset++; return 8 } })
        Object.defineProperty(view, 'buffer', { get () { lies.buffer++; return new ArrayBuffer(64) } })
        const c = C.from(view)
        expect(c.byteLength).toBe(32)
        expect(c.equals(secret)).toBe(true)
        c.dispose()
      }
      expect(lies).toEqual({ byteLength: 0, byteOffset: 0, buffer: 0 })
    })
  }

  it('ProtBuf#toKey: an option getter that disposes the buffer gives ERR_OUT_OF_RANGE; the buffer stays disposed, nothing leaks', () => {
    const buf = ProtBuf.random(32, { allocator: slotA })
    expectCode(() => buf.toKey({ get allocator () { buf.dispose(); return pageA } }), 'ERR_OUT_OF_RANGE')
    expect(buf.disposed).toBe(true)
  })

  it('fromStream: a chunk over a resizable buffer is copied as it is when handed over', async () => {
    const rab = new ArrayBuffer(8, { maxByteLength: 16 })
    new Uint8Array(rab).set(randomBytes(8))
    const expected = Buffer.from(new Uint8Array(rab))
    const c = await ProtBuf.fromStream(Readable.from([new Uint8Array(rab)]))
    expect(c.equals(expected)).toBe(true)
    expect(new Uint8Array(rab).every((b) => b === 0)).toBe(true)
    c.dispose()
    await expectReject(ProtBuf.fromStream(Readable.from([new Uint8Array(rab)]), { maxLength: 4 }), 'ERR_SECRET_TOO_LONG')
  })
})
