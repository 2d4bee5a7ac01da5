// Policies and what they produce when the system gives everything (root with
// CAP_IPC_LOCK here). Failures of mlock under a limit: memlock-limit.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PAGE, expectCode, kernel, os, pa } from './helpers.js'

const { SlotAllocator, PageAllocator, WARN_MLOCK, WARN_SECRETMEM, MAX_SLOT } = pa
const SECRETMEM = os.capabilities().memfdSecret

let warnings: Array<{ code?: string; message: string }> = []
const onWarning = (w: Error & { code?: string }) => warnings.push({ code: w.code, message: w.message })
beforeEach(() => {
  warnings = []
  process.on('warning', onWarning)
})
afterEach(() => {
  process.off('warning', onWarning)
})
const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('warning codes', () => {
  it('are stable strings', () => {
    expect(WARN_MLOCK).toBe('TARSJS_MLOCK_FAILED')
    expect(WARN_SECRETMEM).toBe('TARSJS_SECRETMEM_FALLBACK')
  })
})

describe('mlock policy', () => {
  it("default 'best-effort': locked when the system allows, no warning", async () => {
    const s = new SlotAllocator()
    const a = s.alloc(32)
    expect(s.protections(a).locked).toBe(true)
    expect(s.stats().unlockedAllocations).toBe(0)
    s.free(a)
    await turn()
    expect(warnings).toEqual([])
  })

  it("'required' locks (and throws when it cannot: see memlock-limit.test.ts)", () => {
    const s = new SlotAllocator({ mlock: 'required' })
    const a = s.alloc(32)
    expect(s.protections(a).locked).toBe(true)
    s.free(a)
  })

  it("'off' never locks: reported by protections and stats, no warning", async () => {
    const v0 = kernel.status('VmLck')
    const s = new SlotAllocator({ mlock: 'off' })
    const small = s.alloc(32)
    const p = new PageAllocator({ mlock: 'off', secretmem: 'off' })
    const big = p.alloc(5000)
    expect(s.protections(small).locked).toBe(false)
    expect(p.protections(big).locked).toBe(false)
    expect(s.stats()).toMatchObject({ lockedBytes: 0, unlockedAllocations: 1 })
    expect(p.stats()).toMatchObject({ lockedBytes: 0, unlockedAllocations: 1 })
    expect(kernel.status('VmLck')).toBe(v0)
    s.free(small)
    p.free(big)
    expect(s.stats().unlockedAllocations).toBe(0)
    await turn()
    expect(warnings).toEqual([])
  })
})

describe('secretmem policy', () => {
  it("SlotAllocator default: slots anonymous ('off'), large allocations secretmem ('auto')", () => {
    const s = new SlotAllocator()
    const small = s.alloc(32)
    const big = s.alloc(MAX_SLOT + 1)
    expect(s.protections(small)).toMatchObject({ secretmem: false, wipeOnFork: true, dontFork: false })
    expect(s.protections(big)).toMatchObject({ secretmem: SECRETMEM, wipeOnFork: !SECRETMEM, dontFork: SECRETMEM })
    s.free(small)
    s.free(big)
  })

  it("SlotAllocator secretmem: 'off' also keeps large allocations anonymous", () => {
    const s = new SlotAllocator({ secretmem: 'off' })
    const big = s.alloc(MAX_SLOT + 1)
    expect(s.protections(big).secretmem).toBe(false)
    s.free(big)
  })

  it.runIf(SECRETMEM)("SlotAllocator secretmem: 'required' puts slots in secretmem; the kernel locks its data pages", () => {
    const v0 = kernel.status('VmLck')
    const s = new SlotAllocator({ secretmem: 'required', mlock: 'off' })
    const a = s.alloc(32)
    expect(s.protections(a)).toMatchObject({ secretmem: true, locked: true, noDump: true, dontFork: true, wipeOnFork: false })
    // The 16 data pages, locked by the kernel from mmap on, whatever the mlock policy; the guard pages are not charged.
    expect(s.stats().lockedBytes).toBe(16 * PAGE)
    expect(kernel.status('VmLck') - v0).toBe((16 * PAGE) / 1024)
    s.free(a)
    expect(s.stats().lockedBytes).toBe(16 * PAGE)
    expect(kernel.status('VmLck') - v0).toBe((16 * PAGE) / 1024)
  })

  it.runIf(SECRETMEM)("PageAllocator: 'auto' (default) and 'required' use secretmem, 'off' does not; no warning", async () => {
    for (const [policy, secret] of [[undefined, true], ['auto', true], ['required', true], ['off', false]] as const) {
      const p = new PageAllocator(policy === undefined ? {} : { secretmem: policy })
      const a = p.alloc(64)
      expect(p.protections(a).secretmem).toBe(secret)
      p.free(a)
    }
    await turn()
    expect(warnings).toEqual([])
  })

  it.skipIf(SECRETMEM)("without memfd_secret: 'required' throws ERR_SECRETMEM_UNAVAILABLE, 'auto' falls back", () => {
    expectCode(() => new PageAllocator({ secretmem: 'required' }).alloc(16), 'ERR_SECRETMEM_UNAVAILABLE')
    const p = new PageAllocator()
    expect(p.protections(p.alloc(16)).secretmem).toBe(false)
  })
})
