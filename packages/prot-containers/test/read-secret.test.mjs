// Reading a secret straight into protected memory: fromFd, fromFile, fromStream.
import { randomBytes } from 'node:crypto'
import { closeSync, createReadStream, fstatSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { pathToFileURL } from 'node:url'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PageAllocator, ProtBuf, ProtKey, SlotAllocator, expectCode, expectReject, live, openFds, pc } from './helpers.mjs'

const dir = mkdtempSync(join(tmpdir(), 'prot-containers-read-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
function fileWith (bytes) {
  const p = join(dir, `secret-${n++}`)
  writeFileSync(p, bytes)
  return p
}

const pageA = new PageAllocator({ secretmem: 'off' })
const slotA = new SlotAllocator()
const watched = () => [pageA, slotA, pc.defaultBufAllocator(), pc.defaultKeyAllocator()].map(live)
let before
let fds
beforeEach(() => { before = watched(); fds = openFds() })
afterEach(() => {
  expect(watched()).toEqual(before) // every test disposes what it read; failures keep nothing
  expect(openFds()).toBe(fds)
})

const CLASSES = [['ProtBuf', ProtBuf], ['ProtKey', ProtKey]]
function holds (c, secret) {
  if (c instanceof ProtKey) expect(c.protections().access).toBe('none')
  expect(c.byteLength).toBe(secret.length)
  expect(c.equals(secret)).toBe(true)
}

describe('fromFile', () => {
  for (const [name, C] of CLASSES) {
    it(`${name}.fromFile reads the whole file (path or URL) and closes it`, () => {
      const secret = randomBytes(48)
      const p = fileWith(secret)
      const a = C.fromFile(p)
      const b = C.fromFile(pathToFileURL(p), { allocator: pageA })
      holds(a, secret)
      holds(b, secret)
      expect(b.allocator).toBe(pageA)
      a.dispose()
      b.dispose()
    })

    it(`${name}.fromFile: exactly maxLength is accepted, one byte more is ERR_SECRET_TOO_LONG`, () => {
      const secret = randomBytes(100)
      const p = fileWith(secret)
      const c = C.fromFile(p, { maxLength: 100 })
      holds(c, secret)
      c.dispose()
      expectCode(() => C.fromFile(p, { maxLength: 99 }), 'ERR_SECRET_TOO_LONG', 'ContainerError')
      expectCode(() => C.fromFile(p, { maxLength: 1, allocator: pageA }), 'ERR_SECRET_TOO_LONG')
    })

    it(`${name}.fromFile: an empty file is ERR_OUT_OF_RANGE; an endless one stops at maxLength`, () => {
      expectCode(() => C.fromFile(fileWith(Buffer.alloc(0))), 'ERR_OUT_OF_RANGE', 'RangeError')
      expectCode(() => C.fromFile('/dev/zero', { maxLength: 1000, allocator: pageA }), 'ERR_SECRET_TOO_LONG')
      expectCode(() => C.fromFile('/dev/zero'), 'ERR_SECRET_TOO_LONG') // default bound: 64 KiB
    })

    it(`${name}.fromFile reads secrets longer than one read() and than a page`, () => {
      const secret = randomBytes(200000)
      const c = C.fromFile(fileWith(secret), { maxLength: 200000 })
      holds(c, secret)
      c.dispose()
    })
  }

  it('DEFAULT_MAX_LENGTH is 64 KiB', () => {
    expect(pc.DEFAULT_MAX_LENGTH).toBe(65536)
    const big = randomBytes(65537)
    expectCode(() => ProtBuf.fromFile(fileWith(big)), 'ERR_SECRET_TOO_LONG')
    const ok = ProtBuf.fromFile(fileWith(big.subarray(0, 65536)))
    expect(ok.byteLength).toBe(65536)
    ok.dispose()
  })
})

describe('fromFd', () => {
  for (const [name, C] of CLASSES) {
    it(`${name}.fromFd reads from the current position to the end and leaves the fd open`, () => {
      const secret = randomBytes(64)
      const fd = openSync(fileWith(Buffer.concat([Buffer.from('HDR:'), secret])), 'r')
      try {
        const hdr = Buffer.alloc(4)
        readSync(fd, hdr, 0, 4, null)
        expect(hdr.toString()).toBe('HDR:')
        const c = C.fromFd(fd, { allocator: pageA })
        holds(c, secret)
        c.dispose()
        expect(fstatSync(fd).isFile()).toBe(true) // still open: the caller owns it
        expectCode(() => C.fromFd(fd), 'ERR_OUT_OF_RANGE') // at the end now: nothing left to read
      } finally {
        closeSync(fd)
      }
    })

    it(`${name}.fromFd: too long input is ERR_SECRET_TOO_LONG and keeps nothing`, () => {
      const fd = openSync(fileWith(randomBytes(33)), 'r')
      try {
        expectCode(() => C.fromFd(fd, { maxLength: 32 }), 'ERR_SECRET_TOO_LONG')
      } finally {
        closeSync(fd)
      }
    })
  }
})

describe('fromStream', () => {
  for (const [name, C] of CLASSES) {
    it(`${name}.fromStream concatenates byte chunks and wipes each chunk once copied`, async () => {
      const secret = randomBytes(90)
      const chunks = [Buffer.from(secret.subarray(0, 10)), new Uint8Array(secret.subarray(10, 50)), Buffer.from(secret.subarray(50))]
      const c = await C.fromStream(Readable.from(chunks))
      holds(c, secret)
      for (const chunk of chunks) expect(chunk.every((b) => b === 0)).toBe(true)
      c.dispose()
    })

    it(`${name}.fromStream refuses an fs.ReadStream (its read buffer keeps copies) and closes it`, async () => {
      const file = createReadStream(fileWith(randomBytes(64)))
      /** @type {Promise<void>} */
      const closed = new Promise((resolve) => file.once('close', resolve))
      const err = await expectReject(C.fromStream(file, { allocator: pageA }), 'ERR_INVALID_ARG_VALUE')
      expect(err.message).toMatch(/fromFile/)
      await closed
      expect(file.destroyed).toBe(true)
    })

    it(`${name}.fromStream reads a pipe-like stream and an async generator`, async () => {
      const secret = randomBytes(5000)
      const pipe = new PassThrough({ highWaterMark: 1024 })
      pipe.end(Buffer.from(secret))
      const a = await C.fromStream(pipe, { allocator: pageA })
      holds(a, secret)
      a.dispose()
      async function * gen () {
        yield Buffer.from(secret.subarray(0, 1)) // copies: the reader wipes what it is given
        yield Buffer.from(secret.subarray(1))
      }
      const b = await C.fromStream(gen())
      holds(b, secret)
      b.dispose()
    })

    it(`${name}.fromStream refuses string chunks (a stream with an encoding) and destroys the stream`, async () => {
      const enc = new PassThrough()
      enc.end(randomBytes(20))
      enc.setEncoding('hex')
      const err = await expectReject(C.fromStream(enc), 'ERR_INVALID_ARG_TYPE')
      expect(err.message).toMatch(/encoding/)
      expect(enc.destroyed).toBe(true)
      await expectReject(C.fromStream(Readable.from(['plain string secret'])), 'ERR_INVALID_ARG_TYPE')
      // A byte chunk before the string chunk was copied and wiped, then discarded.
      const first = Buffer.from('abc')
      await expectReject(C.fromStream(Readable.from([first, 'def'])), 'ERR_INVALID_ARG_TYPE')
      expect(first.every((b) => b === 0)).toBe(true)
    })

    it(`${name}.fromStream: too long input is ERR_SECRET_TOO_LONG; the offending chunk is wiped`, async () => {
      const a = Buffer.from(randomBytes(30))
      const b = Buffer.from(randomBytes(30))
      const s = Readable.from([a, b])
      await expectReject(C.fromStream(s, { maxLength: 40, allocator: pageA }), 'ERR_SECRET_TOO_LONG')
      expect(a.every((x) => x === 0)).toBe(true)
      expect(b.every((x) => x === 0)).toBe(true)
      expect(s.destroyed).toBe(true)
      // Exactly maxLength is fine.
      const c = await C.fromStream(Readable.from([randomBytes(20), randomBytes(20)]), { maxLength: 40 })
      expect(c.byteLength).toBe(40)
      c.dispose()
    })

    it(`${name}.fromStream: an empty stream is ERR_OUT_OF_RANGE; a stream error rejects with it`, async () => {
      await expectReject(C.fromStream(Readable.from([])), 'ERR_OUT_OF_RANGE')
      const failing = new Readable({
        read () {
          this.push(Buffer.from('part'))
          this.destroy(Object.assign(new Error('disk on fire'), { code: 'EIO' }))
        }
      })
      const err = await expectReject(C.fromStream(failing, { allocator: pageA }), 'EIO')
      expect(err.message).toBe('disk on fire')
    })
  }
})
