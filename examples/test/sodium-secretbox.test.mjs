// sodium-secretbox.mjs: the printed nonce and box open with sodium-native
// under the key file's bytes (heap copies, here in the test) to exactly the
// message; another key does not open them.

import { randomBytes } from 'node:crypto'
import sodium from 'sodium-native'
import { describe, expect, it } from 'vitest'
import { run, tempFiles } from './helpers.mjs'

const fileWith = tempFiles('tarsjs-secretbox-')
const field = (stdout, name) => new RegExp(`^${name}: +(.*)$`, 'm').exec(stdout)?.[1]

function openWith (key, stdout) {
  const nonce = Buffer.from(field(stdout, 'nonce'), 'hex')
  const box = Buffer.from(field(stdout, 'box'), 'hex')
  const plain = Buffer.alloc(box.byteLength - sodium.crypto_secretbox_MACBYTES)
  return sodium.crypto_secretbox_open_easy(plain, box, nonce, key) ? plain.toString('utf8') : null
}

describe('sodium-secretbox.mjs', () => {
  it('seals with the key in a ProtKey; the box opens with that key only; a flipped bit is refused', () => {
    const key = randomBytes(32)
    const { status, stdout, stderr } = run('sodium-secretbox.mjs', ['--key-file', fileWith(key), 'launch codes: 0000'])
    expect(stderr).toBe('')
    expect(status).toBe(0)
    expect(field(stdout, 'key')).toBe('ProtKey(32 bytes, no access)')
    expect(openWith(key, stdout)).toBe('launch codes: 0000')
    expect(openWith(randomBytes(32), stdout)).toBe(null)
    expect(stdout).toContain('opened into ProtBuf(18 bytes, read-write): the same message\n')
    expect(stdout).toContain('one flipped bit: refused\n')
  })

  it('two runs use fresh nonces; a key of the wrong length is refused', () => {
    const key = fileWith(randomBytes(32))
    const a = run('sodium-secretbox.mjs', ['--key-file', key])
    const b = run('sodium-secretbox.mjs', ['--key-file', key])
    expect(field(a.stdout, 'nonce')).not.toBe(field(b.stdout, 'nonce'))
    const bad = run('sodium-secretbox.mjs', ['--key-file', fileWith(randomBytes(31))])
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain('the key must be 32 bytes, got 31')
  })
})
