// JSON Web Tokens with jose, signed with keys kept in ProtKeys.
//
//   node examples/jose-jwt.mjs [--hmac-key-file PATH] [--ed25519-key-file PATH] [SUBJECT]
//
// Two tokens for SUBJECT (default "user-42"):
//   1. HS256 with a secret key: 32 random bytes, or the bytes of
//      --hmac-key-file read straight into a ProtKey;
//   2. EdDSA (Ed25519) with a private key: a PKCS#8 DER file read straight
//      into a ProtKey (--ed25519-key-file), or a fresh key made for the run.
// Each token is verified with jose before it is printed, with the public key
// for EdDSA. Prints `HS256 <token>`, `EdDSA <token>`, the Ed25519 public key
// as a JWK `x`, and one `verified` line per token.
//
// jose signs asynchronously, and a ProtKey window must not stay open across
// an `await`. So, inside a synchronous read window, the key's bytes are handed
// to node:crypto, which parses them into a KeyObject: `createSecretKey` for
// HS256, `createPrivateKey({ format: 'der', type: 'pkcs8' })` for Ed25519.
// The window closes at once and jose gets the KeyObject. No JavaScript string
// or heap Buffer of the key is made on our side; the KeyObject holds a copy in
// OpenSSL's memory (its secure heap under `node --secure-heap=N`, else its
// ordinary heap) until it is garbage-collected. A KeyObject bridge in
// @tarsjs/prot-containers is planned to replace these two lines.
//
// Never give jose (or anything else) `${key}` or `String(key)`: that is the
// redacted text "ProtKey(32 bytes, no access)", and a token signed with it
// verifies against that public string.

import { createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { SignJWT, exportJWK, jwtVerify } from 'jose'
import { ProtKey } from '@tarsjs/prot-containers'

/** A KeyObject for HS256, made inside a read window from the key's bytes. */
export function hmacKeyObject (key) {
  return key.read((bytes) => createSecretKey(bytes))
}

/** A private KeyObject from a PKCS#8 DER key held in a ProtKey, made inside a read window. */
export function ed25519KeyObject (key) {
  return key.read((der) => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }))
}

/** A signed JWT for `subject`, valid for two hours. */
export function signToken (alg, keyObject, subject) {
  return new SignJWT({ scope: 'read:reports' })
    .setProtectedHeader({ alg })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(keyObject)
}

async function main () {
  const argv = process.argv.slice(2)
  let hmacFile
  let edFile
  const rest = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--hmac-key-file' && i + 1 < argv.length) hmacFile = argv[++i]
    else if (argv[i] === '--ed25519-key-file' && i + 1 < argv.length) edFile = argv[++i]
    else rest.push(argv[i])
  }
  if (rest.length > 1 || rest.some((a) => a.startsWith('--'))) {
    console.error('usage: node jose-jwt.mjs [--hmac-key-file PATH] [--ed25519-key-file PATH] [SUBJECT]')
    return 2
  }
  const subject = rest[0] ?? 'user-42'

  const hmacKey = hmacFile === undefined ? ProtKey.random(32) : ProtKey.fromFile(hmacFile)
  const edKey = edFile === undefined ? freshEd25519() : ProtKey.fromFile(edFile)
  try {
    const secret = hmacKeyObject(hmacKey)
    const hs = await signToken('HS256', secret, subject)
    const hsClaims = (await jwtVerify(hs, secret, { algorithms: ['HS256'] })).payload

    const privateKey = ed25519KeyObject(edKey)
    const publicKey = createPublicKey(privateKey)
    const ed = await signToken('EdDSA', privateKey, subject)
    const edClaims = (await jwtVerify(ed, publicKey, { algorithms: ['EdDSA'] })).payload

    console.log(`HS256 ${hs}`)
    console.log(`EdDSA ${ed}`)
    console.log(`Ed25519 public key x: ${(await exportJWK(publicKey)).x}`)
    console.log(`verified HS256: sub=${hsClaims.sub} with the key in ${hmacKey}`)
    console.log(`verified EdDSA: sub=${edClaims.sub} with the public key; the private key is in ${edKey}`)
    return 0
  } finally {
    hmacKey.dispose()
    edKey.dispose()
  }
}

/**
 * A new Ed25519 private key as PKCS#8 DER, moved into a ProtKey: the exported heap copy is wiped
 * (the generated KeyObject is dropped; a real service reads its key with ProtKey.fromFile).
 */
function freshEd25519 () {
  const der = generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' })
  return ProtKey.from(der, { wipeSource: true })
}

const invokedDirectly = process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
if (invokedDirectly) process.exitCode = await main()
