// Four worker threads using ProtKey, ProtBuf and the sodium drop-in at the same
// time for five seconds share one region registry in the addon: no crash, no
// wrong error, every thread exits 0.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { examplesDir } from './helpers.mjs'

const fixture = fileURLToPath(new URL('./fixtures/threads-stress.mjs', import.meta.url))

describe('four workers through the public layers', () => {
  it('ProtKey.random/read/dispose, ProtBuf and sodium_malloc/free for ~5 s: no crash, exit 0, no error', () => {
    const res = spawnSync(process.execPath, [fixture, '4', '5000'], { cwd: examplesDir, encoding: 'utf8', timeout: 120000 })
    expect(res.stderr).toBe('')
    expect(res.signal).toBe(null)
    expect(res.status).toBe(0)
    const workers = [...res.stdout.matchAll(/^WORKER (.*)$/gm)].map((m) => JSON.parse(m[1]))
    expect(workers).toHaveLength(4)
    for (const w of workers) {
      expect(w.code).toBe(0)
      expect(w.errors).toEqual([])
      expect(w.counts.keys).toBeGreaterThan(20)
      expect(w.counts.sodium).toBeGreaterThan(20)
      expect(w.counts.heap).toBeGreaterThan(20)
    }
    expect(res.stdout.trimEnd().endsWith('OK')).toBe(true)
  })
})
