// The allocators on a kernel without memfd_secret(2). This kernel has it, so
// the child runs under a seccomp filter that answers the call with ENOSYS,
// as older kernels (or ones booted without secretmem) do.
import { beforeAll, describe, expect, it } from 'vitest'
import { type FixtureRun, expectClean, runFixture } from './helpers.js'
import { withoutMemfdSecret } from '@tarsjs/test-kit'

const PREFIX: string[] | null = withoutMemfdSecret()

describe.skipIf(PREFIX === null)('without memfd_secret(2)', () => {
  let run: FixtureRun
  beforeAll(() => {
    run = runFixture('no-secretmem.cjs', [], { wrap: PREFIX })
  })

  it('the child ran to the end and the kernel reported no secretmem', () => {
    expectClean(run)
    expect(run.rec.CAPS.memfdSecret).toBe(false)
    expect(run.rec.SECRETMEM_VMAS).toBe(0)
  })

  it("'auto' (the page allocator's default) uses anonymous memory that is still locked, no-dump, wipe-on-fork and guarded", () => {
    expect(run.rec.AUTO.protections).toMatchObject({
      secretmem: false,
      locked: true,
      noDump: true,
      wipeOnFork: true,
      guardPages: true,
      isolated: true,
      access: 'readwrite'
    })
    expect(run.rec.AUTO.stats).toMatchObject({ allocations: 1, bytes: 64, mappings: 1, unlockedAllocations: 0 })
    expect(run.rec.AUTO_DATA.intact).toBe(true)
  })

  it("'required' throws ERR_SECRETMEM_UNAVAILABLE and leaves no mapping, lock or stat behind", () => {
    expect(run.rec.REQUIRED_PAGE.code).toBe('ERR_SECRETMEM_UNAVAILABLE')
    expect(run.rec.REQUIRED_PAGE.message).toMatch(/memfd_secret/)
    // 20 refusals: no region of the addon, no budgeted mapping, no lock and no stat left behind.
    expect(run.rec.REQUIRED_PAGE_AFTER).toEqual({
      stats: expect.objectContaining({ allocations: 0, bytes: 0, mappings: 0, lockedBytes: 0, mappedBytes: 0 }),
      vmLckDelta: 0,
      regionDelta: 0,
      budgetDelta: 0,
      mapDelta: expect.any(Number)
    })
    expect(run.rec.REQUIRED_SLOT.code).toBe('ERR_SECRETMEM_UNAVAILABLE')
  })

  it('the slot allocator works as usual: slots and its large allocations in locked anonymous memory', () => {
    expect(run.rec.SLOTS.small).toMatchObject({ secretmem: false, locked: true, noDump: true })
    expect(run.rec.SLOTS.large).toMatchObject({ secretmem: false, locked: true, noDump: true, guardPages: true })
  })

  it("no warning: 'auto' means secretmem where the kernel has it, and protections() says which", () => {
    expect(run.rec.WARNINGS).toEqual([])
  })
})
