// fromStream takes every chunk as the object the stream handed over and wipes
// it, whatever kind of source: a Readable with several chunks already buffered
// (paused-mode read() would join them into a copy), an fs.ReadStream behind a
// pass-through, an object-mode stream, an async iterable. After a failure the
// chunks still buffered are wiped too. Chunks are held by the test, so each
// one can be checked afterwards.
import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { PassThrough, Readable, Transform } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { PageAllocator, ProtBuf, ProtKey, expectReject, keepsNothing, pc, tempFiles } from './helpers.mjs'

const fileWith = tempFiles('prot-containers-chunks-')
const pageA = new PageAllocator({ secretmem: 'off' })
keepsNothing(() => [pageA, pc.defaultBufAllocator(), pc.defaultKeyAllocator()])

const CLASSES = [['ProtBuf', ProtBuf], ['ProtKey', ProtKey]]
const isZero = (bytes) => bytes.every((b) => b === 0)
const viewBytes = (v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)

/** A paused Readable with `chunks` already pushed (and its end, unless `open`). */
function buffered (chunks, { objectMode = false, open = false } = {}) {
  const r = new Readable({ objectMode, read () {} })
  for (const c of chunks) r.push(c)
  if (!open) r.push(null)
  return r
}

/** Splits a secret into fresh heap Buffers of the given sizes. */
function split (secret, sizes) {
  const out = []
  let at = 0
  for (const n of sizes) {
    out.push(Buffer.from(secret.subarray(at, at + n)))
    at += n
  }
  return out
}

function holds (c, secret) {
  expect(c.byteLength).toBe(secret.length)
  expect(c.equals(secret)).toBe(true)
}

