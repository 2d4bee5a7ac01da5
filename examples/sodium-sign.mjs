// Signing with sodium-native using keys kept in ProtKeys, with no copy.
//
//   node examples/sodium-sign.mjs [--key-file PATH] [MESSAGE]
//
// sodium-native's functions take any Uint8Array and read (or write) its memory
// in place. Inside a ProtKey window, the Uint8Array *is* the key's protected
// pages, so libsodium works on the key where it lives: nothing is copied to
// the V8 heap, and outside the window the pages have no access at all.
//
// A 32-byte master key (random, or read from --key-file straight into a
// ProtKey) gives two subkeys with crypto_kdf_derive_from_key, each written
// directly into a ProtKey of its own inside a write window:
//   1. an Ed25519 seed → crypto_sign_seed_keypair writes the 64-byte secret
//      key into another ProtKey; the message is signed with
//      crypto_sign_detached inside a read window, and checked with
//      crypto_sign_verify_detached against the public key;
//   2. a MAC key → crypto_generichash (keyed BLAKE2b-256) of the message.
// Only public values are printed: the public key, the signature, the MAC.

import { ProtKey } from '@tarsjs/prot-containers'

let sodium
try {
  sodium = (await import('sodium-native')).default
} catch {
  console.error('sodium-sign: sodium-native is not installed (pnpm add sodium-native@4.3.1)')
  process.exit(2)
}

const CONTEXT = Buffer.from('tarsjsEx') // crypto_kdf_CONTEXTBYTES = 8: what the subkeys are for
const SIGN_SEED_ID = 1
const MAC_KEY_ID = 2

const argv = process.argv.slice(2)
let keyFile
const rest = []
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--key-file' && i + 1 < argv.length) keyFile = argv[++i]
  else rest.push(argv[i])
}
if (rest.length > 1 || rest.some((a) => a.startsWith('--'))) {
  console.error('usage: node sodium-sign.mjs [--key-file PATH] [MESSAGE]')
  process.exit(2)
}
const message = Buffer.from(rest[0] ?? 'release v1.2.3: sha256 of the tarball is in the notes', 'utf8')

const master = keyFile === undefined ? ProtKey.random(sodium.crypto_kdf_KEYBYTES) : ProtKey.fromFile(keyFile)
const keys = [master]
try {
  if (master.byteLength !== sodium.crypto_kdf_KEYBYTES) {
    throw new Error(`the master key must be ${sodium.crypto_kdf_KEYBYTES} bytes, got ${master.byteLength}`)
  }

  /** A subkey derived from the master key, written straight into a new ProtKey. */
  const derive = (id, length) => {
    const sub = ProtKey.alloc(length)
    keys.push(sub)
    sub.write((out) => master.read((m) => sodium.crypto_kdf_derive_from_key(out, id, CONTEXT, m)))
    return sub
  }

  // 1. Ed25519: the secret key is made inside its ProtKey and used there.
  const seed = derive(SIGN_SEED_ID, sodium.crypto_sign_SEEDBYTES)
  const secretKey = ProtKey.alloc(sodium.crypto_sign_SECRETKEYBYTES)
  keys.push(secretKey)
  const publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  secretKey.write((sk) => seed.read((s) => sodium.crypto_sign_seed_keypair(publicKey, sk, s)))
  seed.dispose() // the seed is no longer needed: wiped now

  const signature = Buffer.alloc(sodium.crypto_sign_BYTES)
  const inPlace = secretKey.read((sk) => {
    sodium.crypto_sign_detached(signature, message, sk)
    // What libsodium was given: a view of exactly the key's 64 bytes, no copy.
    return sk.byteOffset === 0 && sk.buffer.byteLength === sodium.crypto_sign_SECRETKEYBYTES
  })
  const verifies = sodium.crypto_sign_verify_detached(signature, message, publicKey)

  // 2. Keyed BLAKE2b with the second subkey.
  const macKey = derive(MAC_KEY_ID, sodium.crypto_generichash_KEYBYTES)
  const mac = Buffer.alloc(sodium.crypto_generichash_BYTES)
  macKey.read((k) => sodium.crypto_generichash(mac, message, k))

  console.log(`master key:  ${master} from ${keyFile === undefined ? 'ProtKey.random(32)' : `ProtKey.fromFile(${JSON.stringify(keyFile)})`}`)
  console.log(`secret key:  ${secretKey}, memfd_secret ${secretKey.protections().secretmem}, locked ${secretKey.protections().locked}`)
  console.log(`message:     ${message.toString('utf8')}`)
  console.log(`public key:  ${publicKey.toString('hex')}`)
  console.log(`signature:   ${signature.toString('hex')}`)
  console.log(`  libsodium read the secret key in place (a view of its own ${sodium.crypto_sign_SECRETKEYBYTES} bytes): ${inPlace}`)
  console.log(`  crypto_sign_verify_detached: ${verifies}`)
  console.log(`generichash: ${mac.toString('hex')}`)
  console.log('  (keyed BLAKE2b-256 with the second subkey)')
  process.exitCode = verifies && inPlace ? 0 : 1
} catch (err) {
  console.error(`sodium-sign: ${err.message}`)
  process.exitCode = 1
} finally {
  for (const key of keys) key.dispose()
}
