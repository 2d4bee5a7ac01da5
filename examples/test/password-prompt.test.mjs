// password-prompt.mjs under a pseudo-terminal (script(1)), typed into
// through the terminal: nothing typed is ever shown, and the printed length
// and SHA-256 are those of exactly the password left after editing.

import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { example, hasScript, run, runInPty } from './helpers.mjs'

const DEL = '\x7f'
const CTRL_U = '\x15'
const CTRL_C = '\x03'
const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest('hex')
const prompt = (keys, options = {}) =>
  runInPty([process.execPath, example('password-prompt.mjs')], { waitFor: 'Password: ', keys, ...options })

/** Every line the terminal showed, without the carriage returns a terminal adds. */
const plain = (screen) => screen.replaceAll('\r', '')

describe.skipIf(!hasScript)('password-prompt.mjs under a pseudo-terminal', () => {
  it('the harness sees what a terminal echoes when a program leaves echo on', async () => {
    // A control: without raw mode the terminal echoes typed text, and this test harness would see it.
    const { screen } = await runInPty(['sleep', '0.5'], { keys: ['visible-when-echoed'] })
    expect(screen).toContain('visible-when-echoed')
  })

  it('reads a password typed key by key, with Backspace, never echoes it, and hashes exactly what is left', async () => {
    const typed = [...'s3cr3t-Pa55x', DEL, '\r'] // one key at a time, as typed
    const { code, screen } = await prompt(typed)
    expect(code).toBe(0)
    const out = plain(screen)
    expect(out).toContain('Password: \n')
    expect(out).not.toContain('s3cr3t')
    expect(out).not.toContain('Pa55')
    expect(out).toContain('length: 11 bytes\n')
    expect(out).toContain(`sha256: ${sha256('s3cr3t-Pa55')}\n`)
    expect(out).not.toContain(sha256('s3cr3t-Pa55x'))
    expect(out).toMatch(/stored in: ProtBuf\(11 bytes, read-write\) \(locked (true|false), no-dump true\)/)
  })

  it('takes a whole line in one chunk; Ctrl-U clears the line; Backspace removes a whole UTF-8 character', async () => {
    const { code, screen } = await prompt([`wrong-guess${CTRL_U}pässwörd${DEL}${DEL}\r`])
    expect(code).toBe(0)
    const out = plain(screen)
    expect(out).not.toContain('wrong-guess')
    expect(out).not.toContain('pässw')
    const password = 'pässwö' // 'r' then 'd' removed; 'ö' is two bytes
    expect(out).toContain(`length: ${Buffer.byteLength(password)} bytes\n`)
    expect(out).toContain(`sha256: ${sha256(password)}\n`)
  })

  it('Ctrl-C aborts with exit status 130 and prints no hash', async () => {
    const { code, screen } = await prompt(['abc', CTRL_C, 'def\r'])
    expect(code).toBe(130)
    const out = plain(screen)
    expect(out).toContain('aborted: nothing was kept (the input buffer was wiped)')
    expect(out).not.toContain('sha256:')
    expect(out).not.toContain('abc')
  })

  it('an empty line gives no password and exit status 1', async () => {
    const { code, screen } = await prompt(['\r'])
    expect(code).toBe(1)
    expect(plain(screen)).toContain('password-prompt: no password entered')
  })
})

describe('password-prompt.mjs without a terminal', () => {
  it('refuses to read a pipe, with exit status 2', () => {
    const { status, stdout, stderr } = run('password-prompt.mjs', [], { input: 'piped-secret\n' })
    expect(status).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toContain('password-prompt: stdin is not a terminal')
    expect(stderr).not.toContain('piped-secret')
  })
})
