// kdf-vault.mjs: a vault created from a password and a secret (two lines on a
// pipe) holds neither; it opens with the password to exactly the secret (its
// SHA-256), is refused with another password or a changed file, and opens
// with the password typed on a terminal (echo off).

import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { example, hasScript, run, runInPty, tempFiles } from './helpers.mjs'

const fileWith = tempFiles('tarsjs-vault-')
const sha256 = (text) => createHash('sha256').update(text).digest('hex')
const SECRET = 'sk_live_51HxRvT2eZvKYlo2C'

function create (password, secret) {
  const vault = fileWith('')
  const r = run('kdf-vault.mjs', ['create', vault], { input: `${password}\n${secret}\n` })
  expect(r.stderr).toBe('Vault password: \nSecret to store: \n')
  expect(r.stdout).toBe(`stored ${Buffer.byteLength(secret)} bytes in ${vault}\n`)
  expect(r.status).toBe(0)
  return vault
}

describe('kdf-vault.mjs', () => {
  it('create then open: the vault holds neither the password nor the secret, and opens to the secret', () => {
    const vault = create('correct horse battery staple', SECRET)
    const text = readFileSync(vault, 'utf8')
    expect(text).not.toContain('correct horse')
    expect(text).not.toContain(SECRET)
    expect(text).not.toContain(Buffer.from(SECRET).toString('hex'))
    const record = JSON.parse(text)
    expect(record).toMatchObject({ version: 1, kdf: 'scryptsalsa208sha256' })
    expect(record.salt).toMatch(/^[0-9a-f]{64}$/)

    const r = run('kdf-vault.mjs', ['open', vault], { input: 'correct horse battery staple\n' })
    expect(r.status).toBe(0)
    expect(r.stdout).toBe(`opened: ${SECRET.length} bytes into ProtBuf(${SECRET.length} bytes, read-write), sha256 ${sha256(SECRET)}\n`)
  })

  it('another password, or one changed byte in the box, is refused (exit 1)', () => {
    const vault = create('pw-one', SECRET)
    const wrong = run('kdf-vault.mjs', ['open', vault], { input: 'pw-two\n' })
    expect(wrong.status).toBe(1)
    expect(wrong.stdout).toBe('refused: wrong password, or the vault file was changed\n')
    const record = JSON.parse(readFileSync(vault, 'utf8'))
    record.box = (record.box[0] === '0' ? '1' : '0') + record.box.slice(1)
    writeFileSync(vault, JSON.stringify(record))
    expect(run('kdf-vault.mjs', ['open', vault], { input: 'pw-one\n' }).status).toBe(1)
  })

  it.skipIf(!hasScript)('opens with the password typed on a terminal: nothing typed is shown', async () => {
    const vault = create('typed on a tty', SECRET)
    const { code, screen } = await runInPty([process.execPath, example('kdf-vault.mjs'), 'open', vault], {
      waitFor: 'Vault password: ',
      keys: [...'typed on a ttyX', '\x7f', '\r']
    })
    expect(code).toBe(0)
    expect(screen).not.toContain('typed on')
    expect(screen.replaceAll('\r', '')).toContain(`sha256 ${sha256(SECRET)}\n`)
  })
})
