// SealedKey on a kernel without memfd_secret(2). This kernel has it, so the
// child runs under a seccomp filter that answers the call with ENOSYS.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { withoutMemfdSecret } from '@tarsjs/test-kit'
import { FIXTURES } from './helpers.mjs'

const PREFIX = withoutMemfdSecret()

describe.skipIf(PREFIX === null)('SealedKey without memfd_secret(2)', () => {
  it('the sealing key halves fall back to locked, no-dump pages kept no-access between uses', () => {
    const argv = [...PREFIX, process.execPath, join(FIXTURES, 'sealed-no-secretmem.cjs')]
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30000 })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.protections.sealingKey).toEqual({ secretmem: false, locked: true, noDump: true, split: true, noAccessAtRest: true })
    expect(out.roundTrip).toBe(true)
    expect(out.rekey).toEqual({ rekeyed: 1, tampered: 0 })
    expect(out.afterRekey).toBe(true)
    expect(out.access).toEqual(['none', 'none'])
    expect(out.warnings).toEqual([])
  })
})
