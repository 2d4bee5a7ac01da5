// One binary for every Node.js version: the addon is built once (Node-API 8,
// by whichever Node.js ran `pnpm install`) and must load unchanged on each
// supported major. scripts/runtimes.mjs runs this suite under Node.js 22, 24
// and 26 with the build made under the Node.js of `pnpm install`, and names the
// version it meant in TARSJS_TEST_RUNTIME (e.g. `node24`), which is checked here
// so that a matrix run cannot quietly test the wrong binary. Building from
// source with this version's own headers is checked too, where they are
// installed beside `node`.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PKG, PS, m } from './helpers.mjs'

const require = createRequire(import.meta.url)
const MAJOR = Number(process.versions.node.split('.')[0])
const NAPI_VERSION = Number(readFileSync(join(PKG, 'binding.gyp'), 'utf8').match(/NAPI_VERSION=(\d+)/)[1])
const MIN_MAJOR = Number(JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')).engines.node.match(/>=\s*(\d+)/)[1])
const PREFIX = join(dirname(process.execPath), '..')
const HEADERS = existsSync(join(PREFIX, 'include', 'node', 'node_api.h'))

/** What a fresh process of this Node.js reports after loading the addon from `dir`. */
function smoke (dir) {
  const script = `
    const m = require(${JSON.stringify(join(dir, 'index.js'))})
    const file = require(${JSON.stringify(require.resolve('node-gyp-build', { paths: [PKG] }))}).path(${JSON.stringify(dir)})
    const r = m.map(m.pageSize())
    const v = new Uint8Array(m.view(r, 0, 16))
    v[0] = 7
    m.protect(r, 0, m.pageSize(), 'none')
    const detached = v.length === 0
    m.protect(r, 0, m.pageSize(), 'readwrite')
    const kept = new Uint8Array(m.view(r, 0, 1))[0]
    m.unmap(r)
    const loaded = require('node:fs').readFileSync('/proc/self/maps', 'utf8').includes(file)
    console.log(JSON.stringify({ version: process.version, file, loaded, detached, kept }))
  `
  const res = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 })
  expect(res.stderr).toBe('')
  expect(res.status).toBe(0)
  return JSON.parse(res.stdout)
}

describe(`the addon on Node.js ${process.version}`, () => {
  it('runs on a supported major, the one the runtime matrix asked for', () => {
    expect(process.version).toBe(`v${process.versions.node}`)
    expect(MAJOR).toBeGreaterThanOrEqual(MIN_MAJOR)
    const asked = process.env.TARSJS_TEST_RUNTIME?.match(/^node(\d+)$/)
    if (asked) expect(MAJOR).toBe(Number(asked[1]))
    // This Node.js offers at least the Node-API version the addon is built for.
    expect(Number(process.versions.napi)).toBeGreaterThanOrEqual(NAPI_VERSION)
  })

  it('is loaded from the build or a bundled prebuild, the file mapped into this process', () => {
    const file = require('node-gyp-build').path(PKG)
    expect(file).toMatch(/\/(build\/Release|prebuilds\/linux-(x64|arm64))\/[^/]+\.node$/)
    expect(readFileSync('/proc/self/maps', 'utf8')).toContain(file)
    expect(PS).toBeGreaterThan(0)
    expect(m.capabilities()).toEqual({
      mlock: expect.any(Boolean),
      madviseDontDump: expect.any(Boolean),
      madviseWipeOnFork: expect.any(Boolean),
      madviseDontFork: expect.any(Boolean),
      memfdSecret: expect.any(Boolean),
      protectionKeys: expect.any(Boolean),
      externalBuffers: expect.any(Boolean)
    })
  })

  it('loads in a fresh process of this version and keeps views safe there', () => {
    const out = smoke(PKG)
    expect(out).toEqual({ version: process.version, file: expect.any(String), loaded: true, detached: true, kept: 7 })
  })

  it('a runtime without finalizers is refused: every function throws ERR_UNSUPPORTED_RUNTIME naming what is missing', () => {
    const script = `
      globalThis.FinalizationRegistry = undefined
      const m = require(${JSON.stringify(PKG)})
      const out = {}
      for (const name of ['pageSize', 'map', 'view', 'detach']) {
        try { m[name](4096); out[name] = 'returned' } catch (err) { out[name] = [err.code, err.message] }
      }
      console.log(JSON.stringify(out))
    `
    const res = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 })
    expect(res.status, res.stderr).toBe(0)
    const out = JSON.parse(res.stdout)
    for (const name of ['pageSize', 'map', 'view', 'detach']) {
      expect(out[name][0]).toBe('ERR_UNSUPPORTED_RUNTIME')
      expect(out[name][1]).toContain(`Node.js ${process.version} lacks FinalizationRegistry and WeakRef`)
    }
  })

  describe.skipIf(!HEADERS)(`built from source with the headers of ${process.version}`, () => {
    const stage = mkdtempSync(join(tmpdir(), 'os-memlock-headers-'))
    afterAll(() => rmSync(stage, { recursive: true, force: true }))

    it('node-gyp builds it without downloading anything, and this version loads the result', () => {
      for (const name of ['package.json', 'binding.gyp', 'index.js', 'platform.js', 'unprotected.js', 'src']) cpSync(join(PKG, name), join(stage, name), { recursive: true })
      symlinkSync(join(PKG, 'node_modules'), join(stage, 'node_modules')) // node-gyp-build, for index.js
      const gyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [PKG] })
      const res = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${PREFIX}`], {
        cwd: stage,
        encoding: 'utf8',
        timeout: 240_000,
        env: { ...process.env, npm_config_nodedir: PREFIX }
      })
      expect(res.status, res.stderr).toBe(0)
      const out = smoke(stage)
      expect(out.file).toBe(join(stage, 'build', 'Release', 'os_memlock.node'))
      expect(out).toMatchObject({ version: process.version, loaded: true, detached: true, kept: 7 })
    })
  })
})
