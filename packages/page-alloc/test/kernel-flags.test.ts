// What the kernel reports (/proc/self/smaps) for the allocators' memory: data
// pages locked (lo), no-dump (dd), wipe-on-fork (wf) and rw-p; guard pages and
// cached pages ---p; secretmem as /secretmem. Data is located by writing a
// random marker and finding it through /proc/self/mem.
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { PAGE, type Vma, kernel, os, immediate } from './helpers.js'
import type * as PA from '../src/index.js'

const { SlotAllocator, PageAllocator } = immediate
const P = BigInt(PAGE)
const SECRETMEM = os.capabilities().memfdSecret

/** Writes a fresh marker at `at` in the allocation and returns the marker's address. */
function locate(allocator: PA.Allocator, a: PA.Allocation, at = 0): bigint {
  const marker = randomBytes(24)
  new Uint8Array(allocator.view(a)).set(marker, at)
  const address = kernel.findBytes(marker)
  expect(address, 'marker not found in allocator memory').toBeDefined()
  return address as bigint
}

function vma(address: bigint): Vma {
  const v = kernel.vmaAt(address)
  expect(v, `no mapping at 0x${address.toString(16)}`).toBeDefined()
  return v as Vma
}

const flags = (v: Vma, ...names: string[]) => names.filter((f) => v.flags.has(f))

/** A data page: read-write private, locked in full, no-dump, wipe-on-fork. */
function expectDataPage(address: bigint, perms = 'rw-p'): void {
  const v = vma(address)
  expect(v.perms).toBe(perms)
  expect(flags(v, 'lo', 'dd', 'wf')).toEqual(['lo', 'dd', 'wf'])
  expect(v.locked).toBe(v.pages * (PAGE / 1024))
}

/** An inaccessible page that is not allocator data (a guard page). */
function expectGuard(address: bigint): void {
  const v = vma(address)
  expect(v.perms).toBe('---p')
  expect(flags(v, 'lo', 'dd', 'wf')).toEqual([])
  expect(v.locked).toBe(0)
}

describe('slot allocator in the kernel', () => {
  it('data pages are rw-p lo dd wf; the rest of the mapping is ---p (cached); guard pages bound the mapping', () => {
    const s = new SlotAllocator()
    const a = s.alloc(32)
    const page = kernel.pageOf(locate(s, a))
    expectDataPage(page)
    // The first page activated is the lowest of its mapping: the guard is right before it.
    expectGuard(page - P)
    // The 15 other data pages of the mapping: cached, inaccessible, no-dump, wipe-on-fork, not locked.
    for (let i = 1n; i < 16n; i++) {
      const v = vma(page + i * P)
      expect(v.perms).toBe('---p')
      expect(flags(v, 'lo', 'dd', 'wf')).toEqual(['dd', 'wf'])
    }
    expectGuard(page + 16n * P)
    s.free(a)
  })

  it('a page emptied while another page of its class is warm goes back to the cache: ---p, unlocked', () => {
    const s = new SlotAllocator()
    const full = Array.from({ length: PAGE / 32 }, () => s.alloc(32)) // fills page A
    const extra = s.alloc(32) // page B
    const pageA = kernel.pageOf(locate(s, full[0] as PA.Allocation))
    const pageB = kernel.pageOf(locate(s, extra))
    expect(pageB).toBe(pageA + P)
    const v0 = kernel.status('VmLck')
    s.free(extra) // B empties first: it stays warm (read-write, locked)
    expectDataPage(pageB)
    for (const a of full) s.free(a) // A empties while B is warm: A is retired
    const v = vma(pageA)
    expect(v.perms).toBe('---p')
    expect(v.flags.has('lo')).toBe(false)
    expect(v.locked).toBe(0)
    expectDataPage(pageB)
    expect(kernel.status('VmLck')).toBe(v0 - PAGE / 1024)
  })

  it('freeing one secret never unlocks its neighbours on the page', () => {
    const s = new SlotAllocator()
    const a = s.alloc(32)
    const b = s.alloc(32)
    const page = kernel.pageOf(locate(s, b))
    s.free(a)
    expectDataPage(page)
    expect(s.protections(b).locked).toBe(true)
    s.free(b)
  })

  it('VmLck follows stats().lockedBytes exactly', () => {
    const v0 = kernel.status('VmLck')
    const s = new SlotAllocator()
    const live = []
    for (let i = 0; i < 5000; i++) live.push(s.alloc(1 + (i % 300)))
    expect(kernel.status('VmLck') - v0).toBe(s.stats().lockedBytes / 1024)
    for (const a of live.splice(0, 4000)) s.free(a)
    expect(kernel.status('VmLck') - v0).toBe(s.stats().lockedBytes / 1024)
    for (const a of live) s.free(a)
    s.trim()
    expect(kernel.status('VmLck') - v0).toBe(s.stats().lockedBytes / 1024)
  })
})