describe('every chunk handed over is wiped', () => {
  for (const [name, C] of CLASSES) {
    it(`${name}: several chunks buffered in a paused Readable are taken one by one, each original wiped`, async () => {
      const secret = randomBytes(100)
      const chunks = split(secret, [10, 30, 1, 59])
      const s = buffered(chunks)
      expect(s.readableLength).toBe(100)
      const c = await C.fromStream(s)
      holds(c, secret)
      for (const chunk of chunks) expect(isZero(chunk)).toBe(true)
      c.dispose()
    })

    it(`${name}: an fs.ReadStream behind a pass-through: each chunk that reaches the reader is wiped`, async () => {
      const secret = randomBytes(200)
      const file = fileWith(secret)
      const seen = []
      const spy = new Transform({ transform (chunk, _enc, done) { seen.push(chunk); done(null, chunk) } })
      createReadStream(file, { highWaterMark: 32 }).pipe(spy)
      // Let every chunk arrive and wait in the pass-through's buffer first.
      while (spy.readableLength < 200) await new Promise((resolve) => setTimeout(resolve, 5))
      expect(seen.length).toBeGreaterThan(1)
      const c = await C.fromStream(spy, { allocator: pageA })
      holds(c, secret)
      for (const chunk of seen) expect(isZero(chunk)).toBe(true)
      c.dispose()
    })

    it(`${name}: an object-mode stream of Buffers, typed arrays, DataViews and ArrayBuffers: each wiped (exactly its bytes)`, async () => {
      const secret = randomBytes(64)
      const around = Buffer.from(randomBytes(48))
      const keep = Buffer.from(around)
      around.set(secret.subarray(16, 32), 16) // a chunk that is a slice of a larger buffer
      const chunks = [
        Buffer.from(secret.subarray(0, 8)),
        new Uint16Array(new Uint8Array(secret.subarray(8, 16)).buffer),
        around.subarray(16, 32),
        new DataView(new Uint8Array(secret.subarray(32, 48)).buffer),
        new Uint8Array(secret.subarray(48, 64)).buffer
      ]
      const s = buffered(chunks, { objectMode: true })
      const c = await C.fromStream(s)
      holds(c, secret)
      for (const chunk of chunks) expect(isZero(chunk instanceof ArrayBuffer ? new Uint8Array(chunk) : viewBytes(chunk))).toBe(true)
      // Only the slice was wiped: the bytes around it are intact.
      expect(around.subarray(0, 16).equals(keep.subarray(0, 16))).toBe(true)
      expect(around.subarray(32).equals(keep.subarray(32))).toBe(true)
      c.dispose()
    })

    it(`${name}: an async iterable: each yielded chunk is wiped; a failure closes the iterator`, async () => {
      const secret = randomBytes(3000)
      const chunks = split(secret, [1000, 1000, 1000])
      async function * gen () { yield * chunks }
      const c = await C.fromStream(gen())
      holds(c, secret)
      for (const chunk of chunks) expect(isZero(chunk)).toBe(true)
      c.dispose()

      let closed = false
      const more = split(randomBytes(30), [10, 10, 10])
      async function * long () {
        try {
          yield * more
        } finally {
          closed = true
        }
      }
      await expectReject(C.fromStream(long(), { maxLength: 15 }), 'ERR_SECRET_TOO_LONG')
      expect(closed).toBe(true)
      expect(isZero(more[0])).toBe(true)
      expect(isZero(more[1])).toBe(true) // the chunk that did not fit is wiped too
    })

    it(`${name}: a web ReadableStream (an async iterable): each chunk wiped`, async () => {
      const secret = randomBytes(50)
      const chunks = split(secret, [20, 30])
      const web = new ReadableStream({ start (controller) { for (const chunk of chunks) controller.enqueue(chunk); controller.close() } })
      const c = await C.fromStream(web, { allocator: pageA })
      holds(c, secret)
      for (const chunk of chunks) expect(isZero(chunk)).toBe(true)
      c.dispose()
    })

    it(`${name}: after a failure, chunks still buffered are wiped before the stream is destroyed`, async () => {
      const tooLong = split(randomBytes(40), [10, 10, 10, 10])
      const s1 = buffered(tooLong)
      await expectReject(C.fromStream(s1, { maxLength: 15, allocator: pageA }), 'ERR_SECRET_TOO_LONG')
      expect(s1.destroyed).toBe(true)
      for (const chunk of tooLong) expect(isZero(chunk)).toBe(true)

      const mixed = [Buffer.from(randomBytes(8)), 42, Buffer.from(randomBytes(8)), new Uint8Array(randomBytes(8))]
      const s2 = buffered(mixed, { objectMode: true })
      const err = await expectReject(C.fromStream(s2), 'ERR_INVALID_ARG_TYPE')
      expect(err.message).toMatch(/bytes/)
      expect(s2.destroyed).toBe(true)
      for (const chunk of [mixed[0], mixed[2], mixed[3]]) expect(isZero(chunk)).toBe(true)
    })

    it(`${name}: a stream that already has a consumer is refused and left alone`, async () => {
      const piped = new PassThrough()
      const other = new PassThrough()
      piped.pipe(other)
      await expectReject(C.fromStream(piped), 'ERR_INVALID_ARG_VALUE')
      const listened = new PassThrough()
      listened.on('readable', () => {})
      await expectReject(C.fromStream(listened), 'ERR_INVALID_ARG_VALUE')
      const chunk = Buffer.from('not consumed')
      const withData = buffered([chunk], { open: true })
      withData.on('data', () => {})
      withData.pause()
      await expectReject(C.fromStream(withData), 'ERR_INVALID_ARG_VALUE')
      expect(withData.destroyed).toBe(false)
      for (const s of [piped, other, listened, withData]) s.destroy()
    })

    it(`${name}: a stream closed before its end rejects with Node's ERR_STREAM_PREMATURE_CLOSE and keeps nothing`, async () => {
      const chunk = Buffer.from(randomBytes(16))
      const s = buffered([chunk], { open: true })
      const p = C.fromStream(s, { allocator: pageA })
      setTimeout(() => s.destroy(), 20)
      await expectReject(p, 'ERR_STREAM_PREMATURE_CLOSE')
      expect(isZero(chunk)).toBe(true)
    })
  }
})
