// fromStream over a real unix socket: secrets sent in several chunks, with
// pauses, so that more than one chunk waits in each socket's read buffer when
// the container starts reading — from the socket itself (ProtBuf, ProtKey), and
// from an object-mode stream and an async generator that pass the socket's
// chunks on. A core dump of the reading process holds no copy of any of these
// secrets, nor any 8-byte run of one, while a control secret read from the same
// kind of socket into a heap Buffer is found.
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
    const secrets = { B: randomBytes(LENGTH), K: randomBytes(LENGTH), O: randomBytes(LENGTH), I: randomBytes(LENGTH), C: randomBytes(LENGTH) }
    const labels = { B: 'ProtBuf from the socket', K: 'ProtKey from the socket', O: 'ProtBuf from an object-mode stream', I: 'ProtBuf from an async generator' }
    const path = join(dir, 'secret.sock')
    const core = join(dir, 'core')
    const server = await serve(path, secrets)
    let run
    try {
      run = await startFixture('socket-secret.cjs', [path, String(LENGTH)])
      const { ready } = run
      // The premise: more than one chunk was waiting in each socket when reading began.
      for (const n of Object.values(ready.chunks)) expect(n).toBeGreaterThan(1)
      // The containers hold exactly the secrets.
      expect(ready.buf).toBe(sha256(secrets.B))
      expect(ready.key).toBe(sha256(secrets.K))
      expect(ready.objectMode).toBe(sha256(secrets.O))
      expect(ready.iterable).toBe(sha256(secrets.I))
      expect(ready.control).toBe(sha256(secrets.C))
      expect(ready.keyAccess).toBe('none')

      gcore(ready.pid, core)
      const needles = [secrets.C]
      const names = ['control']
      for (const [role, label] of Object.entries(labels)) {
        runsOf(secrets[role]).forEach((run, i) => { needles.push(run); names.push(`${label}, run ${i}`) })
      }
      const found = findInFile(core, needles)
      rmSync(core)
      expect(found.has(0), 'the control secret is in the core').toBe(true)
      const leaked = [...found].filter((i) => i > 0).map((i) => names[i])
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
