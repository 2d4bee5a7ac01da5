// The concurrency, view-failure, typed-array and no-external-buffer tests again,
// against an AddressSanitizer build of the addon (scripts/asan-test.sh; the
// whole suite: `pnpm --filter @tarsjs/os-memlock test:asan`). Skipped where gcc
// has no libasan or Node's headers are missing, and inside an ASan run itself.
import { spawnSync } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PKG } from './helpers.mjs'

const libasan = spawnSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout?.trim() ?? ''
const headers = join(dirname(dirname(realpathSync(process.execPath))), 'include', 'node', 'node_api.h')
const canRun = libasan.startsWith('/') && existsSync(libasan) && existsSync(headers) && !process.env.TARSJS_OS_MEMLOCK_BINARY

describe('AddressSanitizer', () => {
  it.skipIf(!canRun)('the addon under ASan: no report, tests pass', () => {
    const files = ['test/registry-threads.test.mjs', 'test/view-failure.test.mjs', 'test/typed-arrays.test.mjs', 'test/no-external-buffers.test.mjs', 'test/detach.test.mjs']
    const res = spawnSync(join(PKG, 'scripts', 'asan-test.sh'), files, {
      cwd: PKG, encoding: 'utf8', timeout: 240000, env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` }
    })
    expect(res.stderr).not.toContain('AddressSanitizer')
    expect(res.stdout).toContain('asan-test: no AddressSanitizer report; tests passed')
    expect(res.status).toBe(0)
  }, 300000)
})
