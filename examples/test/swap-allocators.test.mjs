// swap-allocators.mjs: the same container code over every backend gives the
// same HMAC (recomputed here), and each backend's protections() and stats()
// are what that backend can really give.

import { createHmac } from 'node:crypto'
import memlock from '@tarsjs/os-memlock'
import { describe, expect, it } from 'vitest'
import { canDropPrivilege, run, runUnprivileged } from './helpers.mjs'

const caps = memlock.capabilities()
const PATTERN = Uint8Array.from({ length: 32 }, (_, i) => i)
const MAC = createHmac('sha256', PATTERN).update('the same code over every backend').digest('hex')

let sodiumAllocatorBuilt = true
try {
  await import('@tarsjs/sodium-allocator')
} catch {
  sodiumAllocatorBuilt = false
}

/** The printed tables as { 'ProtBuf.from(32 bytes)': { names, rows: { label: [values] } } }. */
function tables (stdout) {
  const out = {}
  let current = null
  for (const line of stdout.split('\n')) {
    if (/^\S/.test(line) && / {2,}slot/.test(line)) {
      const [title, ...names] = line.split(/ {2,}/)
      current = { names, rows: {} }
      out[title] = current
    } else if (current !== null && line.startsWith('  ')) {
      const [label, ...values] = line.trim().split(/ {2,}/)
      current.rows[label] = Object.fromEntries(current.names.map((n, i) => [n, values[i]]))
    } else {
      current = null
    }
  }
  return out
}

describe('swap-allocators.mjs', () => {
  it('runs the same code over every backend, with the same result', () => {
    const { status, stdout, stderr } = run('swap-allocators.mjs')
    expect(stderr).toBe('')
    expect(status).toBe(0)
    const t = tables(stdout)
    const buf = t['ProtBuf.from(32 bytes)']
    const key = t['ProtKey.from(32 bytes)']
    const stats = t['stats() after dispose']
    const names = sodiumAllocatorBuilt ? ['slot', 'page', 'sodium', 'sodium-native'] : ['slot', 'page']
    expect(buf.names).toEqual(names)

    // The same bytes, the same code: the same MAC from every backend, and it is the right one.
    expect(stdout).toContain('every backend gave the same HMAC: true')
    expect(stdout).toContain(`hmac-sha256 ${MAC}`)
    for (const n of names) expect(buf.rows['HMAC-SHA256'][n]).toBe(`${MAC.slice(0, 12)}…`)

    // ProtBuf: every backend of ours has guard pages and no-dump; only isolated ones own their pages.
    for (const n of ['slot', 'page', 'sodium'].filter((x) => names.includes(x))) {
      expect(buf.rows['guard pages'][n]).toBe('yes')
      expect(buf.rows['no-dump'][n]).toBe('yes')
      expect(buf.rows.locked[n]).toBe(caps.mlock ? 'yes' : 'no')
    }
    expect(buf.rows['owns its pages'].slot).toBe('no')
    expect(buf.rows['owns its pages'].page).toBe('yes')
    expect(buf.rows.canary.slot).toBe('no')
    expect(stdout).toContain('slot: no canary for this ProtBuf: 32 bytes fill a 32-byte slot exactly')
    expect(buf.rows.memfd_secret.page).toBe(caps.memfdSecret ? 'yes' : 'no')

    // ProtKey: refused where pages are shared or cannot be re-protected; elsewhere no access outside windows.
    expect(key.rows.result.slot).toBe('ERR_NOT_ISOLATED')
    expect(key.rows.result.page).toBe('ok')
    expect(key.rows['stale view length'].page).toBe('0')
    expect(key.rows['access (outside)'].page).toBe('none')
    expect(key.rows['HMAC-SHA256 (window)'].page).toBe(`${MAC.slice(0, 12)}…`)
    for (const n of names) expect(stats.rows['live allocations'][n]).toBe('0')

    if (sodiumAllocatorBuilt) {
      expect(buf.rows.canary.sodium).toBe('yes')
      expect(buf.rows.memfd_secret.sodium).toBe('no')
      expect(key.rows.result.sodium).toBe('ok')
      expect(key.rows['stale view length'].sodium).toBe('0')
      expect(key.rows['access (outside)'].sodium).toBe('none')
      // The adapter over real libsodium claims only what it can check.
      expect(key.rows.result['sodium-native']).toBe('ERR_NOT_ISOLATED')
      expect(buf.rows['guard pages']['sodium-native']).toBe('no')
      expect(buf.rows['no-dump']['sodium-native']).toBe('no')
      expect(stdout).toContain('sodium-native: guardPages, noDump are reported "no" because libsodium ignores the result')
      expect(stats.rows['kernel mappings']['sodium-native']).toBe('0')
    }
  })

  it.skipIf(!canDropPrivilege)('without the right to lock memory, every backend says it is not locked', () => {
    const { status, stdout, stderr } = runUnprivileged(0, 'swap-allocators.mjs')
    expect(status).toBe(0)
    const buf = tables(stdout)['ProtBuf.from(32 bytes)']
    for (const n of buf.names) expect(buf.rows.locked[n]).toBe('no')
    for (const n of buf.names) expect(tables(stdout)['stats() after dispose'].rows['locked bytes'][n]).toBe('0')
    expect(stderr).toContain('[TARSJS_MLOCK_FAILED]')
  })
})
