// advise('dontdump') keeps bytes out of a core dump, as written by gdb's gcore
// (which honours VM_DONTDUMP), while an un-advised region is in it.
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FIXTURES, which } from './helpers.mjs'

const GDB = which('gdb')

describe('core dumps', () => {
  it.skipIf(!GDB)('hold the plain region, not the dontdump one, nor a secret one even when advised dodump (needs gdb)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'os-memlock-core-'))
    const [plain, dontdump, secret] = [randomBytes(48), randomBytes(48), randomBytes(48)]
    const child = spawn(process.execPath, [join(FIXTURES, 'dump-target.cjs'), plain.toString('hex'), dontdump.toString('hex'), secret.toString('hex')], {
      stdio: ['pipe', 'pipe', 'inherit']
    })
    try {
      let out = ''
      const ready = await new Promise((resolve, reject) => {
        child.on('error', reject)
        child.on('exit', (code, signal) => reject(new Error(`fixture exited early: ${code} ${signal}`)))
        child.stdout.on('data', (d) => {
          out += d
          const line = out.split('\n').find((l) => l.startsWith('READY '))
          if (line) resolve(JSON.parse(line.slice(6)))
        })
      })
      const core = join(dir, 'core')
      const g = spawnSync(GDB, ['-batch', '-nx', '-p', String(ready.pid), '-ex', `gcore ${core}`], { encoding: 'utf8', timeout: 50000 })
      expect(g.status, g.stderr).toBe(0)
      const bytes = readFileSync(core)
      rmSync(core)
      expect(bytes.length).toBeGreaterThan(1 << 20)
      expect(bytes.includes(plain)).toBe(true) // the dump is real and searchable
      expect(bytes.includes(dontdump)).toBe(false)
      if (ready.secret) expect(bytes.includes(secret)).toBe(false)
      child.removeAllListeners('exit')
      const done = new Promise((resolve) => child.on('exit', (code) => resolve(code)))
      child.stdin.end()
      expect(await done).toBe(0)
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
