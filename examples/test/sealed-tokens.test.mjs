// sealed-tokens.mjs: hundreds of tokens stay sealed without CAP_IPC_LOCK under
// a 64 KiB memlock limit; signing works through a read window, survives a
// rekey, and everything is purged at the end.

import { describe, expect, it } from 'vitest'
import { canDropPrivilege, run, runUnprivileged } from './helpers.mjs'

function check ({ status, stdout, stderr }, count) {
  expect(stderr).toBe('')
  expect(status).toBe(0)
  expect(stdout).toContain(`${count} tokens sealed`)
  expect(stdout).toMatch(/each token at rest: sealed true, locked false \(ciphertext only\); sealing key: secretmem (true|false), locked true, no-dump true, split true/)
  expect(stdout).toMatch(/signed a request with service-\d+: [0-9a-f]{16}…, verified true/)
  expect(stdout).toContain(`new sealing key: ${count} tokens sealed again, 0 tampered; the signature still verifies: true`)
  expect(stdout).toContain(`purged ${count} tokens; SealedKey(32 bytes, disposed) is now disposed: true`)
  return Number(/locked now (\d+) KiB/.exec(stdout)[1])
}

describe('sealed-tokens.mjs', () => {
  it.skipIf(!canDropPrivilege)('keeps 500 tokens sealed without CAP_IPC_LOCK under a 64 KiB memlock limit', () => {
    const res = runUnprivileged(65536, 'sealed-tokens.mjs', ['500'])
    expect(res.stdout).toContain('memlock limit 64 KiB')
    expect(check(res, 500)).toBeLessThanOrEqual(64)
  })

  it('runs with default privileges', () => {
    check(run('sealed-tokens.mjs', ['200']), 200)
  })
})
