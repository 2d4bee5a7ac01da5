// fromPrompt: a password typed on a terminal, straight into protected memory.
// Through a real pseudo-terminal (python3's pty, fixtures/pty-run.py): what the
// terminal shows (never the password), the terminal's mode while the prompt
// waits (echo off) and once it is over (restored, read by stty(1) while the
// process still runs), the editing keys, Ctrl-C. In this process, with a
// stand-in terminal: every chunk wiped, typed-ahead bytes handed back, the
// previous mode restored on every path, and every bad input a typed error.
import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { FIXTURES, PageAllocator, ProtBuf, ProtKey, expectReject, keepsNothing, pc, which } from './helpers.mjs'

const pageA = new PageAllocator({ secretmem: 'off' })
keepsNothing(() => [pageA, pc.defaultBufAllocator(), pc.defaultKeyAllocator()])

const DEL = '\x7f'
const CTRL_U = '\x15'
const CTRL_C = '\x03'
const LEFT = '\x1b[D'
const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest('hex')
const isZero = (bytes) => bytes.every((b) => b === 0)
const PYTHON = which('python3')
const STTY = which('stty')

/** Runs `command` on a new pseudo-terminal, types `keys` once `waitFor` shows; returns what pty-run.py reports. */
function onTerminal (command, keys, waitFor = 'Password: ') {
  const res = spawnSync(PYTHON, [join(FIXTURES, 'pty-run.py'), waitFor, JSON.stringify(keys), ...command], { encoding: 'utf8', timeout: 60000 })
  expect(res.stderr).toBe('')
  const report = JSON.parse(res.stdout)
  report.screen = report.screen.replaceAll('\r', '')
  return report
}
const prompt = (keys, args = []) => onTerminal([process.execPath, join(FIXTURES, 'prompt-tty.cjs'), ...args], keys)

