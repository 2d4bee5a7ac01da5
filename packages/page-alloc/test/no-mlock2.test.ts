// The page allocator where mlock2(2) is refused but mlock(2) allowed (a
// seccomp allow-list written before mlock2 existed): it falls back to plain
// mlock, every data page still locked, with no warning. The child runs under
// the test kit's seccomp launcher, which answers mlock2 with ENOSYS or EPERM.
import { describe, expect, it } from 'vitest'
import { expectClean, runFixture } from './helpers.js'
import { withoutMlock2 } from '@tarsjs/test-kit'

describe.skipIf(withoutMlock2(38) === null)('without mlock2(2)', () => {
  it.each([['ENOSYS', 38], ['EPERM', 1]])('refused with %s: locked with plain mlock, in full, no warning', (_name, errno) => {
    const run = runFixture('no-mlock2.cjs', [], { wrap: withoutMlock2(errno) })
    expectClean(run)
    const page = run.rec.PAGE
    expect(page.protections).toMatchObject({ locked: true, noDump: true, guardPages: true, secretmem: false })
    expect(page.stats).toMatchObject({ allocations: 3, unlockedAllocations: 0, lockedBytes: 3 * 4 * 4096 })
    expect(page.perms).toBe('rw-p')
    expect(page.flags).toEqual(['lo']) // plain mlock: no 'lf'
    expect(page.locked).toBe(page.pages * 4)
    expect(run.rec.REUSED).toEqual({ zero: true, locked: true, hits: 1 })
    expect(run.rec.WARNINGS).toEqual([])
  })
})
