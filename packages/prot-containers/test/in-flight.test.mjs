// Guarantee 7: freed memory is never the next secret for anyone still holding
// it. Native work that holds a container's pointer past dispose() (a write
// blocked in the kernel) sees the zeros of a quarantined slot or mapping,
// never the next secret; a backing store moved out with transfer() is never
// reused and never faults. Each case in a child process that must exit 0.
import { describe, expect, it } from 'vitest'
import { records, runFixture } from './helpers.mjs'

const HAS_TRANSFER = typeof ArrayBuffer.prototype.transfer === 'function'

function expectExit0 (res) {
  expect({ status: res.status, signal: res.signal, stderr: res.stderr }).toEqual({ status: 0, signal: null, stderr: expect.any(String) })
}

describe('an fs.write blocked on a full pipe when its ProtBuf is disposed', () => {
  for (const length of [32, 8192]) {
    it(`${length} bytes: the write sends zeros, never the next secret`, () => {
      const res = runFixture('in-flight.cjs', ['pipe-write', String(length)])
      expectExit0(res)
      const r = records(res.stdout)
      expect(r.SENT).toEqual({ err: null, written: length, zeros: true, old: 0, next: 0, nextIntact: true })
      expect(r.EXIT).toEqual({ ok: true })
    })
  }
})

describe('an fs.write of a SealedKey window\'s bytes, blocked on a full pipe when the window closes', () => {
  it('sends zeros, never the plaintext of the next key\'s window', () => {
    const res = runFixture('in-flight.cjs', ['sealed-window'])
    expectExit0(res)
    const r = records(res.stdout)
    expect(r.SENT).toEqual({ err: null, written: 32, zeros: true, old: 0, next: 0, secondIntact: true })
    expect(r.EXIT).toEqual({ ok: true })
  })
})

describe('a ProtKey async window whose deadline passes while native work holds its bytes', () => {
  it('the key moves away: a queued randomFill lands in wiped pages, a blocked write sends zeros; nothing faults', () => {
    const res = runFixture('in-flight.cjs', ['async-timeout'])
    expectExit0(res)
    const r = records(res.stdout)
    expect(r.FILL).toEqual({ code: 'ERR_WINDOW_TIMEOUT', filled: 'done', keyKept: true, access: 'none' })
    expect(r.SEND).toEqual({ code: 'ERR_WINDOW_TIMEOUT', sent: { err: null, written: 32, zeros: true, secret: 0 }, keyKept: true })
    expect(r.EXIT).toEqual({ ok: true })
  })
})

describe.skipIf(!HAS_TRANSFER)(`transfer() of a container's bytes (Node ${process.versions.node})`, () => {
  it('ProtBuf and ProtKey window: moved buffers read zeros after dispose/close, never another secret; nothing faults; one warning', () => {
    const res = runFixture('in-flight.cjs', ['transfer'])
    expectExit0(res)
    const r = records(res.stdout)
    expect(r.PROTBUF).toEqual({ bytesError: 'ERR_VIEW_ESCAPED', zeroAfterDispose: true, stillZero: true, nextIntact: true })
    expect(r.PROTKEY).toEqual({ afterClose: true, keyKept: true, afterDispose: true, stillZero: true })
    expect(r.WARNINGS).toEqual(['TARSJS_ESCAPED_VIEW'])
  })
})

it.runIf(!HAS_TRANSFER)(`transfer() cases skipped: Node ${process.versions.node} has no ArrayBuffer.prototype.transfer`, () => {
  expect(HAS_TRANSFER).toBe(false)
})