describe.skipIf(!PYTHON || !STTY)('fromPrompt on a real pseudo-terminal', () => {
  it('control: a program that leaves echo on shows what is typed, and the harness sees it', () => {
    const r = onTerminal(['sh', '-c', 'echo ready; sleep 1'], ['visible-when-echoed'], 'ready')
    expect(r.during.echo).toBe(true)
    expect(r.screen).toContain('visible-when-echoed')
  })

  it('echo is off while it waits, Backspace edits, Enter ends; the terminal is restored before the promise settles', () => {
    const r = prompt([...'s3cr3t-Pa55x', DEL, '\r']) // one key at a time
    expect(r.before).toEqual({ echo: true, icanon: true, isig: true })
    expect(r.during).toEqual({ echo: false, icanon: false, isig: false })
    expect(r.status).toBe(0)
    expect(r.screen).toBe(`Password: \nlength 11\nsha256 ${sha256('s3cr3t-Pa55')}\nraw after false\ntty echo true icanon true\n`)
    expect(r.after).toEqual(r.before)
  })

  it('a whole line in one chunk: Ctrl-U clears, Backspace removes a whole UTF-8 character, arrow keys are ignored', () => {
    const r = prompt([`wrong-guess${CTRL_U}päss${LEFT}wörd${DEL}${DEL}\r`])
    expect(r.status).toBe(0)
    expect(r.screen).not.toContain('wrong')
    expect(r.screen).not.toContain('päss')
    expect(r.screen).toContain(`length ${Buffer.byteLength('pässwö')}\nsha256 ${sha256('pässwö')}\n`)
  })

  it('Ctrl-C cancels with ERR_PROMPT_CANCELLED: exit status 130, nothing shown, the terminal restored', () => {
    const r = prompt(['half-typed', CTRL_C])
    expect(r.status).toBe(130)
    expect(r.signal).toBe(null)
    expect(r.during.echo).toBe(false)
    expect(r.screen).toBe('Password: \nerror ERR_PROMPT_CANCELLED\nraw after false\ntty echo true icanon true\n')
    expect(r.after).toEqual(r.before)
  })

  it('more than maxLength bytes: ERR_SECRET_TOO_LONG once Enter is pressed, the terminal restored', () => {
    const r = prompt(['abcdef\r'], ['4'])
    expect(r.status).toBe(1)
    expect(r.screen).toBe('Password: \nerror ERR_SECRET_TOO_LONG\nraw after false\ntty echo true icanon true\n')
  })

  it('no string of the password is on the V8 heap once it is read (a control string read the careless way is)', () => {
    const password = `pw-${randomBytes(12).toString('hex')}`
    const control = `ctl-${randomBytes(12).toString('hex')}`
    const dir = mkdtempSync(join(tmpdir(), 'prot-containers-prompt-'))
    try {
      const snapshot = join(dir, 'prompt.heapsnapshot')
      const controlPath = join(dir, 'control')
      writeFileSync(controlPath, control)
      const r = prompt([password.slice(0, 10), password.slice(10), '\r'], ['1024', snapshot, controlPath])
      expect(r.status).toBe(0)
      expect(r.screen).toContain(`sha256 ${sha256(password)}\n`)
      const snap = readFileSync(snapshot)
      expect(snap.length).toBeGreaterThan(1 << 20)
      expect(snap.includes(Buffer.from(control))).toBe(true)
      expect(snap.includes(Buffer.from(password))).toBe(false)
      // Each chunk as typed (a string made of a whole chunk would hold one of these).
      expect(snap.includes(Buffer.from(password.slice(0, 10)))).toBe(false)
      expect(snap.includes(Buffer.from(password.slice(10)))).toBe(false)
      expect(snap.includes(Buffer.from(password, 'utf16le'))).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('stdin that is not a terminal is refused with ERR_NOT_A_TTY', () => {
    const res = spawnSync(process.execPath, [join(FIXTURES, 'prompt-tty.cjs')], { input: 'secret\n', encoding: 'utf8', timeout: 30000 })
    expect(res.status).toBe(1)
    expect(res.stdout).toContain('error ERR_NOT_A_TTY\n')
  })
})

/** A stand-in for a tty.ReadStream: a PassThrough with isTTY and a recorded raw mode. */
class Terminal extends PassThrough {
  isTTY = true
  isRaw = false
  modes = []
  setRawMode (mode) {
    this.isRaw = mode
    this.modes.push(mode)
    return this
  }
}

/** A writable that keeps what was written. */
function screen () {
  const s = /** @type {PassThrough & { text: string }} */ (new PassThrough())
  s.text = ''
  s.on('data', (b) => { s.text += b })
  return s
}

describe('fromPrompt with a stand-in terminal', () => {
  it('wipes every chunk, hands bytes typed after Enter back, writes the prompt and a newline, restores the mode', async () => {
    const input = new Terminal()
    const output = screen()
    const chunks = [Buffer.from('hun'), Buffer.from(`ter2${DEL}2`), Buffer.from('\rnext')]
    const p = ProtKey.fromPrompt({ input, output, prompt: 'Key: ' })
    expect(input.isRaw).toBe(true)
    for (const c of chunks) input.write(c)
    const key = await p
    expect(key.protections().access).toBe('none')
    expect(key.equals(Buffer.from('hunter2'))).toBe(true)
    expect(isZero(chunks[0]) && isZero(chunks[1])).toBe(true)
    expect(isZero(chunks[2].subarray(0, 1))).toBe(true)
    expect(String(input.read())).toBe('next')
    expect(input.modes).toEqual([true, false])
    await new Promise((resolve) => setImmediate(resolve))
    expect(output.text).toBe('Key: \n')
    key.dispose()
  })

  it('a terminal already in raw mode stays in raw mode; output: null writes nothing', async () => {
    const input = new Terminal()
    input.isRaw = true
    const p = ProtBuf.fromPrompt({ input, output: null, allocator: pageA })
    input.write(Buffer.from('pw\n'))
    const pw = await p
    expect(pw.allocator).toBe(pageA)
    expect(input.modes).toEqual([true, true])
    pw.dispose()
  })

  it('the end of the input before Enter is ERR_UNEXPECTED_EOF; Enter alone is ERR_OUT_OF_RANGE; both restore the mode and wipe', async () => {
    const input = new Terminal()
    const chunk = Buffer.from('typed')
    const p = ProtBuf.fromPrompt({ input, output: null })
    input.end(chunk)
    await expectReject(p, 'ERR_UNEXPECTED_EOF')
    expect(isZero(chunk)).toBe(true)
    expect(input.modes).toEqual([true, false])

    const again = new Terminal()
    const q = ProtBuf.fromPrompt({ input: again, output: null })
    again.write(Buffer.from('ab\x08\x08\r'))
    await expectReject(q, 'ERR_OUT_OF_RANGE')
    expect(again.modes).toEqual([true, false])
  })

  it('Ctrl-C wipes the whole chunk, including what was typed after it', async () => {
    const input = new Terminal()
    const chunk = Buffer.from(`abc${CTRL_C}def`)
    const p = ProtBuf.fromPrompt({ input, output: null })
    input.write(chunk)
    await expectReject(p, 'ERR_PROMPT_CANCELLED')
    expect(isZero(chunk)).toBe(true)
    expect(input.read()).toBe(null)
  })

  it('a stream that is not a terminal: ERR_NOT_A_TTY before anything is read; with allowNonTty, one line', async () => {
    const pipe = new PassThrough()
    await expectReject(ProtBuf.fromPrompt({ input: pipe, output: null }), 'ERR_NOT_A_TTY')
    expect(pipe.listenerCount('data')).toBe(0)
    const output = screen()
    pipe.end(Buffer.from('from a pipe\nrest'))
    const pw = await ProtBuf.fromPrompt({ input: pipe, output, allowNonTty: true, prompt: '> ' })
    expect(pw.equals(Buffer.from('from a pipe'))).toBe(true)
    expect(String(pipe.read())).toBe('rest')
    await new Promise((resolve) => setImmediate(resolve))
    expect(output.text).toBe('> \n')
    pw.dispose()
  })

  it('bad options are typed errors, and the terminal is never touched', async () => {
    const input = new Terminal()
    await expectReject(ProtBuf.fromPrompt('opts'), 'ERR_INVALID_ARG_TYPE')
    await expectReject(ProtBuf.fromPrompt({ input, prompt: 5 }), 'ERR_INVALID_ARG_TYPE')
    await expectReject(ProtBuf.fromPrompt({ input: {} }), 'ERR_INVALID_ARG_TYPE')
    await expectReject(ProtBuf.fromPrompt({ input: null }), 'ERR_INVALID_ARG_TYPE')
    await expectReject(ProtBuf.fromPrompt({ input, output: {} }), 'ERR_INVALID_ARG_TYPE')
    await expectReject(ProtBuf.fromPrompt({ input, allowNonTty: 1 }), 'ERR_INVALID_ARG_TYPE')
    await expectReject(ProtBuf.fromPrompt({ input, maxLength: 0 }), 'ERR_OUT_OF_RANGE')
    await expectReject(ProtKey.fromPrompt({ input, allocator: pc.defaultBufAllocator() }), 'ERR_NOT_ISOLATED')
    const encoded = new Terminal()
    encoded.setEncoding('utf8')
    await expectReject(ProtBuf.fromPrompt({ input: encoded }), 'ERR_INVALID_ARG_TYPE')
    expect(input.modes).toEqual([])
    expect(input.listenerCount('data')).toBe(0)
  })

  it('a terminal that refuses raw mode: its error passes through, nothing is kept', async () => {
    const input = new Terminal()
    input.setRawMode = () => { throw Object.assign(new Error('not a terminal any more'), { code: 'EBADF' }) }
    await expectReject(ProtBuf.fromPrompt({ input, output: null }), 'EBADF')
    expect(input.listenerCount('data')).toBe(0)
  })

  it('an output that throws on the prompt: its error passes through, the terminal goes back to its mode', async () => {
    const input = new Terminal()
    const output = { write () { throw Object.assign(new Error('output closed'), { code: 'EPIPE' }) } }
    await expectReject(ProtBuf.fromPrompt({ input, output }), 'EPIPE')
    expect(input.modes).toEqual([true, false])
    expect(input.listenerCount('data')).toBe(0)
  })

  it('an empty chunk is harmless; an output that throws on the final newline rejects, keeps nothing, restores the mode', async () => {
    const input = new Terminal()
    let writes = 0
    const output = { write () { if (++writes === 2) throw Object.assign(new Error('output closed'), { code: 'EPIPE' }) } }
    const p = ProtBuf.fromPrompt({ input, output })
    input.emit('data', Buffer.alloc(0))
    input.write(Buffer.from('pw\r'))
    await expectReject(p, 'EPIPE')
    expect(input.modes).toEqual([true, false])
  })

  it('SealedKey.fromPrompt seals the password', async () => {
    const input = new Terminal()
    const p = pc.SealedKey.fromPrompt({ input, output: null })
    input.write(Buffer.from('sealed pw\r'))
    const k = await p
    expect(k.read((bytes) => Buffer.compare(bytes, Buffer.from('sealed pw')))).toBe(0)
    k.dispose()
  })
})
