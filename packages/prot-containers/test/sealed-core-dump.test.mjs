// A core dump of a process holding 1,000 SealedKeys of known random secrets,
// one of them inside an open read window, holds none of the plaintexts and
// neither the sealing key nor its halves; a plain Buffer control secret in
// the same process is found (so the dump is real and the search works).
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { SECRETMEM, canGcore, findInFile, gcore, startFixture } from './helpers.mjs'

const COUNT = 1000
const dir = mkdtempSync(join(tmpdir(), 'sealed-core-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('SealedKey in a core dump', () => {
  it.skipIf(!canGcore())(`gcore of a child with ${COUNT} SealedKeys, one in an open read window: control found, no plaintext, no sealing key`, async () => {
    const run = await startFixture('sealed-core-target.cjs', [String(COUNT)])
    const core = join(dir, 'core')
    try {
      const { ready } = run
      expect(ready.keys).toHaveLength(COUNT)
      expect(new Set(ready.keys).size).toBe(COUNT)
      expect(ready.protections).toMatchObject({ sealed: true, sealingKey: { secretmem: SECRETMEM, split: true, noDump: true } })
      expect(ready.openProtections).toMatchObject({ sealed: false, window: { noDump: true, locked: true } })
      const control = Buffer.from(ready.control, 'hex')
      const key = Buffer.from(ready.sealingKey, 'hex')
      const halves = ready.halves.map((h) => Buffer.from(h, 'hex'))
      const plaintexts = ready.keys.map((h) => Buffer.from(h, 'hex'))

      gcore(ready.pid, core)
      expect(statSync(core).size).toBeGreaterThan(16 << 20)
      const found = findInFile(core, [control, key, ...halves, ...plaintexts])
      rmSync(core)
      expect(found.has(0), 'the plain Buffer control secret is in the core').toBe(true)
      expect(found.has(1), 'the sealing key is in the core').toBe(false)
      expect(found.has(2) || found.has(3), 'a half of the sealing key is in the core').toBe(false)
      const leaked = ready.keys.filter((_, i) => found.has(4 + i))
      expect(leaked, 'SealedKey plaintexts in the core').toEqual([])

      const end = await run.finish()
      expect(end.code, end.stderr).toBe(0)
      expect(end.stdout.trimEnd().endsWith('OK')).toBe(true)
    } finally {
      run.kill()
      rmSync(core, { force: true })
    }
  }, 120000)
})
