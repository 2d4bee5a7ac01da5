// A vault file unlocked by a password: scrypt derives the key straight into
// protected memory, crypto_secretbox seals the secret.
//
//   node examples/kdf-vault.mjs create VAULT   (asks for a password, then the secret to store)
//   node examples/kdf-vault.mjs open VAULT     (asks for the password; prints the secret's length and SHA-256)
//
// The password and the secret are read with ProtBuf.fromPrompt: on a terminal
// with echo off, or one line each from a pipe (allowNonTty), never as
// strings. The key is derived with scrypt (libsodium's
// crypto_pwhash_scryptsalsa208sha256, interactive limits) from the password's
// protected bytes into a ProtKey's write window: neither the password nor the
// key is ever on the JavaScript heap. The vault file holds only the KDF
// parameters, the salt, the nonce and the box. Opening writes the plaintext
// straight into a ProtBuf; a wrong password (or a changed file) is refused.

import { createHash } from 'node:crypto'
import { readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import sodium from 'sodium-native'
import { ProtBuf, ProtKey } from '@tarsjs/prot-containers'

const OPSLIMIT = sodium.crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_INTERACTIVE
const MEMLIMIT = sodium.crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_INTERACTIVE

/** A secretbox key derived from a password (a ProtBuf) with scrypt, written into a new ProtKey. */
export function deriveKey (password, salt, opslimit = OPSLIMIT, memlimit = MEMLIMIT) {
  const key = ProtKey.alloc(sodium.crypto_secretbox_KEYBYTES)
  try {
    key.write((out) => sodium.crypto_pwhash_scryptsalsa208sha256(out, password.bytes, salt, opslimit, memlimit))
  } catch (err) {
    key.dispose()
    throw err
  }
  return key
}

/** The vault record for `secret` (a ProtBuf) under `password` (a ProtBuf). */
export function lock (password, secret) {
  const salt = Buffer.alloc(sodium.crypto_pwhash_scryptsalsa208sha256_SALTBYTES)
  const nonce = Buffer.alloc(sodium.crypto_secretbox_NONCEBYTES)
  sodium.randombytes_buf(salt)
  sodium.randombytes_buf(nonce)
  const box = Buffer.alloc(secret.byteLength + sodium.crypto_secretbox_MACBYTES)
  const key = deriveKey(password, salt)
  try {
    key.read((k) => sodium.crypto_secretbox_easy(box, secret.bytes, nonce, k))
  } finally {
    key.dispose()
  }
  const hex = (b) => b.toString('hex')
  return { version: 1, kdf: 'scryptsalsa208sha256', opslimit: OPSLIMIT, memlimit: MEMLIMIT, salt: hex(salt), nonce: hex(nonce), box: hex(box) }
}

/** Opens a vault record into a new ProtBuf, or returns null for a wrong password or a changed record. */
export function unlock (password, record) {
  const box = Buffer.from(record.box, 'hex')
  if (record.version !== 1 || box.byteLength <= sodium.crypto_secretbox_MACBYTES) return null
  const key = deriveKey(password, Buffer.from(record.salt, 'hex'), record.opslimit, record.memlimit)
  const secret = ProtBuf.alloc(box.byteLength - sodium.crypto_secretbox_MACBYTES)
  try {
    const ok = key.read((k) => sodium.crypto_secretbox_open_easy(secret.bytes, box, Buffer.from(record.nonce, 'hex'), k))
    if (ok) return secret
  } finally {
    key.dispose()
  }
  secret.dispose()
  return null
}

const ask = (prompt) => ProtBuf.fromPrompt({ prompt, allowNonTty: true, maxLength: 4096 })

async function main () {
  const [command, file, ...extra] = process.argv.slice(2)
  if ((command !== 'create' && command !== 'open') || file === undefined || extra.length > 0) {
    console.error('usage: node kdf-vault.mjs create|open VAULT')
    return 2
  }
  const password = await ask('Vault password: ')
  try {
    if (command === 'create') {
      const secret = await ask('Secret to store: ')
      try {
        writeFileSync(file, `${JSON.stringify(lock(password, secret))}\n`, { mode: 0o600 })
        console.log(`stored ${secret.byteLength} bytes in ${file}`)
      } finally {
        secret.dispose()
      }
      return 0
    }
    const secret = unlock(password, JSON.parse(readFileSync(file, 'utf8')))
    if (secret === null) {
      console.log('refused: wrong password, or the vault file was changed')
      return 1
    }
    try {
      console.log(`opened: ${secret.byteLength} bytes into ${secret}, sha256 ${createHash('sha256').update(secret.bytes).digest('hex')}`)
    } finally {
      secret.dispose()
    }
    return 0
  } finally {
    password.dispose()
  }
}

const invokedDirectly = process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
if (invokedDirectly) process.exitCode = await main()
