// `using` declarations (down-levelled by the test transform; Node 20 has
// Symbol.dispose but not the syntax) close windows and dispose containers at
// the end of the block, also when the block throws.
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'

const require = createRequire(import.meta.url)
/** @type {typeof import('../dist/index.js')} */
const pc = require('../dist/index.js')
const { ProtBuf, ProtKey } = pc
/** @type {typeof import('@tarsjs/page-alloc')} */
const pa = require('@tarsjs/page-alloc')
const { PageAllocator } = pa

describe('using', () => {
  it('closes a reader at the end of its block', () => {
    const key = ProtKey.random(32)
    let seen = null
    {
      using r = key.reader()
      seen = r.bytes
      expect(seen.byteLength).toBe(32)
      // The key's pages stay no access: the reader holds a copy.
      expect(key.protections().access).toBe('none')
      expect(key.protections().window).not.toBe(null)
    }
    expect(seen.byteLength).toBe(0)
    expect(key.protections().access).toBe('none')
    expect(key.protections().window).toBe(null)
    key.dispose()
  })

  it('closes a writer when the block throws', () => {
    const key = ProtKey.alloc(8)
    expect(() => {
      using w = key.writer()
      w.bytes.fill(3)
      throw new Error('leave the block')
    }).toThrow('leave the block')
    expect(key.windows).toEqual({ readers: 0, writer: false })
    expect(key.read((b) => b.every((x) => x === 3))).toBe(true)
    key.dispose()
  })

  it('disposes containers in reverse order of declaration', () => {
    const allocator = new PageAllocator({ secretmem: 'off' })
    const order = []
    const secret = randomBytes(32)
    {
      using key = ProtKey.from(secret, { allocator })
      using buf = ProtBuf.from(secret, { allocator })
      using r = key.reader()
      expect(buf.equals(r.bytes)).toBe(true)
      expect(allocator.stats().allocations).toBe(2)
      order.push(String(key), String(buf))
    }
    expect(order).toEqual(['ProtKey(32 bytes, read window)', 'ProtBuf(32 bytes, read-write)'])
    // The reader closed first, so disposing the key was allowed.
    expect(allocator.stats().allocations).toBe(0)
  })
})
