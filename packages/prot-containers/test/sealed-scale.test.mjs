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
  // grows in 256 KiB pages during the synchronous loop. Measured: 42 new mappings on Node.js 20,
  // 53 on 22, 72-75 on 24 and 48 on 26, of which 64 on Node.js 24 are V8's 256 KiB heap pages
  // (its young generation grows further in such a loop); 96 leaves room for that.
  it.skipIf(!canDrop)('10,000 live SealedKey(32): at most 1 MiB locked and 96 new mappings', () => {
    const run = unprivileged(10000, 65536)
    expect(run.status, run.stderr).toBe(0)
    const r = records(run.stdout).RESULT
    expect(r.sealed).toBe(10000)
    expect(r.lockedAfter).toBeLessThanOrEqual(1 << 20)
    expect(r.newMappings).toBeLessThanOrEqual(96)
    expect(r.warnings).toEqual([])
    console.log(`10,000 SealedKey(32): VmLck ${r.lockedAfter} B (before the keys: ${r.lockedBefore} B), ${r.newMappings} new mappings`)
  })
})
