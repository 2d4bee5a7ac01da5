// detach() only detaches views of regions: Node's shared Buffer pool, a
// caller's own ArrayBuffer or any other memory is refused, untouched.
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { PKG, PS, m, valueErr } from './helpers.mjs'

const HAS_TRANSFER = typeof ArrayBuffer.prototype.transfer === 'function'

describe('detach', () => {
  it("refuses Node's shared Buffer pool (ERR_INVALID_ARG_VALUE); Buffer.from keeps working", () => {
    // in a child process: detaching the pool would break Buffer.from for the whole process
    const script = `
      const m = require(${JSON.stringify(PKG)})
      const pool = Buffer.from('x').buffer
      const size = pool.byteLength
      let code = null
      try { m.detach(pool) } catch (e) { code = e.code }
      let after
      try { after = Buffer.from('still works').toString() } catch (e) { after = e.code || e.message }
      console.log(JSON.stringify({ size, code, length: pool.byteLength, after, same: Buffer.from('y').buffer === pool }))`
    const res = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    expect(res.stderr).toBe('')
    const out = JSON.parse(res.stdout)
    expect(out.size).toBeGreaterThan(1) // a pool, not the one byte
    expect(out).toEqual({ size: out.size, code: 'ERR_INVALID_ARG_VALUE', length: out.size, after: 'still works', same: true })
  })

  it('refuses an ordinary ArrayBuffer, an empty one and one from a large Buffer, leaving each intact', () => {
    for (const ab of [new ArrayBuffer(8), new ArrayBuffer(0), Buffer.alloc(1 << 20).buffer, new Float64Array(4).buffer]) {
      const n = ab.byteLength
      new Uint8Array(ab).fill(3)
      valueErr(() => m.detach(ab))
      expect(ab.byteLength).toBe(n)
      expect(new Uint8Array(ab).every((x) => x === 3)).toBe(true)
    }
  })

  it('refuses a heap copy of a view, and detaches the view itself', () => {
    // a view of one region is accepted; one of a heap copy of its bytes is not
    const r = m.map(PS)
    const v = m.view(r, PS - 8, 8)
    const copy = v.slice(0)
    valueErr(() => m.detach(copy))
    expect(copy.byteLength).toBe(8)
    m.detach(v)
    expect(v.byteLength).toBe(0)
    m.unmap(r)
  })

  it('detaches a view; a detached buffer (a view or not) is left as it is', () => {
    const r = m.map(PS)
    const v = m.view(r, 0, 16)
    m.detach(v)
    expect(v.byteLength).toBe(0)
    expect(m.detach(v)).toBe(undefined)
    const plain = new ArrayBuffer(4)
    structuredClone(plain, { transfer: [plain] })
    expect(m.detach(plain)).toBe(undefined)
    m.unmap(r)
  })

  it.skipIf(!HAS_TRANSFER)('detaches a buffer that took over a view\'s memory (ArrayBuffer.prototype.transfer)', () => {
    const r = m.map(PS)
    const v = m.view(r, 32, 16)
    const moved = v.transfer()
    expect(v.byteLength).toBe(0)
    expect(moved.byteLength).toBe(16)
    m.detach(moved)
    expect(moved.byteLength).toBe(0)
    m.unmap(r)
  })
})