describe('page allocator in the kernel', () => {
  it('data pages lo dd wf, guard pages ---p, the data ending right at the trailing guard', () => {
    const p = new PageAllocator({ secretmem: 'off' })
    const a = p.alloc(2 * PAGE) // 3 data pages (the front canary needs room)
    const tail = locate(p, a, 2 * PAGE - 24) + 24n // the byte after the data
    expect(tail % P).toBe(0n)
    expectGuard(tail)
    const first = tail - 3n * P
    for (let i = 0n; i < 3n; i++) expectDataPage(first + i * P)
    // Locked with MLOCK_ONFAULT and every page touched at map time: resident and
    // locked in full (expectDataPage), with no populate pass on each none → readwrite.
    expect(vma(first).flags.has('lf')).toBe(true)
    expectGuard(first - P)
    p.protect(a, 'read')
    expectDataPage(first, 'r--p')
    p.protect(a, 'none')
    expectDataPage(first, '---p') // inaccessible, still locked
    p.protect(a, 'readwrite')
    p.free(a)
    // Cached: wiped, read-write (a native holder past the quarantine never faults), still locked for the next allocation.
    expectDataPage(first, 'rw-p')
    p.trim()
    const gone = kernel.vmaAt(first)
    expect(gone === undefined || !kernel.isAllocatorData(gone)).toBe(true)
  })

  it.runIf(SECRETMEM)('secretmem allocations appear as /secretmem: data rw-s between plain ---p guards; only the data is charged', () => {
    const before = new Set(kernel.smaps().map((v) => v.start))
    const v0 = kernel.status('VmLck')
    const p = new PageAllocator({ secretmem: 'required' })
    const one = p.alloc(100) // one page, in a shared reservation
    const three = p.alloc(3 * PAGE) // four pages, a mapping of its own
    const vmas = kernel.smaps()
    const fresh = vmas.filter((v) => !before.has(v.start) && v.path.startsWith('/secretmem'))
    expect(fresh.map((v) => [v.perms, v.pages]).sort()).toEqual([
      ['rw-s', 1],
      ['rw-s', 4]
    ])
    for (const v of fresh) {
      expect(flags(v, 'lo', 'dd')).toEqual(['lo', 'dd'])
      expect(v.flags.has('dc')).toBe(true) // MADV_DONTFORK: not mapped in a child
      // The guard pages on both sides: anonymous PROT_NONE memory, not secretmem, not locked.
      const i = vmas.indexOf(v)
      for (const guard of [vmas[i - 1], vmas[i + 1]]) {
        expect(guard?.perms).toBe('---p')
        expect(guard?.path).toBe('')
        expect(guard?.flags.has('lo')).toBe(false)
      }
      expect(vmas[i - 1]?.end).toBe(v.start)
      expect(vmas[i + 1]?.start).toBe(v.end)
    }
    expect(kernel.status('VmLck') - v0).toBe(5 * (PAGE / 1024))
    expect(p.stats().lockedBytes).toBe(5 * PAGE)
    p.free(one)
    p.free(three)
    p.trim()
    expect(kernel.status('VmLck')).toBe(v0)
    expect(p.stats().lockedBytes).toBe(0)
  })
})
