// A core dump of a process holding 1,000 ProtBufs and 1,000 ProtKeys of known
// random secrets holds none of them, while a plain Buffer control secret in the
// same process is found (so the dump is real and the search works).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { SECRETMEM, canGcore, findInFile, gcore, startFixture } from './helpers.mjs'

const COUNT = 1000
const CAN_GCORE = canGcore()
const dir = mkdtempSync(join(tmpdir(), 'prot-containers-core-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('core dumps', () => {
  it('the core search finds needles anywhere, including at the very end, and nothing else', () => {
    const needles = [randomBytes(32), randomBytes(32), Buffer.concat([Buffer.alloc(8), randomBytes(24)]), randomBytes(32)]
    const file = join(dir, 'synthetic')
    writeFileSync(file, Buffer.concat([Buffer.alloc(1000), needles[0], randomBytes(5000), needles[2], Buffer.alloc(77), needles[1]]))
    expect([...findInFile(file, needles)].sort()).toEqual([0, 1, 2])
  })

  it.skipIf(!CAN_GCORE)(`gcore of a child with ${COUNT} ProtBufs and ${COUNT} ProtKeys: control found, no protected secret`, async () => {
    const run = await startFixture('core-target.cjs', [String(COUNT)])
    const core = join(dir, 'core')
    try {
      const { ready } = run
      expect(ready.bufs).toHaveLength(COUNT)
      expect(ready.keys).toHaveLength(COUNT)
      expect(ready.keyProtections).toMatchObject({ noDump: true, secretmem: SECRETMEM, access: 'none' })
      expect(ready.bufProtections).toMatchObject({ noDump: true, isolated: false })
      const secrets = [...ready.bufs, ...ready.keys].map((h) => Buffer.from(h, 'hex'))
      expect(new Set(secrets.map((s) => s.toString('hex'))).size).toBe(2 * COUNT) // all distinct
      const control = Buffer.from(ready.control, 'hex')

      gcore(ready.pid, core)
      expect(statSync(core).size).toBeGreaterThan(16 << 20)
      const found = findInFile(core, [control, ...secrets])
      rmSync(core)
      expect(found.has(0), 'the plain Buffer control secret is in the core').toBe(true)
      const leakedBufs = ready.bufs.filter((_, i) => found.has(1 + i))
      const leakedKeys = ready.keys.filter((_, i) => found.has(1 + COUNT + i))
      expect(leakedBufs, 'ProtBuf secrets in the core').toEqual([])
      expect(leakedKeys, 'ProtKey secrets in the core').toEqual([])

      // The child was only paused by the dump: it carries on and exits normally.
      const end = await run.finish()
      expect(end.code, end.stderr).toBe(0)
      expect(end.stdout.trimEnd().endsWith('OK')).toBe(true)
    } finally {
      run.kill()
      rmSync(core, { force: true })
    }
  }, 90000)
})
