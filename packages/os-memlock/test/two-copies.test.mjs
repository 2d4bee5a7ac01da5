// A second copy of the addon in one process (npm nesting another os-memlock)
// refuses to load: two copies would keep two region registries.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PKG, records, runFixture } from './helpers.mjs'

const require = createRequire(import.meta.url)

function makeCopy () {
  const dir = mkdtempSync(join(tmpdir(), 'os-memlock-copy-'))
  for (const f of ['package.json', 'index.js', 'platform.js', 'unprotected.js']) copyFileSync(join(PKG, f), join(dir, f))
  mkdirSync(join(dir, 'build', 'Release'), { recursive: true })
  copyFileSync(require('node-gyp-build').resolve(PKG), join(dir, 'build', 'Release', 'os_memlock.node'))
  symlinkSync(join(PKG, 'node_modules'), join(dir, 'node_modules'))
  return dir
}

describe('two copies of the addon in one process', () => {
  const copy = makeCopy()
  afterAll(() => rmSync(copy, { recursive: true, force: true }))
  // both copies load their own build: a test-only binary override would make them one
  const env = { ...process.env }
  delete env.TARSJS_OS_MEMLOCK_BINARY
  delete env.TARSJS_OS_MEMLOCK_INSTANCE

  for (const mode of ['forward', 'reverse']) {
    it(`the second to load refuses with ERR_DUPLICATE_NATIVE_INSTANCE; the first keeps working (${mode})`, () => {
      const res = runFixture('two-copies.cjs', [copy, mode], { env })
      expect(res.stderr).toBe('')
      expect(res.status).toBe(0)
      const rec = records(res.stdout)
      expect(rec.FIRST).toBe('works')
      expect(rec.SECOND).toBe('ERR_DUPLICATE_NATIVE_INSTANCE')
      expect(rec.FIRST_AGAIN).toBe('works')
      expect(rec.CLAIM.pid).toBe(true)
      expect(rec.CLAIM.path).toContain(mode === 'forward' ? PKG : copy)
      // a worker thread loads the first copy (the same binary) and is refused the second
      expect(rec.WORKER).toEqual({ first: 'works', second: 'ERR_DUPLICATE_NATIVE_INSTANCE' })
      // a child process inherits the claim but has another pid: it loads the other copy and claims anew
      expect(rec.CHILD.inherited).not.toBe('')
      expect(rec.CHILD.now).toBe(true)
    })
  }
})
