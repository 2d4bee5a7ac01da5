// Hundreds of API tokens kept sealed under a small memlock limit.
//
//   node examples/sealed-tokens.mjs [COUNT]          default 500 tokens
//   setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock -- \
//     prlimit --memlock=65536 node examples/sealed-tokens.mjs 500
//
// A container limit of 64 KiB of locked memory fits about five ProtKeys
// (each owns guarded, locked pages). A SealedKey costs no locked memory at
// rest: its bytes are a ChaCha20-Poly1305 ciphertext in an ordinary slot,
// under one sealing key per thread that lives in memfd_secret memory (split
// in two halves). Only while a window is open does a token exist in plain,
// in locked, no-dump memory that is wiped when the window closes.
//
// Each token here is a 32-byte request-signing key. A request is signed with
// libsodium's HMAC-SHA512-256 (crypto_auth) inside a read window: libsodium
// reads the token where it lies, so no copy of it reaches the JavaScript heap
// or OpenSSL. (Putting a token into an HTTP header would make a string of it:
// that copy is yours to avoid.)
//
// It prints the count, what the kernel says is locked, each token's
// protections, a signed request checked against its token, the result of
// replacing the sealing key, and purges everything on exit and on signals.

import { readFileSync } from 'node:fs'
import sodium from 'sodium-native'
import { SealedKey, catchSignals, purge } from '@tarsjs/prot-containers'
import memlock from '@tarsjs/os-memlock'

const count = Number(process.argv[2] ?? 500)
if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
  console.error('usage: node sealed-tokens.mjs [COUNT]')
  process.exit(2)
}

// On SIGINT/SIGTERM/SIGHUP, an uncaught exception or exit: wipe every token first.
catchSignals()

const lockedBytes = () => Number(/VmLck:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`

// Tokens as a secrets manager would hand them over: here, random bytes in a
// heap Buffer, sealed and then wiped (wipeSource) so the heap copy is gone.
const tokens = new Map()
for (let i = 0; i < count; i++) {
  const incoming = Buffer.alloc(sodium.crypto_auth_KEYBYTES)
  sodium.randombytes_buf(incoming)
  tokens.set(`service-${i}`, SealedKey.from(incoming, { wipeSource: true }))
}

const limit = memlock.memlockLimit().soft
console.log(`${tokens.size} tokens sealed; memlock limit ${limit === Infinity ? 'unlimited' : kib(limit)}; locked now ${kib(lockedBytes())}`)
const sample = tokens.get('service-0')
const p = sample.protections()
console.log(`each token at rest: sealed ${p.sealed}, locked ${p.locked} (ciphertext only); sealing key: secretmem ${p.sealingKey.secretmem}, locked ${p.sealingKey.locked}, no-dump ${p.sealingKey.noDump}, split ${p.sealingKey.split}`)

/** Signs a request with a token, inside a read window. */
function sign (name, request) {
  const mac = Buffer.alloc(sodium.crypto_auth_BYTES)
  tokens.get(name).read((token) => sodium.crypto_auth(mac, request, token))
  return mac
}

const request = Buffer.from('GET /v1/accounts?limit=10')
const name = `service-${count - 1}`
const mac = sign(name, request)
const verified = tokens.get(name).read((token) => sodium.crypto_auth_verify(mac, request, token))
console.log(`signed a request with ${name}: ${mac.toString('hex').slice(0, 16)}…, verified ${verified}`)

const { rekeyed, tampered } = SealedKey.rekey()
const stillVerifies = tokens.get(name).read((token) => sodium.crypto_auth_verify(mac, request, token))
console.log(`new sealing key: ${rekeyed} tokens sealed again, ${tampered} tampered; the signature still verifies: ${stillVerifies}`)

const { freed } = purge()
console.log(`purged ${freed} tokens; ${sample} is now disposed: ${sample.disposed}`)
