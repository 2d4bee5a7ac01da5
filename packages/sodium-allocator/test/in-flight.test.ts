// Guarantee 7 for secure buffers: after sodium_free the memory is wiped and
// quarantined (mapped, readable zeros), so a holder of the old pointer never
// writes into the next buffers and never faults; memory moved out with
// transfer() is never reused. Child processes that must exit 0.
import { describe, expect, it } from 'vitest'
import { PAGE, report, runFixture } from './helpers.js'

const HAS_TRANSFER = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function'

describe('memory held past sodium_free', () => {
  it('buf.fill({ valueOf() { sodium_free(buf) ... } }) writes into quarantined memory, not into the next buffers', () => {
    const run = runFixture('in-flight', ['fill-valueof'])
    expect([run.status, run.signal, run.stderr]).toEqual([0, null, ''])
    expect(report(run)).toEqual({ nextIntact: true, freedLength: 0 })
  })

  it.skipIf(!HAS_TRANSFER)(`a buffer moved out with transfer() reads zeros after free, is never reused, never faults (Node ${process.versions.node})`, () => {
    const run = runFixture('in-flight', ['transfer'])
    expect([run.status, run.signal]).toEqual([0, null])
    expect(report(run)).toEqual({
      movedReads: true,
      noaccess: 'ERR_VIEW_ESCAPED',
      zeroAfterFree: true,
      stillZero: true,
      nextIntact: true,
      escapedBytes: PAGE,
      afterTrim: true,
      // the allocator's escape warning, and the secure-buffer layer's: the buffer was freed for the caller
      warnings: ['TARSJS_ESCAPED_VIEW', 'TARSJS_FOREIGN_FREE']
    })
  })
})
