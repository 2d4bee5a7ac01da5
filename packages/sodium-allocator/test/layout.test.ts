// libsodium's layout, as the kernel reports it (/proc/self/smaps) and as
// /proc/self/mem shows it: the data ends exactly at a page boundary followed
// by an inaccessible (---p) guard page, the pages are locked and no-dump, and
// a 16-byte canary sits right before the data. Checked for sodium-native too.
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { PAGE, kernel, native, ours } from './helpers.js'
import type { Vma } from './helpers.js'

const SIZES = [8, 31, 32, 33, 100, 1000, PAGE - 16, PAGE - 15, PAGE, PAGE + 1, 2 * PAGE + 100, 5 * PAGE]

interface Placement {
  address: bigint
  vma: Vma
  before?: Vma
  after?: Vma
  canary: Buffer
}

/** Fills `buf` with random bytes and finds where they are in memory. */
function place(buf: Uint8Array): Placement {
  const marker = randomBytes(buf.length)
  buf.set(marker)
  const vmas = kernel.smaps()
  const address = kernel.findBytes(marker, vmas)
  expect(address, 'the buffer’s bytes were not found in no-dump memory').toBeDefined()
  const at = kernel.around(address as bigint, vmas)!
  return { address: address as bigint, ...at, canary: kernel.peek((address as bigint) - 16n, 16) }
}

function expectLibsodiumLayout(p: Placement, n: number): void {
  // The data ends exactly at the end of its mapping, on a page boundary...
  expect(p.address + BigInt(n)).toBe(p.vma.end)
  expect(p.vma.end % BigInt(PAGE)).toBe(0n)
  // ...followed by an inaccessible guard page.
  expect(p.after?.start).toBe(p.vma.end)
  expect(p.after?.perms).toBe('---p')
  // The data's pages are readable, writable, locked and not dumped.
  expect(p.vma.perms).toBe('rw-p')
  expect(p.vma.flags.has('lo')).toBe(true)
  expect(p.vma.flags.has('dd')).toBe(true)
  expect(p.vma.locked * 1024).toBe(Number(p.vma.end - p.vma.start))
  // The canary is 16 random bytes, neither the fill byte nor a wipe.
  expect(p.canary.equals(Buffer.alloc(16, 0xdb))).toBe(false)
  expect(p.canary.equals(Buffer.alloc(16, 0))).toBe(false)
}

describe('layout of secure buffers', () => {
  it('ends every buffer at a page boundary followed by a ---p guard page; locked, no-dump, canary before', () => {
    for (const n of SIZES) {
      const buf = ours.sodium_malloc(n)
      const p = place(buf)
      expectLibsodiumLayout(p, n)
      // Our mapping has a guard page before its data pages as well, and is wiped in a forked child.
      expect(p.before?.end).toBe(p.vma.start)
      expect(p.before?.perms).toBe('---p')
      expect(p.vma.flags.has('wf')).toBe(true)
      expect(p.vma.end - p.vma.start).toBe(BigInt(Math.ceil((n + 16) / PAGE) * PAGE))
      ours.sodium_free(buf)
    }
  })

  it('is the same layout as sodium-native’s', () => {
    for (const n of SIZES) {
      const buf = native.sodium_malloc(n)
      expectLibsodiumLayout(place(buf), n)
      native.sodium_free(buf)
    }
  })

  it('uses one canary per allocator: equal for equal offsets, as libsodium’s per-process canary', () => {
    const a = ours.sodium_malloc(32)
    const b = ours.sodium_malloc(32)
    const pa = place(a)
    const pb = place(b)
    expect(pa.canary.equals(pb.canary)).toBe(true)
    expect(pa.vma.start).not.toBe(pb.vma.start)
    ours.sodium_free(a)
    ours.sodium_free(b)
  })

  it('makes no-access buffers ---p; wipes freed ones at once, quarantines them readable, then caches them wiped', async () => {
    const buf = ours.sodium_malloc(64)
    const p = place(buf)
    ours.sodium_mprotect_noaccess(buf)
    const vma = kernel.around(p.address)!.vma
    expect(vma.perms).toBe('---p')
    ours.sodium_mprotect_readwrite(buf)
    buf.fill(0x5a)
    ours.sodium_free(buf)
    // Quarantined: still there, wiped at once and readable (zeros), so that a
    // native holder of the old pointer never faults and never reads another secret.
    const quarantined = kernel.around(p.address)!.vma
    expect(quarantined.perms).toBe('rw-p')
    expect(kernel.peek(p.address, 64).every((b) => b === 0)).toBe(true)
    // Sixteen later frees and a turn of the event loop: cached, still read-write
    // (a holder past the quarantine never faults) and wiped again. The canary
    // before the data stays for the next buffer of this size.
    for (let i = 0; i < 16; i++) ours.sodium_free(ours.sodium_malloc(64))
    await new Promise((resolve) => setImmediate(resolve))
    const cached = kernel.around(p.address)!.vma
    expect(cached.perms).toBe('rw-p')
    expect(ours.defaultSodiumAllocator().stats().cachedPages).toBeGreaterThan(0)
    expect(kernel.peek(p.address, 64).every((b) => b === 0)).toBe(true)
    expect(kernel.peek(p.address - 16n, 16)).toEqual(p.canary)
  })
})
