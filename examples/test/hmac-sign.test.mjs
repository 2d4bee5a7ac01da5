// hmac-sign.mjs: the MACs it prints are the HMAC-SHA256 of each message with
// the key's bytes, recomputed here from a heap copy of the same key file.

import { createHmac, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { run } from './helpers.mjs'

const dir = mkdtempSync(join(tmpdir(), 'tarsjs-hmac-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function keyFile (bytes) {
  const path = join(dir, `key-${bytes.length}-${Math.random().toString(36).slice(2)}`)
  writeFileSync(path, bytes, { mode: 0o600 })
  return path
}

/** `hmac-sha256 <hex> <message>` lines, in order. */
function macLines (stdout) {
  return [...stdout.matchAll(/^hmac-sha256 ([0-9a-f]{64}) (.*)$/gm)].map((m) => ({ mac: m[1], message: m[2] }))
}

describe('hmac-sign.mjs', () => {
  it('signs with a key read from a file into a ProtKey: the MACs match a heap computation with the same bytes', () => {
    const key = randomBytes(32)
    const messages = ['hello', 'a second message', 'ünïcode ✓']
    const { status, stdout, stderr } = run('hmac-sign.mjs', ['--key-file', keyFile(key), ...messages])
    expect(stderr).toBe('')
    expect(status).toBe(0)
    const lines = macLines(stdout)
    expect(lines.map((l) => l.message)).toEqual(messages)
    for (const { mac, message } of lines) {
      expect(mac).toBe(createHmac('sha256', key).update(message, 'utf8').digest('hex'))
    }
    expect(stdout.match(/^ {2}verifies: true$/gm)).toHaveLength(3)
    expect(stdout).toContain('a tampered message with the same MAC is rejected: true')
    expect(stdout).toContain('key: ProtKey(32 bytes, no access) from ProtKey.fromFile(')
    expect(stdout).toContain('after signing, the key is back to: ProtKey(32 bytes, no access)')
    expect(stdout).toMatch(/locked true, no-dump true, guard pages true, memfd_secret (true|false), access 'none'/)
  })

  it('takes a key of any length (HMAC keys are not fixed-size)', () => {
    const key = randomBytes(100)
    const { status, stdout } = run('hmac-sign.mjs', ['--key-file', keyFile(key), 'msg'])
    expect(status).toBe(0)
    expect(macLines(stdout)).toEqual([{ mac: createHmac('sha256', key).update('msg').digest('hex'), message: 'msg' }])
    expect(stdout).toContain('ProtKey(100 bytes, no access)')
  })

  it('with no key file, signs with a fresh random key: two runs give different MACs for the same message', () => {
    const a = run('hmac-sign.mjs')
    const b = run('hmac-sign.mjs')
    expect(a.status).toBe(0)
    expect(b.status).toBe(0)
    expect(a.stdout).toContain('from ProtKey.random(32)')
    const [ma] = macLines(a.stdout)
    const [mb] = macLines(b.stdout)
    expect(ma.message).toBe('transfer 100 EUR to account 42')
    expect(ma.mac).not.toBe(mb.mac)
  })

  it('reports a missing key file with exit status 1 and no stack trace', () => {
    const { status, stdout, stderr } = run('hmac-sign.mjs', ['--key-file', join(dir, 'missing')])
    expect(status).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toMatch(/^hmac-sign: cannot load the key from .*missing: ENOENT/)
    expect(stderr).not.toContain('    at ')
  })
})
