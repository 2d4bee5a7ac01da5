// sodium-sign.mjs: the signature verifies with sodium-native against the
// printed public key; with a known master key, the public key, signature and
// keyed BLAKE2b are exactly what libsodium computes from heap copies.

import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sodium from 'sodium-native'
import { afterAll, describe, expect, it } from 'vitest'
import { run } from './helpers.mjs'

const dir = mkdtempSync(join(tmpdir(), 'tarsjs-sodium-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function field (stdout, name) {
  const m = new RegExp(`^${name}: +(.*)$`, 'm').exec(stdout)
  return m?.[1]
}

function verify (stdout) {
  const publicKey = Buffer.from(field(stdout, 'public key'), 'hex')
  const signature = Buffer.from(field(stdout, 'signature'), 'hex')
  const message = Buffer.from(field(stdout, 'message'), 'utf8')
  return { publicKey, signature, message, ok: sodium.crypto_sign_verify_detached(signature, message, publicKey) }
}

/** What sodium-sign.mjs must compute, done here on ordinary heap buffers. */
function expected (master, text) {
  const ctx = Buffer.from('tarsjsEx')
  const seed = Buffer.alloc(32)
  sodium.crypto_kdf_derive_from_key(seed, 1, ctx, master)
  const publicKey = Buffer.alloc(32)
  const secretKey = Buffer.alloc(64)
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed)
  const signature = Buffer.alloc(64)
  sodium.crypto_sign_detached(signature, Buffer.from(text), secretKey)
  const macKey = Buffer.alloc(32)
  sodium.crypto_kdf_derive_from_key(macKey, 2, ctx, master)
  const mac = Buffer.alloc(32)
  sodium.crypto_generichash(mac, Buffer.from(text), macKey)
  return { publicKey: publicKey.toString('hex'), signature: signature.toString('hex'), mac: mac.toString('hex') }
}

describe('sodium-sign.mjs', () => {
  it('signs with a random master key; the signature verifies with sodium-native, a tampered message does not', () => {
    const { status, stdout, stderr } = run('sodium-sign.mjs')
    expect(stderr).toBe('')
    expect(status).toBe(0)
    const { publicKey, signature, message, ok } = verify(stdout)
    expect(publicKey).toHaveLength(32)
    expect(signature).toHaveLength(64)
    expect(ok).toBe(true)
    expect(sodium.crypto_sign_verify_detached(signature, Buffer.concat([message, Buffer.from('!')]), publicKey)).toBe(false)
    expect(stdout).toContain('libsodium read the secret key in place (a view of its own 64 bytes): true')
    expect(stdout).toContain('crypto_sign_verify_detached: true')
    expect(stdout).toMatch(/^secret key: +ProtKey\(64 bytes, no access\)/m)
  })

  it('with a known master key, computes exactly what libsodium computes from heap copies', () => {
    const master = randomBytes(32)
    const path = join(dir, 'master.key')
    writeFileSync(path, master, { mode: 0o600 })
    const text = 'ship it'
    const { status, stdout } = run('sodium-sign.mjs', ['--key-file', path, text])
    expect(status).toBe(0)
    const want = expected(master, text)
    expect(field(stdout, 'public key')).toBe(want.publicKey)
    expect(field(stdout, 'signature')).toBe(want.signature)
    expect(field(stdout, 'generichash')).toBe(want.mac)
    expect(verify(stdout).ok).toBe(true)
  })

  it('refuses a master key of the wrong length', () => {
    const path = join(dir, 'short.key')
    writeFileSync(path, randomBytes(16), { mode: 0o600 })
    const { status, stderr } = run('sodium-sign.mjs', ['--key-file', path])
    expect(status).toBe(1)
    expect(stderr).toContain('sodium-sign: the master key must be 32 bytes, got 16')
  })
})
