// An HTTP client that signs each request with an HMAC key kept in a ProtKey.
//
//   node examples/signed-http-client.mjs --key-file PATH URL [BODY]
//
// The key file's bytes are read straight into a ProtKey. The request is a
// POST of BODY (default: a small JSON document) to URL, with two headers:
//   x-timestamp: the time in Unix seconds
//   x-signature: hex HMAC-SHA256 over "POST\n<path>\n<timestamp>\n<sha256 of the body in hex>"
// computed inside a read window (the key never becomes a string or a heap
// Buffer). A server that holds the same key recomputes the MAC and compares it
// in constant time. Prints the response's status and body; exit status 0 for a
// 2xx answer, 1 otherwise.

import { createHash, createHmac } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { ProtKey } from '@tarsjs/prot-containers'

/** The text that is signed: method, path, timestamp and the body's SHA-256, one per line. */
export function canonicalRequest (method, path, timestamp, body) {
  return `${method}\n${path}\n${timestamp}\n${createHash('sha256').update(body).digest('hex')}`
}

/** Hex HMAC-SHA256 of the canonical request, computed inside a read window. */
export function signRequest (key, method, path, timestamp, body) {
  const text = canonicalRequest(method, path, timestamp, body)
  return key.read((bytes) => createHmac('sha256', bytes).update(text).digest('hex'))
}

/** POSTs `body` to `url`, signed with `key`; resolves with the status and the response text. */
export async function signedPost (key, url, body) {
  const target = new URL(url)
  const timestamp = String(Math.floor(Date.now() / 1000))
  const signature = signRequest(key, 'POST', target.pathname + target.search, timestamp, body)
  const response = await fetch(target, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-timestamp': timestamp, 'x-signature': signature },
    body
  })
  return { status: response.status, text: await response.text() }
}

async function main () {
  const argv = process.argv.slice(2)
  let keyFile
  const rest = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--key-file' && i + 1 < argv.length) keyFile = argv[++i]
    else rest.push(argv[i])
  }
  if (keyFile === undefined || rest.length < 1 || rest.length > 2 || rest.some((a) => a.startsWith('--'))) {
    console.error('usage: node signed-http-client.mjs --key-file PATH URL [BODY]')
    return 2
  }
  const body = rest[1] ?? '{"report":"weekly","format":"csv"}'
  const key = ProtKey.fromFile(keyFile)
  try {
    const { status, text } = await signedPost(key, rest[0], body)
    console.log(`status ${status}`)
    console.log(`response ${text}`)
    return status >= 200 && status < 300 ? 0 : 1
  } finally {
    key.dispose()
  }
}

const invokedDirectly = process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
if (invokedDirectly) process.exitCode = await main()
