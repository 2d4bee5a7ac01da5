// The default allocators are registered with @tarsjs/page-alloc when they are
// created (not before), so that @tarsjs/doctor, which does not depend on this
// package, reports the unlocked live secrets of ProtKey and ProtBuf. Each case
// runs in a fresh process: the registry is per thread and starts empty.
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { HERE } from './helpers.mjs'

function child (code) {
  const res = spawnSync(process.execPath, ['-e', code], { cwd: HERE, encoding: 'utf8', timeout: 30000 })
  expect(res.status, res.stderr).toBe(0)
  return JSON.parse(res.stdout)
}

describe('default allocators and the doctor', () => {
  it('each default allocator is registered when it is created, under its role', () => {
    const r = child(`
      const pc = require('../dist/index.js')
      const { registeredDefaultAllocators } = require('@tarsjs/page-alloc')
      const seen = (x) => ({ key: x.key === undefined ? null : x.key === pc.defaultKeyAllocator(), buf: x.buf === undefined ? null : x.buf === pc.defaultBufAllocator() })
      const out = {}
      const r0 = registeredDefaultAllocators()
      out.before = { key: r0.key === undefined, buf: r0.buf === undefined }
      pc.ProtBuf.alloc(16).dispose()
      const r1 = registeredDefaultAllocators()
      out.afterBuf = { key: r1.key === undefined, buf: r1.buf === pc.defaultBufAllocator() }
      pc.ProtKey.alloc(32).dispose()
      out.afterKey = seen(registeredDefaultAllocators())
      console.log(JSON.stringify(out))
    `)
    expect(r.before).toEqual({ key: true, buf: true })
    expect(r.afterBuf).toEqual({ key: true, buf: true })
    expect(r.afterKey).toEqual({ key: true, buf: true })
  })

  it("diagnose() of @tarsjs/doctor reads the default allocators' own counts", () => {
    const r = child(`
      const pc = require('../dist/index.js')
      const { diagnose } = require('@tarsjs/doctor')
      const keys = [pc.ProtKey.alloc(32), pc.ProtKey.alloc(32)]
      const bufs = [pc.ProtBuf.alloc(32)]
      const finding = diagnose().findings.find((f) => f.id === 'unprotected')
      const counts = { protKeys: pc.defaultKeyAllocator().stats().unlockedAllocations, protBufs: pc.defaultBufAllocator().stats().unlockedAllocations }
      for (const c of [...keys, ...bufs]) c.dispose()
      console.log(JSON.stringify({ finding, counts }))
    `)
    expect(r.finding.data).toEqual(r.counts)
    expect(r.finding.verdict).toBe(r.counts.protKeys + r.counts.protBufs > 0 ? 'warn' : 'ok')
  })
})
