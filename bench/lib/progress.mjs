// Progress of a benchmark run, on stderr. On a terminal: one line redrawn in
// place, with a bar, the current step and an estimate of the time left. Not
// on a terminal (CI logs, pipes): one plain line per step, with the estimate.
//
// The work is counted in units (one timed batch, or one memory measurement);
// the estimate is the time per unit so far times the units left.

const BAR = 24
const REDRAW_MS = 100

/** "45 s", "2 min 5 s". */
export function formatDuration (ms) {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`
}

/** The estimate of the time left, or null before any unit is done. */
export function estimateLeft (elapsedMs, done, total) {
  if (done <= 0) return null
  return (elapsedMs / done) * Math.max(0, total - done)
}

/** The progress bar line: `[#####-------]  42%  ~12 s left  label` (the label is cut to the width). */
export function progressLine ({ done, total, label, leftMs, width = 80 }) {
  const fraction = total > 0 ? Math.min(1, done / total) : 0
  const filled = Math.round(fraction * BAR)
  const eta = leftMs === null ? 'estimating time left' : `~${formatDuration(leftMs)} left`
  const line = `[${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%  ${eta}  ${label}`
  return line.length > width - 1 ? `${line.slice(0, Math.max(0, width - 2))}…` : line
}

/**
 * `total` units of work. `stream` defaults to stderr; `tty` to whether it is a
 * terminal; `now` to Date.now (tests pass a clock).
 */
export function createProgress ({ total, stream = process.stderr, tty = Boolean(stream.isTTY), now = Date.now }) {
  const started = now()
  let done = 0
  let label = ''
  let drawnAt = -Infinity
  let shown = false

  const left = () => estimateLeft(now() - started, done, total)
  const clear = () => {
    if (shown) stream.write('\r\x1b[2K')
    shown = false
  }
  const draw = (force) => {
    if (!tty) return
    const t = now()
    if (!force && t - drawnAt < REDRAW_MS) return
    drawnAt = t
    stream.write(`\r\x1b[2K${progressLine({ done, total, label, leftMs: left(), width: stream.columns > 0 ? stream.columns : 80 })}`)
    shown = true
  }

  return {
    /** A new step: redraws the bar, or prints `- label ... (~N s left)`. */
    step (text) {
      label = text
      if (tty) draw(true)
      else {
        const ms = left()
        stream.write(`- ${text} ...${ms === null ? '' : ` (about ${formatDuration(ms)} left)`}\n`)
      }
    },
    /** `n` units done. */
    advance (n = 1) {
      done += n
      draw(false)
    },
    /** A line of its own (a note, an error), above the bar on a terminal. */
    log (text) {
      clear()
      stream.write(`${text}\n`)
      draw(true)
    },
    /** Removes the bar; prints how long the run took. */
    finish () {
      clear()
      stream.write(`done in ${formatDuration(now() - started)}\n`)
    },
    get done () {
      return done
    }
  }
}
