// The progress display of bench/run.mjs, with a fake clock and a fake stream.
import { describe, expect, it } from 'vitest'
import { createProgress, estimateLeft, formatDuration, progressLine } from '../lib/progress.mjs'

function fakeStream (tty, columns = 80) {
  const chunks = []
  return { chunks, isTTY: tty, columns, write: (text) => chunks.push(text) }
}

describe('progress', () => {
  it('estimates the time left from the time per unit so far', () => {
    expect(estimateLeft(10_000, 0, 100)).toBe(null)
    expect(estimateLeft(10_000, 25, 100)).toBe(30_000)
    expect(estimateLeft(10_000, 100, 100)).toBe(0)
    expect(estimateLeft(10_000, 120, 100)).toBe(0)
    expect([formatDuration(0), formatDuration(44_600), formatDuration(60_000), formatDuration(125_000)]).toEqual(['0 s', '45 s', '1 min', '2 min 5 s'])
  })

  it('draws a bar with the percentage, the time left and the step, cut to the width', () => {
    expect(progressLine({ done: 50, total: 100, label: 'ProtKey window', leftMs: 12_000 })).toBe(
      '[############------------]  50%  ~12 s left  ProtKey window'
    )
    expect(progressLine({ done: 0, total: 100, label: 'x', leftMs: null })).toContain('estimating time left')
    const cut = progressLine({ done: 1, total: 4, label: 'a'.repeat(200), leftMs: 61_000, width: 60 })
    expect(cut.length).toBeLessThan(60)
    expect(cut).toContain('~1 min 1 s left')
  })

  it('on a terminal: redraws one line in place, throttled, and clears it at the end', () => {
    let t = 0
    const stream = fakeStream(true)
    const p = createProgress({ total: 10, stream, now: () => t })
    p.step('first')
    t = 1000
    p.advance() // redrawn: 1 of 10 in 1 s → 9 s left
    p.advance() // within 100 ms of the last draw: not redrawn
    t = 2000
    p.log('a note')
    p.finish()
    const text = stream.chunks.join('')
    expect(text).toContain('\r\x1b[2K[------------------------]   0%  estimating time left  first')
    expect(stream.chunks.filter((c) => c.includes('~9 s left'))).toHaveLength(1)
    expect(text).toContain('\r\x1b[2Ka note\n')
    expect(text.endsWith('\r\x1b[2Kdone in 2 s\n')).toBe(true)
    expect(p.done).toBe(2)
  })

  it('elsewhere: one plain line per step with the time left, nothing per unit', () => {
    let t = 0
    const stream = fakeStream(false)
    const p = createProgress({ total: 4, stream, now: () => t })
    p.step('one')
    t = 3000
    p.advance()
    p.advance()
    p.step('two')
    p.log('note')
    p.finish()
    expect(stream.chunks).toEqual(['- one ...\n', '- two ... (about 3 s left)\n', 'note\n', 'done in 3 s\n'])
  })
})
