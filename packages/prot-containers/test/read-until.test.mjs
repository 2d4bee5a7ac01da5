// fromReaderUntil: a descriptor or a stream read up to a delimiter, straight
// into protected memory. What comes after the delimiter stays with the source
// (a descriptor is not read past it; a stream gets it back), every chunk the
// stream handed over is wiped up to the delimiter, and every bad input is a
// typed error that keeps nothing.
import { createHash, randomBytes } from 'node:crypto'
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, createReadStream, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { FIXTURES, PageAllocator, ProtBuf, ProtKey, expectReject, keepsNothing, openFds, pc, tempFiles } from './helpers.mjs'

const { SealedKey } = pc
const fileWith = tempFiles('prot-containers-until-')
const pageA = new PageAllocator({ secretmem: 'off' })
keepsNothing(() => [pageA, pc.defaultBufAllocator(), pc.defaultKeyAllocator()])

const CLASSES = [['ProtBuf', ProtBuf], ['ProtKey', ProtKey]]
const isZero = (bytes) => bytes.every((b) => b === 0)

/** A paused Readable with `chunks` already pushed (and its end, unless `open`). */
function buffered (chunks, { open = false } = {}) {
  const r = new Readable({ read () {} })
  for (const c of chunks) r.push(c)
  if (!open) r.push(null)
  return r
}

function holds (c, secret) {
  if (c instanceof ProtKey) expect(c.protections().access).toBe('none')
  expect(c.byteLength).toBe(secret.length)
  expect(c.equals(secret)).toBe(true)
}

/** A random secret with no byte equal to any byte of `avoid` (so a delimiter cannot occur in it). */
function secretWithout (length, avoid = [0x0a]) {
  const out = Buffer.from(randomBytes(length))
  for (let i = 0; i < out.length; i++) while (avoid.includes(out[i])) out[i] = randomBytes(1)[0]
  return out
}

/** Everything a paused stream still holds, read in paused mode (test side only). */
async function drain (s) {
  const parts = []
  for await (const chunk of s) parts.push(chunk)
  return Buffer.concat(parts)
}

