// key-from-fd.mjs: a key handed over as fd 3, as stdin (a pipe) or as a
// path ends up in a ProtKey; its printed check value is the HMAC-SHA256 of
// the check message with exactly the bytes that were sent, recomputed here.

import { createHmac, randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { example, hasScript, run, runInPty } from './helpers.mjs'

const dir = mkdtempSync(join(tmpdir(), 'tarsjs-fd-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const checkValue = (key) => createHmac('sha256', key).update('tarsjs key check value').digest('hex')
const printedCheck = (stdout) => /^check value: ([0-9a-f]{64})$/m.exec(stdout)?.[1]

function keyFile (bytes, mode = 0o600) {
  const path = join(dir, `key-${Math.random().toString(36).slice(2)}`)
  writeFileSync(path, bytes, { mode })
  return path
}

describe('key-from-fd.mjs', () => {
  it('reads fd 3 opened by the parent into a ProtKey, and closes it', () => {
    const key = randomBytes(32)
    const fd = openSync(keyFile(key), 'r')
    try {
      const { status, stdout, stderr } = run('key-from-fd.mjs', ['--fd', '3'], { stdio: ['ignore', 'pipe', 'pipe', fd] })
      expect(stderr).toBe('')
      expect(status).toBe(0)
      expect(stdout).toContain('read 32 bytes from fd 3 (a regular file) into ProtKey(32 bytes, no access)')
      expect(stdout).toMatch(/protections: locked (true|false), no-dump true, guard pages true, memfd_secret (true|false), access 'none'/)
      expect(printedCheck(stdout)).toBe(checkValue(key))
      expect(stdout).not.toContain('warning:')
    } finally {
      closeSync(fd)
    }
  })

  it('reads a pipe on stdin (--fd 0), binary bytes as they are', () => {
    const key = Buffer.concat([randomBytes(40), Buffer.from([0, 10, 13, 0xff])])
    const { status, stdout } = run('key-from-fd.mjs', ['--fd', '0'], { input: key })
    expect(status).toBe(0)
    // spawnSync's input arrives through a socket pair; from a shell, `|` makes it a pipe.
    expect(stdout).toMatch(/read 44 bytes from fd 0 \(a (pipe|socket)\) into ProtKey\(44 bytes, no access\)/)
    expect(printedCheck(stdout)).toBe(checkValue(key))
  })

  it('opens a path, and warns when the file is readable by others', () => {
    const key = randomBytes(32)
    const loose = run('key-from-fd.mjs', [keyFile(key, 0o644)])
    expect(loose.status).toBe(0)
    expect(loose.stdout).toContain('warning: the key file is readable by others (mode 644); chmod 600 it')
    expect(printedCheck(loose.stdout)).toBe(checkValue(key))
    const tight = run('key-from-fd.mjs', [keyFile(key, 0o600)])
    expect(tight.stdout).not.toContain('warning:')
    expect(printedCheck(tight.stdout)).toBe(checkValue(key))
  })

  it('without arguments makes a throwaway key file, reads it and deletes it', () => {
    const { status, stdout } = run('key-from-fd.mjs')
    expect(status).toBe(0)
    const path = /wrote a throwaway random key to (\S+)/.exec(stdout)?.[1]
    expect(path).toBeDefined()
    expect(existsSync(path)).toBe(false)
    expect(stdout).toContain('read 32 bytes from fd')
    expect(printedCheck(stdout)).toMatch(/^[0-9a-f]{64}$/)
  })

  it('reports an empty input, a missing file, a bad descriptor and a device with exit status 1', () => {
    const empty = run('key-from-fd.mjs', ['--fd', '0'], { input: '' })
    expect(empty.status).toBe(1)
    expect(empty.stderr).toContain('key-from-fd: cannot read a key from fd 0: ERR_OUT_OF_RANGE The secret is empty')
    const missing = run('key-from-fd.mjs', [join(dir, 'missing')])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/cannot open .*missing: ENOENT/)
    const bad = run('key-from-fd.mjs', ['--fd', '99'])
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain('key-from-fd: cannot read a key from fd 99: EBADF')
    const devNull = openSync('/dev/null', 'r')
    try {
      const device = run('key-from-fd.mjs', ['--fd', '3'], { stdio: ['ignore', 'pipe', 'pipe', devNull] })
      expect(device.status).toBe(1)
      expect(device.stderr).toContain('key-from-fd: fd 3 is not a file, a pipe or a socket')
    } finally {
      closeSync(devNull)
    }
    expect(run('key-from-fd.mjs', ['--fd', 'x']).status).toBe(2)
  })

  it.skipIf(!hasScript)('refuses a terminal, where a typed key would be echoed', async () => {
    const { code, screen } = await runInPty([process.execPath, example('key-from-fd.mjs'), '--fd', '0'])
    expect(code).toBe(2)
    expect(screen).toContain('fd 0 is a terminal, where a typed key would be echoed; use password-prompt.mjs')
  })
})
