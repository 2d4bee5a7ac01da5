// Sealed keys cost no locked memory at rest: 100,000 live SealedKey(32)s
// without CAP_IPC_LOCK under a 64 KiB memlock limit, every one sealed; 10,000
// cost at most 1 MiB locked and 64 new mappings (sodium-native: 39 MiB and 40,000).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FIXTURES, SECRETMEM, records, which } from './helpers.mjs'

const SETPRIV = which('setpriv')
const PRLIMIT = which('prlimit')
const canDrop = SETPRIV !== null && PRLIMIT !== null && process.getuid() === 0

function unprivileged (count, memlock) {
  const argv = [SETPRIV, '--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', '--', PRLIMIT, `--memlock=${memlock}`, '--core=0',
    process.execPath, join(FIXTURES, 'sealed-scale.cjs'), String(count)]
  const res = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 240000 })
  if (res.error) throw res.error
  return res
}

describe('SealedKey at scale', () => {
  it.skipIf(!canDrop)('100,000 live SealedKey(32) without CAP_IPC_LOCK under a 64 KiB memlock limit, every one sealed', () => {
    const run = unprivileged(100000, 65536)
    expect(run.status, run.stderr).toBe(0)
    const r = records(run.stdout).RESULT
    expect(r.memlockLimit).toBe(65536)
    expect(r.sealed).toBe(100000)
    expect(r.readable).toBe(true)
    expect(r.windowLocked).toBe(true)
    expect(r.atRestLocked).toBe(false)
    expect(r.sealingKey.secretmem).toBe(SECRETMEM)
    expect(r.sealingKey.locked).toBe(true)
    expect(r.lockedAfter).toBeLessThanOrEqual(65536)
    expect(r.warnings).toEqual([])
    console.log(`100,000 SealedKey(32): VmLck ${r.lockedAfter} B, ${r.newMappings} new mappings`)
  })

  // Mappings of the whole process: the keys' slot mappings (10,000 ciphertexts of 60 bytes fill
  // three 64-page slot mappings), the window buffers' slot mapping, and the JavaScript heap, which
  // grows in 256 KiB pages during the synchronous loop (and its young generation with what the keys
  // keep). A key keeps no ArrayBuffer of its ciphertext (copied in and out natively), so it costs
  // the heap a few hundred bytes: 37-38 new mappings measured on Node.js 20, 46-47 on 22, 32-33 on
  // 24 and 39-41 on 26 (72-75 on 24 when each key kept a view).
  it.skipIf(!canDrop)('10,000 live SealedKey(32): at most 1 MiB locked and 64 new mappings', () => {
    const run = unprivileged(10000, 65536)
    expect(run.status, run.stderr).toBe(0)
    const r = records(run.stdout).RESULT
    expect(r.sealed).toBe(10000)
    expect(r.lockedAfter).toBeLessThanOrEqual(1 << 20)
    expect(r.newMappings).toBeLessThanOrEqual(64)
    expect(r.warnings).toEqual([])
    console.log(`10,000 SealedKey(32): VmLck ${r.lockedAfter} B (before the keys: ${r.lockedBefore} B), ${r.newMappings} new mappings`)
  })
})