describe('fromReaderUntil on a stream', () => {
  for (const [name, C] of CLASSES) {
    it(`${name}: reads up to a line feed, wipes the chunk up to it and hands the rest back, stream paused`, async () => {
      const secret = secretWithout(40)
      const chunk = Buffer.concat([secret, Buffer.from('\nnext line\n')])
      const later = Buffer.from('and more')
      const s = buffered([chunk, later])
      const c = await C.fromReaderUntil(s)
      holds(c, secret)
      expect(isZero(chunk.subarray(0, 41))).toBe(true) // the secret and its delimiter
      expect(chunk.subarray(41).toString()).toBe('next line\n') // not wiped: it is the next reader's
      expect(s.isPaused()).toBe(true)
      expect((await drain(s)).toString()).toBe('next line\nand more')
      c.dispose()
    })

    it(`${name}: successive calls read successive lines from one stream`, async () => {
      const lines = [secretWithout(10), secretWithout(20), secretWithout(5)]
      const s = new PassThrough()
      s.end(Buffer.concat([lines[0], Buffer.from('\n'), lines[1], Buffer.from('\n'), lines[2]]))
      for (const line of lines) {
        const c = await C.fromReaderUntil(s, '\n', { allocator: C === ProtBuf ? undefined : pageA })
        holds(c, line)
        c.dispose()
      }
    })

    it(`${name}: a delimiter split across chunks, and a multi-byte delimiter that overlaps itself`, async () => {
      const secret = secretWithout(30, [0x0d, 0x0a])
      const chunks = [Buffer.from(secret.subarray(0, 12)), Buffer.concat([secret.subarray(12), Buffer.from('\r')]), Buffer.from('\nrest')]
      const s = buffered(chunks)
      const c = await C.fromReaderUntil(s, '\r\n')
      holds(c, secret)
      expect(isZero(chunks[0]) && isZero(chunks[1])).toBe(true)
      expect(isZero(chunks[2].subarray(0, 1))).toBe(true)
      expect((await drain(s)).toString()).toBe('rest')
      c.dispose()

      // 'xaaab' up to 'aab': a naive matcher that restarts after a mismatch misses it.
      const t = buffered([Buffer.from('xa'), Buffer.from('a'), Buffer.from('ab'), Buffer.from('tail')])
      const d = await C.fromReaderUntil(t, Buffer.from('aab'))
      holds(d, Buffer.from('xa'))
      expect((await drain(t)).toString()).toBe('tail')
      d.dispose()
    })

    it(`${name}: exactly maxLength before the delimiter is accepted; one more byte is ERR_SECRET_TOO_LONG, every chunk wiped, stream destroyed`, async () => {
      const secret = secretWithout(100)
      const ok = await C.fromReaderUntil(buffered([Buffer.concat([secret, Buffer.from('\n')])]), 0x0a, { maxLength: 100 })
      holds(ok, secret)
      ok.dispose()

      const chunks = [Buffer.from(secretWithout(60)), Buffer.from(secretWithout(41)), Buffer.from('\nafter')]
      const s = buffered(chunks)
      await expectReject(C.fromReaderUntil(s, 0x0a, { maxLength: 100 }), 'ERR_SECRET_TOO_LONG')
      for (const chunk of chunks) expect(isZero(chunk)).toBe(true)
      expect(s.destroyed).toBe(true)
    })

    it(`${name}: the end before a delimiter ends the secret; with requireDelimiter it is ERR_UNEXPECTED_EOF`, async () => {
      const secret = secretWithout(16)
      const c = await C.fromReaderUntil(buffered([Buffer.from(secret)]))
      holds(c, secret)
      c.dispose()
      const chunk = Buffer.from(secret)
      await expectReject(C.fromReaderUntil(buffered([chunk]), '\n', { requireDelimiter: true }), 'ERR_UNEXPECTED_EOF')
      expect(isZero(chunk)).toBe(true)
      // An empty line, or nothing at all, is an empty secret.
      await expectReject(C.fromReaderUntil(buffered([Buffer.from('\nx')])), 'ERR_OUT_OF_RANGE')
      await expectReject(C.fromReaderUntil(buffered([])), 'ERR_OUT_OF_RANGE')
    })

    it(`${name}: a stream error rejects with it, and the chunks before it are wiped`, async () => {
      const s = new PassThrough()
      const chunk = Buffer.from('partial secret')
      s.write(chunk)
      const p = C.fromReaderUntil(s)
      await new Promise((resolve) => setImmediate(resolve))
      s.destroy(Object.assign(new Error('socket reset'), { code: 'ECONNRESET' }))
      await expectReject(p, 'ECONNRESET')
      expect(isZero(chunk)).toBe(true)
    })
  }

  it('SealedKey.fromReaderUntil seals the line and hands the rest back', async () => {
    const secret = secretWithout(32)
    const s = buffered([Buffer.concat([secret, Buffer.from('\nrest')])])
    const k = await SealedKey.fromReaderUntil(s)
    expect(k.byteLength).toBe(32)
    expect(k.read((bytes) => Buffer.compare(bytes, secret))).toBe(0)
    expect((await drain(s)).toString()).toBe('rest')
    k.dispose()
  })

  it('refuses streams that would leave copies or have another reader, before reading', async () => {
    const text = new PassThrough()
    text.setEncoding('utf8')
    await expectReject(ProtKey.fromReaderUntil(text), 'ERR_INVALID_ARG_TYPE')
    expect(text.destroyed).toBe(true)
    const file = createReadStream(fileWith(Buffer.from('secret\n')))
    await expectReject(ProtKey.fromReaderUntil(file), 'ERR_INVALID_ARG_VALUE')
    const watched = new PassThrough()
    watched.on('data', () => {})
    await expectReject(ProtKey.fromReaderUntil(watched), 'ERR_INVALID_ARG_VALUE')
    const strings = new Readable({ objectMode: true, read () {} })
    strings.push('a string chunk\n')
    strings.push(null)
    await expectReject(ProtKey.fromReaderUntil(strings), 'ERR_INVALID_ARG_TYPE')
  })
})

