// The FinalizationRegistry backstop (in a child run with --expose-gc): a
// container dropped without dispose() is wiped and freed once collected,
// reclaimedCount() counts it, allocator stats return to zero, and with leak
// warnings on each one is reported with code TARSJS_CONTAINER_LEAKED.
import { describe, expect, it } from 'vitest'
import { pc, records, runFixture } from './helpers.mjs'

function run (mode) {
  const res = runFixture('backstop.cjs', [mode], { nodeArgs: ['--expose-gc'] })
  expect(res.status, res.stderr).toBe(0)
  return { ...records(res.stdout).RESULT, stderr: res.stderr }
}
let quiet = null
const runQuiet = () => (quiet ??= run('quiet'))

describe('backstop', () => {
  it('frees and wipes every undisposed container once collected; stats return to zero', () => {
    const r = runQuiet()
    expect(r.before.page).toEqual({ allocations: 4, bytes: 256 })
    expect(r.before.slot).toEqual({ allocations: 44, bytes: 784 })
    expect(r.before.reclaimed).toBe(0)
    expect(r.after.reclaimed).toBe(r.dropped)
    expect(r.after.page).toEqual({ allocations: 0, bytes: 0 })
    expect(r.after.slot).toEqual({ allocations: 0, bytes: 0 })
    expect(r.defaults).toEqual({ buf: { allocations: 0, bytes: 0 }, key: { allocations: 0, bytes: 0 } })
    expect(r.reused).toBe(true)
    expect(r.zero).toBe(true)
    expect(r.warnings).toEqual([]) // leak warnings are off by default
  })

  it('a view kept without its container is detached when the container is collected, never left dangling', () => {
    const r = runQuiet()
    expect(r.orphan).toEqual({ before: 48, after: 0, read: 'undefined' })
  })

  it('with setLeakWarnings(true) reports each reclaimed container once, with a stable code', () => {
    const r = run('warn')
    expect(r.after.reclaimed).toBe(r.dropped)
    expect(r.warnings).toHaveLength(r.dropped)
    for (const w of r.warnings) {
      expect(w.code).toBe('TARSJS_CONTAINER_LEAKED')
      expect(w.name).toBe('TarsjsWarning')
      expect(w.message).toMatch(/garbage collected without dispose/)
    }
    expect(r.stderr).toContain('TARSJS_CONTAINER_LEAKED')
    expect(pc.WARN_LEAK).toBe('TARSJS_CONTAINER_LEAKED')
  })

  it('reclaimedCount() is 0 in a process where nothing leaked', () => {
    expect(pc.reclaimedCount()).toBe(0)
  })
})
