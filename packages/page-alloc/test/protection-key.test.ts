// PageAllocator's protectionKey policy and copyOut/copyIn: 'none' through a
// memory protection key where the CPU has one, and copies that need no view.
// The kernel's view of the pages is read back from /proc/self/smaps.
import { describe, expect, it } from 'vitest'
import { expectCode, kernel, os, pa, pagePlace } from './helpers.js'

const PKEYS = os.capabilities().protectionKeys

describe('protectionKey policy', () => {
  it('is validated: only auto, required and off', () => {
    for (const bad of ['on', 1, null, true]) expectCode(() => new pa.PageAllocator({ protectionKey: bad as never }), 'ERR_INVALID_ARG_VALUE')
  })

  it('off (the default) protects none with PROT_NONE; protections say protectionKey false', () => {
    for (const pages of [new pa.PageAllocator(), new pa.PageAllocator({ protectionKey: 'off' })]) {
      const a = pages.alloc(32)
      pages.protect(a, 'none')
      expect(pages.protections(a)).toMatchObject({ access: 'none', protectionKey: false })
      pages.free(a)
    }
  })

  it.runIf(PKEYS)('auto and required key the pages: rw-p with a protection key in smaps, access none, no view', () => {
    for (const protectionKey of ['auto', 'required'] as const) {
      const pages = new pa.PageAllocator({ protectionKey, secretmem: 'off' })
      const before = kernel.smaps()
      const a = pages.alloc(32)
      const view = new Uint8Array(pages.view(a))
      view.fill(3)
      pages.protect(a, 'none')
      expect(view.length).toBe(0)
      expect(pages.protections(a)).toMatchObject({ access: 'none', protectionKey: true })
      expectCode(() => pages.view(a), 'ERR_NO_ACCESS')
      const fresh = kernel.smaps().filter((v) => !before.some((b) => b.start === v.start && b.end === v.end))
      const keyed = fresh.filter((v) => v.protectionKey !== 0)
      expect(keyed.map((v) => [v.perms, v.pages])).toEqual([['rw-p', 1]])
      pages.protect(a, 'read')
      expect(pages.protections(a)).toMatchObject({ access: 'read', protectionKey: false })
      expect(Array.from(new Uint8Array(pages.view(a)))).toEqual(new Array(32).fill(3))
      expect(kernel.smaps().some((v) => v.start === keyed[0]?.start && v.protectionKey !== 0)).toBe(false)
      pages.free(a)
    }
  })

  it.runIf(!PKEYS)('required throws ERR_PROTECTION_KEY_UNAVAILABLE where there is no key; auto falls back to PROT_NONE', () => {
    expectCode(() => new pa.PageAllocator({ protectionKey: 'required' }), 'ERR_PROTECTION_KEY_UNAVAILABLE')
    const pages = new pa.PageAllocator({ protectionKey: 'auto' })
    const a = pages.alloc(8)
    pages.protect(a, 'none')
    expect(pages.protections(a).protectionKey).toBe(false)
    pages.free(a)
  })

  it.runIf(PKEYS)('free of a keyed allocation wipes it (read back from the reused mapping) and takes the key away', () => {
    const pages = new pa.PageAllocator({ protectionKey: 'auto', secretmem: 'off', quarantine: { frees: 0, bytes: 0 } })
    const a = pages.alloc(64)
    new Uint8Array(pages.view(a)).fill(0xa5)
    pages.protect(a, 'none')
    const { region, dataOffset } = pagePlace(a)
    pages.free(a)
    const b = pages.alloc(64)
    expect(pagePlace(b).region).toBe(region) // the same mapping, from the cache
    expect(pagePlace(b).dataOffset).toBe(dataOffset)
    expect(Array.from(new Uint8Array(pages.view(b))).every((x) => x === 0)).toBe(true)
    expect(pages.protections(b)).toMatchObject({ access: 'readwrite', protectionKey: false })
    pages.free(b)
  })
})

describe('copyOut / copyIn', () => {
  const policies = PKEYS ? (['auto', 'off'] as const) : (['off'] as const)
  for (const protectionKey of policies) {
    it(`copy the exact bytes whatever the access, which stays as it was (protectionKey ${protectionKey})`, () => {
      const pages = new pa.PageAllocator({ protectionKey })
      const a = pages.alloc(37)
      const data = Uint8Array.from({ length: 37 }, (_, i) => i + 1)
      for (const access of ['readwrite', 'read', 'none'] as const) {
        pages.protect(a, 'readwrite')
        pages.copyIn(a, new Uint8Array(37))
        pages.protect(a, access)
        pages.copyIn(a, data)
        const out = new Uint8Array(37)
        pages.copyOut(a, out)
        expect(out).toEqual(data)
        expect(pages.protections(a).access).toBe(access)
      }
      pages.protect(a, 'readwrite')
      expect(new Uint8Array(pages.view(a))).toEqual(data)
      pages.free(a)
    })
  }

  it('a read view stays attached across copyIn (read -> readwrite -> read), and sees the new bytes', () => {
    const pages = new pa.PageAllocator()
    const a = pages.alloc(4)
    pages.protect(a, 'read')
    const view = new Uint8Array(pages.view(a))
    pages.copyIn(a, Uint8Array.of(4, 3, 2, 1))
    expect(Array.from(view)).toEqual([4, 3, 2, 1])
    expect(pages.protections(a).access).toBe('read')
    pages.free(a)
  })

  it('refuses bad arguments with typed errors and changes nothing', () => {
    const pages = new pa.PageAllocator()
    const other = new pa.PageAllocator()
    const a = pages.alloc(8)
    const b = other.alloc(8)
    new Uint8Array(pages.view(a)).fill(9)
    pages.protect(a, 'none')
    for (const bad of [null, [1, 2], new ArrayBuffer(8), new Uint16Array(4), Buffer.alloc(8).toString(), new DataView(new ArrayBuffer(8))]) {
      expectCode(() => pages.copyOut(a, bad as never), 'ERR_INVALID_ARG_TYPE')
      expectCode(() => pages.copyIn(a, bad as never), 'ERR_INVALID_ARG_TYPE')
    }
    for (const n of [0, 7, 9]) {
      expectCode(() => pages.copyOut(a, new Uint8Array(n)), 'ERR_INVALID_ARG_VALUE')
      expectCode(() => pages.copyIn(a, new Uint8Array(n)), 'ERR_INVALID_ARG_VALUE')
    }
    expectCode(() => pages.copyOut(b, new Uint8Array(8)), 'ERR_FOREIGN_ALLOCATION')
    expectCode(() => pages.copyOut(null as never, new Uint8Array(8)), 'ERR_INVALID_ARG_TYPE')
    expect(pages.protections(a).access).toBe('none')
    const out = new Uint8Array(8)
    pages.copyOut(a, out)
    expect(Array.from(out)).toEqual(new Array(8).fill(9))
    pages.free(a)
    expectCode(() => pages.copyOut(a, new Uint8Array(8)), 'ERR_ALLOCATION_FREED')
    other.free(b)
  })

  it('an empty allocation copies nothing', () => {
    const pages = new pa.PageAllocator()
    const a = pages.alloc(0)
    pages.copyOut(a, new Uint8Array(0))
    pages.copyIn(a, new Uint8Array(0))
    pages.free(a)
  })
})
