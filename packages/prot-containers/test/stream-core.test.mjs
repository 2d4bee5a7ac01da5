// fromStream over a real unix socket: secrets sent in several chunks, with
// pauses, so that more than one chunk waits in each socket's read buffer when
// the container starts reading. A core dump of the reading process holds no
// copy of either secret, nor any 8-byte run of one, while a control secret read
// from the same kind of socket into a heap Buffer is found.
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { canGcore, findInFile, gcore, startFixture } from './helpers.mjs'

const CAN_GCORE = canGcore()
const dir = mkdtempSync(join(tmpdir(), 'prot-containers-sock-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const CHUNKS = 4
const CHUNK = 40
const LENGTH = CHUNKS * CHUNK

/** Every run of 8 bytes of `secret`, and the whole of it. */
function runsOf (secret) {
  const out = [secret]
  for (let i = 0; i + 8 <= secret.length; i++) out.push(secret.subarray(i, i + 8))
  return out
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')

/** A server that answers each connection's role byte with that role's secret, chunk by chunk with pauses. */
function serve (path, secrets) {
  const server = net.createServer((conn) => {
    conn.once('data', async (role) => {
      const secret = secrets[role.toString('latin1')]
      for (let i = 0; i < CHUNKS; i++) {
        conn.write(secret.subarray(i * CHUNK, (i + 1) * CHUNK))
        await sleep(60)
      }
      conn.end()
    })
  })
  return new Promise((resolve) => server.listen(path, () => resolve(server)))
}

describe('fromStream from a unix socket', () => {
  it.skipIf(!CAN_GCORE)('several buffered chunks: no copy of the secret nor 8 bytes of it in a core dump; the control is found', async () => {
    const secrets = { B: randomBytes(LENGTH), K: randomBytes(LENGTH), C: randomBytes(LENGTH) }
    const path = join(dir, 'secret.sock')
    const core = join(dir, 'core')
    const server = await serve(path, secrets)
    let run
    try {
      run = await startFixture('socket-secret.cjs', [path, String(LENGTH)])
      const { ready } = run
      // The premise: more than one chunk was waiting in each socket when reading began.
      expect(ready.chunks.buf).toBeGreaterThan(1)
      expect(ready.chunks.key).toBeGreaterThan(1)
      expect(ready.chunks.control).toBeGreaterThan(1)
      // The containers hold exactly the secrets.
      expect(ready.buf).toBe(sha256(secrets.B))
      expect(ready.key).toBe(sha256(secrets.K))
      expect(ready.control).toBe(sha256(secrets.C))
      expect(ready.keyAccess).toBe('none')

      gcore(ready.pid, core)
      const bufRuns = runsOf(secrets.B)
      const keyRuns = runsOf(secrets.K)
      const found = findInFile(core, [secrets.C, ...bufRuns, ...keyRuns])
      rmSync(core)
      expect(found.has(0), 'the control secret is in the core').toBe(true)
      const leaked = [...found].filter((i) => i > 0).map((i) => (i <= bufRuns.length ? `ProtBuf run ${i - 1}` : `ProtKey run ${i - 1 - bufRuns.length}`))
      expect(leaked, 'runs of the secrets in the core (run 0 is the whole secret)').toEqual([])

      const end = await run.finish()
      expect(end.code, end.stderr).toBe(0)
      expect(end.stdout.trimEnd().endsWith('OK')).toBe(true)
    } finally {
      run?.kill()
      server.close()
      rmSync(core, { force: true })
    }
  }, 90000)
})