describe('fromReaderUntil on a descriptor', () => {
  for (const [name, C] of CLASSES) {
    it(`${name}: stops right after the delimiter: the descriptor's position is the next byte`, async () => {
      const secret = secretWithout(50, [0x00])
      const fd = openSync(fileWith(Buffer.concat([secret, Buffer.from([0]), Buffer.from('after')])), 'r')
      try {
        const c = await C.fromReaderUntil(fd, 0)
        holds(c, secret)
        c.dispose()
        const rest = Buffer.alloc(16)
        expect(rest.subarray(0, readSync(fd, rest)).toString()).toBe('after')
      } finally {
        closeSync(fd)
      }
    })

    it(`${name}: maxLength, the end of the input, an endless input, and a closed descriptor`, async () => {
      const secret = secretWithout(20)
      const path = fileWith(Buffer.concat([secret, Buffer.from('\n')]))
      let fd = openSync(path, 'r')
      await expectReject(C.fromReaderUntil(fd, '\n', { maxLength: 19 }), 'ERR_SECRET_TOO_LONG')
      closeSync(fd)
      fd = openSync(path, 'r')
      const c = await C.fromReaderUntil(fd, '\n', { maxLength: 20 })
      holds(c, secret)
      c.dispose()
      await expectReject(C.fromReaderUntil(fd), 'ERR_OUT_OF_RANGE') // at the end: nothing left
      closeSync(fd)
      fd = openSync(fileWith(secret), 'r')
      await expectReject(C.fromReaderUntil(fd, '\n', { requireDelimiter: true }), 'ERR_UNEXPECTED_EOF')
      closeSync(fd)
      fd = openSync('/dev/zero', 'r')
      await expectReject(C.fromReaderUntil(fd, '\n', { maxLength: 300 }), 'ERR_SECRET_TOO_LONG')
      closeSync(fd)
      await expectReject(C.fromReaderUntil(fd), 'EBADF')
    })
  }

  it('through a real pipe (stdin of a child): the line is taken, the rest stays in the pipe for the next reader', () => {
    const secret = secretWithout(64)
    const input = Buffer.concat([secret, Buffer.from('\nthe rest of stdin\n')])
    const res = spawnSync(process.execPath, [join(FIXTURES, 'read-until-stdin.cjs')], { input, encoding: 'utf8', timeout: 30000 })
    expect(res.stderr).toBe('')
    expect(res.status).toBe(0)
    const sha = createHash('sha256').update(secret).digest('hex')
    expect(res.stdout).toBe(`length 64\nsha256 ${sha}\nrest "the rest of stdin\\n"\n`)
  })

  it('a non-blocking pipe that is empty for a while (EAGAIN) is read again until the line is complete', async () => {
    const child = spawn(process.execPath, [join(FIXTURES, 'read-until-stdin.cjs'), 'nonblocking'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const started = new Promise((resolve) => child.stdout.once('data', resolve))
    child.stdout.on('data', (b) => { stdout += b })
    child.stderr.on('data', (b) => { stderr += b })
    const closed = new Promise((resolve) => child.on('close', resolve))
    await started // the child is in its read loop, on an empty pipe
    child.stdin.write('first half ')
    await new Promise((resolve) => setTimeout(resolve, 300))
    child.stdin.end('second half\nafter')
    expect(await closed).toBe(0)
    expect(stderr).toBe('')
    expect(stdout).toBe(`reading\nlength 22\nsha256 ${createHash('sha256').update('first half second half').digest('hex')}\nrest "after"\n`)
  })
})

describe('fromReaderUntil: bad arguments are typed errors, nothing is read or kept', () => {
  it('the source', async () => {
    for (const source of ['0', -1, 1.5, null, {}, [], () => 0, Symbol('fd'), (async function * () {})()]) {
      await expectReject(ProtKey.fromReaderUntil(source), 'ERR_INVALID_ARG_TYPE')
    }
  })

  it('the delimiter', async () => {
    const s = new PassThrough()
    for (const d of [256, -1, 1.5, NaN]) await expectReject(ProtBuf.fromReaderUntil(s, d), 'ERR_OUT_OF_RANGE')
    for (const d of ['', new Uint8Array(0), new ArrayBuffer(0), Buffer.alloc(257)]) await expectReject(ProtBuf.fromReaderUntil(s, d), 'ERR_INVALID_ARG_VALUE')
    for (const d of [null, {}, true, 10n]) await expectReject(ProtBuf.fromReaderUntil(s, d), 'ERR_INVALID_ARG_TYPE')
    expect(s.listenerCount('data')).toBe(0) // nothing started reading
    s.end(Buffer.from('ab|cd'))
    const byBuffer = await ProtBuf.fromReaderUntil(s, new Uint8Array([0x7c]).buffer)
    holds(byBuffer, Buffer.from('ab'))
    byBuffer.dispose()
  })

  it('the options', async () => {
    const s = new PassThrough()
    await expectReject(ProtKey.fromReaderUntil(s, '\n', 'opts'), 'ERR_INVALID_ARG_TYPE')
    await expectReject(ProtKey.fromReaderUntil(s, '\n', { requireDelimiter: 'yes' }), 'ERR_INVALID_ARG_TYPE')
    await expectReject(ProtKey.fromReaderUntil(s, '\n', { maxLength: 0 }), 'ERR_OUT_OF_RANGE')
    await expectReject(ProtKey.fromReaderUntil(s, '\n', { maxLength: '64' }), 'ERR_INVALID_ARG_TYPE')
    expect(s.listenerCount('data')).toBe(0)
  })

  it('a ProtKey refuses an allocator that cannot protect pages (ERR_NOT_ISOLATED)', async () => {
    const s = new PassThrough()
    await expectReject(ProtKey.fromReaderUntil(s, '\n', { allocator: pc.defaultBufAllocator() }), 'ERR_NOT_ISOLATED')
    expect(s.listenerCount('data')).toBe(0)
  })

  it('no descriptor is opened or left open', async () => {
    const fds = openFds()
    const c = await ProtBuf.fromReaderUntil(buffered([Buffer.from('x\n')]))
    c.dispose()
    expect(openFds()).toBe(fds)
  })
})
