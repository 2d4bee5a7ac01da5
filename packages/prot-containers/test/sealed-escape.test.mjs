// A SealedKey window's view detached or moved away by someone else while the
// window is open: the window buffer is wiped natively and never
// reused, so an escaped ArrayBuffer never reads another key's plaintext; a
// write through it is not sealed, and write() throws ERR_VIEW_ESCAPED.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FIXTURES, os, pc } from './helpers.mjs'

const { SealedKey } = pc
const { escapedWindows } = createRequire(import.meta.url)('../dist/window-buffers.js')
// A Node with ArrayBuffer.prototype.transfer(): this one (22+), or one named by TARSJS_NODE22.
const NODE22 = typeof ArrayBuffer.prototype.transfer === 'function' ? process.execPath : process.env.TARSJS_NODE22

describe('SealedKey: a view that escapes its window', () => {
  it('a view detached inside the window: closing works, the buffer is retired, later windows are right', () => {
    const a = SealedKey.from(Buffer.alloc(32, 0x11))
    const before = escapedWindows()
    a.read((bytes) => os.detach(bytes.buffer))
    expect(escapedWindows()).toBe(before + 1)
    // What was written cannot be read back: nothing is sealed, and write() says so.
    expect(() => a.write((bytes) => {
      bytes[1] = 0x44
      os.detach(bytes.buffer)
    })).toThrow(expect.objectContaining({ code: 'ERR_VIEW_ESCAPED' }))
    expect(escapedWindows()).toBe(before + 2)
    expect(a.read((b) => [b[0], b[1], b.byteLength])).toEqual([0x11, 0x11, 32])
    a.dispose()
  })

  it.skipIf(!NODE22)('Node 22+ transfer(): the escaped ArrayBuffer reads zeros, never the next plaintext; its write is refused loudly', () => {
    const r = spawnSync(NODE22, [join(FIXTURES, 'sealed-escape.cjs')], { encoding: 'utf8', timeout: 30000 })
    // The escape is reported once (the page allocator's warning), and nothing else is printed.
    const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.includes('--trace-warnings'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/\[TARSJS_ESCAPED_VIEW\]/)
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({ afterClose: true, duringNext: 0, writeError: 'ERR_VIEW_ESCAPED', writeKept: 0x11, writtenAfter: 0, retired: 2 })
  })
})
