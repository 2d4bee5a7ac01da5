// jose-jwt.mjs: the HS256 token verifies with the key file's bytes and not
// with the redacted text of a ProtKey; the EdDSA token verifies with the
// public key of the PKCS#8 file the example read, and the printed `x` is that
// key's. Checked here with jose and node:crypto on heap copies of the keys.

import { createPublicKey, createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import { exportJWK, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { run, tempFiles } from './helpers.mjs'

const fileWith = tempFiles('tarsjs-jose-')
const line = (stdout, prefix) => new RegExp(`^${prefix} (.*)$`, 'm').exec(stdout)?.[1]

describe('jose-jwt.mjs', () => {
  it('signs HS256 and EdDSA tokens with keys read into ProtKeys; each verifies with the matching key only', async () => {
    const hmac = randomBytes(32)
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const der = privateKey.export({ format: 'der', type: 'pkcs8' })
    const { status, stdout, stderr } = run('jose-jwt.mjs', ['--hmac-key-file', fileWith(hmac), '--ed25519-key-file', fileWith(der), 'alice'])
    expect(stderr).toBe('')
    expect(status).toBe(0)

    const hs = line(stdout, 'HS256')
    const { payload, protectedHeader } = await jwtVerify(hs, createSecretKey(hmac), { algorithms: ['HS256'] })
    expect(protectedHeader.alg).toBe('HS256')
    expect(payload).toMatchObject({ sub: 'alice', scope: 'read:reports' })
    expect(payload.exp - payload.iat).toBe(7200)
    await expect(jwtVerify(hs, createSecretKey(randomBytes(32)))).rejects.toThrow(/signature verification failed/)
    // The redacted text of the container is never the key.
    await expect(jwtVerify(hs, createSecretKey(Buffer.from('ProtKey(32 bytes, no access)')))).rejects.toThrow(/signature verification failed/)

    const ed = line(stdout, 'EdDSA')
    expect((await jwtVerify(ed, publicKey, { algorithms: ['EdDSA'] })).payload.sub).toBe('alice')
    const other = generateKeyPairSync('ed25519').publicKey
    await expect(jwtVerify(ed, other)).rejects.toThrow(/signature verification failed/)
    expect(line(stdout, 'Ed25519 public key x:')).toBe((await exportJWK(createPublicKey(privateKey))).x)
    expect(stdout).toContain('verified HS256: sub=alice with the key in ProtKey(32 bytes, no access)\n')
    expect(stdout).toContain(`the private key is in ProtKey(${der.byteLength} bytes, no access)\n`)
  })

  it('without key files: fresh keys, and both tokens verified by the example itself', () => {
    const { status, stdout } = run('jose-jwt.mjs')
    expect(status).toBe(0)
    expect(stdout).toMatch(/^HS256 [\w-]+\.[\w-]+\.[\w-]+$/m)
    expect(stdout).toMatch(/^verified EdDSA: sub=user-42 /m)
  })

  it('a file that is not a PKCS#8 key fails with an error from node:crypto, and exits non-zero', () => {
    const { status, stderr } = run('jose-jwt.mjs', ['--ed25519-key-file', fileWith(randomBytes(48))])
    expect(status).not.toBe(0)
    expect(stderr).toMatch(/ERR_OSSL|unsupported|decoder/i)
  })
})
