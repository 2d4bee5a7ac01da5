// Signing with an HMAC key kept in a ProtKey.
//
//   node examples/hmac-sign.mjs [--key-file PATH] [MESSAGE...]
//
// The key lives in pages of its own that are locked in RAM, left out of core
// dumps and have no access at all except inside `key.read(fn)`, which opens a
// read-only window for the duration of one synchronous call. The MAC is
// computed through node:crypto inside that window; the key never becomes a
// string or a heap Buffer.
//
// Without --key-file a fresh random key is made (ProtKey.random). With it, the
// file's bytes are read straight into the key's pages (nothing on the V8 heap)
// and used as they are. Each MESSAGE (default: one example message) is signed
// and verified; a tampered copy of the first is shown to fail verification.
// Prints one line per message: `hmac-sha256 <hex> <message>`.

import { createHmac, timingSafeEqual } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { ProtKey } from '@tarsjs/prot-containers'

/** HMAC-SHA256 of `message` with the key: computed inside a read window. */
export function hmacSign (key, message) {
  return key.read((bytes) => createHmac('sha256', bytes).update(message).digest())
}

/** Verifies a MAC in constant time (the MAC itself is not secret). */
export function hmacVerify (key, message, mac) {
  const expected = hmacSign(key, message)
  return mac.byteLength === expected.byteLength && timingSafeEqual(mac, expected)
}

function main (argv) {
  let keyFile
  const messages = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--key-file') keyFile = argv[++i]
    else messages.push(argv[i])
  }
  if (keyFile === undefined && argv.includes('--key-file')) {
    console.error('usage: node hmac-sign.mjs [--key-file PATH] [MESSAGE...]')
    return 2
  }
  if (messages.length === 0) messages.push('transfer 100 EUR to account 42')

  let key
  try {
    key = keyFile === undefined ? ProtKey.random(32) : ProtKey.fromFile(keyFile)
  } catch (err) {
    console.error(`hmac-sign: cannot load the key from ${keyFile}: ${err.code ?? ''} ${err.message}`)
    return 1
  }
  // `using key = ...` would dispose it at the end of the block; Node 20 has no syntax for it, so try/finally.
  try {
    const p = key.protections()
    console.log(`key: ${key} from ${keyFile === undefined ? 'ProtKey.random(32)' : `ProtKey.fromFile(${JSON.stringify(keyFile)})`}`)
    console.log(`     locked ${p.locked}, no-dump ${p.noDump}, guard pages ${p.guardPages}, memfd_secret ${p.secretmem}, access '${p.access}'`)
    let ok = true
    for (const text of messages) {
      const message = Buffer.from(text, 'utf8')
      const mac = hmacSign(key, message)
      const verified = hmacVerify(key, message, mac)
      ok &&= verified
      console.log(`hmac-sha256 ${mac.toString('hex')} ${text}`)
      console.log(`  verifies: ${verified}`)
    }
    const original = hmacSign(key, Buffer.from(messages[0], 'utf8'))
    const tampered = Buffer.from(`${messages[0]}!`, 'utf8')
    const rejected = !hmacVerify(key, tampered, original)
    ok &&= rejected
    console.log(`a tampered message with the same MAC is rejected: ${rejected}`)
    console.log(`after signing, the key is back to: ${key}`)
    return ok ? 0 : 1
  } finally {
    key.dispose()
  }
}

const invokedDirectly = process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
if (invokedDirectly) process.exitCode = main(process.argv.slice(2))
