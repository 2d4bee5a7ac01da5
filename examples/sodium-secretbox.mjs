// Encrypting with sodium-native's crypto_secretbox, the key kept in a ProtKey.
//
//   node examples/sodium-secretbox.mjs [--key-file PATH] [MESSAGE]
//
// The 32-byte key is random, or read from --key-file straight into a ProtKey.
// MESSAGE (default: an example) is sealed with crypto_secretbox_easy inside a
// read window: libsodium reads the key where it lives, in the ProtKey's own
// pages. The box is opened again with crypto_secretbox_open_easy, the
// plaintext written straight into a ProtBuf (never a heap Buffer), and a box
// with one flipped bit is shown to be refused. Prints the nonce and the box in
// hex, then the checks.

import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import sodium from 'sodium-native'
import { ProtBuf, ProtKey } from '@tarsjs/prot-containers'

/** nonce || crypto_secretbox_easy(message) with the key, inside a read window. */
export function seal (key, message) {
  const box = Buffer.alloc(sodium.crypto_secretbox_NONCEBYTES + message.byteLength + sodium.crypto_secretbox_MACBYTES)
  const nonce = box.subarray(0, sodium.crypto_secretbox_NONCEBYTES)
  sodium.randombytes_buf(nonce)
  key.read((k) => sodium.crypto_secretbox_easy(box.subarray(nonce.byteLength), message, nonce, k))
  return box
}

/** Opens `nonce || box` into a new ProtBuf, or returns null when it does not authenticate. */
export function open (key, sealed) {
  const nonce = sealed.subarray(0, sodium.crypto_secretbox_NONCEBYTES)
  const box = sealed.subarray(nonce.byteLength)
  const length = box.byteLength - sodium.crypto_secretbox_MACBYTES
  if (length < 1) return null
  const plain = ProtBuf.alloc(length)
  const ok = key.read((k) => sodium.crypto_secretbox_open_easy(plain.bytes, box, nonce, k))
  if (ok) return plain
  plain.dispose()
  return null
}

function main () {
  const argv = process.argv.slice(2)
  let keyFile
  const rest = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--key-file' && i + 1 < argv.length) keyFile = argv[++i]
    else rest.push(argv[i])
  }
  if (rest.length > 1 || rest.some((a) => a.startsWith('--'))) {
    console.error('usage: node sodium-secretbox.mjs [--key-file PATH] [MESSAGE]')
    return 2
  }
  const message = Buffer.from(rest[0] ?? 'meet at the usual place at 9', 'utf8')
  const key = keyFile === undefined ? ProtKey.random(sodium.crypto_secretbox_KEYBYTES) : ProtKey.fromFile(keyFile)
  try {
    if (key.byteLength !== sodium.crypto_secretbox_KEYBYTES) {
      console.error(`sodium-secretbox: the key must be ${sodium.crypto_secretbox_KEYBYTES} bytes, got ${key.byteLength}`)
      return 1
    }
    const sealed = seal(key, message)
    console.log(`key:       ${key}`)
    console.log(`nonce:     ${sealed.subarray(0, sodium.crypto_secretbox_NONCEBYTES).toString('hex')}`)
    console.log(`box:       ${sealed.subarray(sodium.crypto_secretbox_NONCEBYTES).toString('hex')}`)

    const plain = open(key, sealed)
    const same = plain !== null && plain.equals(message)
    console.log(`opened into ${plain}: ${same ? 'the same message' : 'NOT the message'}`)
    plain?.dispose()

    const tampered = Buffer.from(sealed)
    tampered[tampered.length - 1] ^= 1
    const refused = open(key, tampered) === null
    console.log(`one flipped bit: ${refused ? 'refused' : 'ACCEPTED'}`)
    return same && refused ? 0 : 1
  } finally {
    key.dispose()
  }
}

const invokedDirectly = process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
if (invokedDirectly) process.exitCode = main()
