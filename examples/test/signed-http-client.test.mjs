// signed-http-client.mjs against a local HTTP server that holds the same key
// (a heap copy, in the test): a request signed with it is accepted, one signed
// with another key is refused with 401, and the server sees exactly the body
// the client was given.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canonicalRequest } from '../signed-http-client.mjs'
import { example, examplesDir, tempFiles } from './helpers.mjs'

const fileWith = tempFiles('tarsjs-http-')
const serverKey = randomBytes(32)
const seen = []
let server
let url

beforeAll(async () => {
  server = createServer((req, res) => {
    const parts = []
    req.on('data', (b) => parts.push(b))
    req.on('end', () => {
      const body = Buffer.concat(parts)
      const expected = createHmac('sha256', serverKey).update(canonicalRequest(req.method, req.url, req.headers['x-timestamp'], body)).digest()
      const given = Buffer.from(String(req.headers['x-signature'] ?? ''), 'hex')
      const fresh = Math.abs(Date.now() / 1000 - Number(req.headers['x-timestamp'])) < 300
      const ok = fresh && given.byteLength === expected.byteLength && timingSafeEqual(given, expected)
      seen.push({ path: req.url, body: body.toString(), ok })
      res.writeHead(ok ? 200 : 401, { 'content-type': 'text/plain' })
      res.end(ok ? `verified ${body.byteLength} bytes` : 'bad signature')
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${server.address().port}/reports?week=12`
})
afterAll(() => new Promise((resolve) => server.close(resolve)))

/** Runs the example without blocking this process (the server lives here). */
function client (args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [example('signed-http-client.mjs'), ...args], { cwd: examplesDir })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b) => { stdout += b })
    child.stderr.on('data', (b) => { stderr += b })
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

describe('signed-http-client.mjs', () => {
  it('a request signed with the shared key is accepted; the server got the path and body as sent', async () => {
    const { status, stdout, stderr } = await client(['--key-file', fileWith(serverKey), url, '{"n":1}'])
    expect(stderr).toBe('')
    expect(stdout).toBe('status 200\nresponse verified 7 bytes\n')
    expect(status).toBe(0)
    expect(seen.at(-1)).toEqual({ path: '/reports?week=12', body: '{"n":1}', ok: true })
  })

  it('a request signed with another key is refused (401), and the example exits 1', async () => {
    const { status, stdout } = await client(['--key-file', fileWith(randomBytes(32)), url])
    expect(stdout).toBe('status 401\nresponse bad signature\n')
    expect(status).toBe(1)
    expect(seen.at(-1).ok).toBe(false)
  })

  it('without a key file it prints its usage and exits 2', async () => {
    const { status, stderr } = await client([url])
    expect(status).toBe(2)
    expect(stderr).toContain('usage: node signed-http-client.mjs --key-file PATH URL [BODY]')
  })
})
