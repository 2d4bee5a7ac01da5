// Every ordinary way of printing a container (and a window) shows its length
// and state, never a byte of the secret. The secret has a recognisable pattern;
// each output is searched for it as text, hex, base64 and decimal byte lists.
import { Console } from 'node:console'
import { PassThrough } from 'node:stream'
import { format, inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { PageAllocator, ProtBuf, ProtKey, SlotAllocator, records, runFixture } from './helpers.mjs'

export const SECRET_TEXT = 'ZQX7-tarsjs-secret-ZQX7-pattern!'
const SECRET = Buffer.from(SECRET_TEXT, 'latin1')

/** Every trace of the secret an output could hold: 4-byte runs as text, hex, decimal lists; base64. */
function traces () {
  const out = ['ZQX7', 'secret-', SECRET.toString('base64').slice(0, 12), SECRET.toString('base64url').slice(0, 12)]
  for (let i = 0; i + 4 <= SECRET.length; i++) {
    const run = SECRET.subarray(i, i + 4)
    out.push(run.toString('hex'), run.toString('hex').toUpperCase())
    out.push([...run].join(','), [...run].join(' '))
    out.push(`"${i}":${run[0]},"${i + 1}":${run[1]}`) // JSON of a typed array
  }
  return out
}
const TRACES = traces()

function expectClean (output, label) {
  expect(typeof output).toBe('string')
  // Also without whitespace, so padded columns of numbers (util.inspect of bytes) match `90,81,88,55`.
  const squeezed = output.replace(/\s+/g, '')
  for (const t of TRACES) {
    expect(output.includes(t), `${label} contains ${JSON.stringify(t)}`).toBe(false)
    expect(squeezed.includes(t.replace(/\s+/g, '')), `${label} contains ${JSON.stringify(t)} (spaces removed)`).toBe(false)
  }
}

/** All printing paths of one value, as [label, output]. */
function printings (c) {
  const lines = []
  const stream = new PassThrough()
  stream.on('data', (d) => lines.push(String(d)))
  const con = new Console({ stdout: stream, stderr: stream })
  con.log(c)
  con.log('%s %o %O %j', c, c, c, c)
  con.info({ nested: [c] })
  con.error(c)
  con.warn('value:', c)
  con.dir(c)
  con.dir({ deep: { deeper: { deepest: [c] } } }, { depth: 10 })
  con.table(c)
  con.table([c, { c }])
  return [
    ['util.inspect', inspect(c)],
    ['util.inspect showHidden/depth', inspect(c, { showHidden: true, depth: Infinity })],
    ['util.inspect colors', inspect(c, { colors: true })],
    ['util.inspect nested', inspect({ a: { b: [c, new Map([['k', c]]), new Set([c])] } }, { depth: Infinity })],
    ['util.inspect customInspect: false', inspect(c, { customInspect: false, depth: Infinity })],
    ['console (captured)', lines.join('')],
    ['String()', String(c)],
    ['toString()', c.toString()],
    ['template literal', `${c}`],
    ['Array#join', [c, c].join()],
    ['JSON.stringify', JSON.stringify(c)],
    ['JSON.stringify nested', JSON.stringify({ a: [{ b: c }], c })],
    ['JSON.stringify indented', JSON.stringify({ a: c }, null, 2)],
    ['util.format %s %o %O %j', format('%s %o %O %j', c, c, c, c)],
    ['util.format without format string', format(c, c)],
    ['Error message', new Error(`failed with ${c}`).message]
  ]
}

function check (c, expected) {
  const all = printings(c)
  for (const [label, output] of all) expectClean(output, label)
  // The captured console really printed (a silent capture would pass the search trivially).
  const captured = all.find(([label]) => label === 'console (captured)')[1]
  expect(captured.split(expected).length - 1).toBeGreaterThanOrEqual(8)
  expect(String(c)).toBe(expected)
  expect(inspect(c)).toBe(expected)
  // The numeric and 'default' conversions would make the description into data: they throw.
  for (const convert of [() => c + '', () => 'key=' + c, () => +c, () => format('%d', c)]) {
    expect(convert).toThrow(expect.objectContaining({ code: 'ERR_SECRET_COERCION' }))
  }
  expect(JSON.stringify(c)).toBe(JSON.stringify(expected))
  expect(JSON.parse(JSON.stringify({ nested: [c] }))).toEqual({ nested: [expected] })
}

describe('redaction', () => {
  it('the search finds the secret when it is printed (the check can fail)', () => {
    expect(() => expectClean(inspect(new Uint8Array(SECRET)), 'bytes')).toThrow()
    expect(() => expectClean(JSON.stringify(new Uint8Array(SECRET)), 'bytes')).toThrow()
    expect(() => expectClean(SECRET.toString('hex'), 'hex')).toThrow()
    expect(() => expectClean(SECRET.toString('base64'), 'base64')).toThrow()
    expect(() => expectClean(SECRET_TEXT, 'text')).toThrow()
    expect(() => expectClean(inspect({ k: new Uint8Array(SECRET).subarray(7, 12) }), 'a few bytes')).toThrow()
    expect(() => expectClean(format('%o', new Uint8Array(SECRET)), '%o')).toThrow()
  })

  it('ProtBuf: every printing path shows only length and state', () => {
    const buf = ProtBuf.from(SECRET)
    check(buf, 'ProtBuf(32 bytes, read-write)')
    buf.dispose()
    check(buf, 'ProtBuf(32 bytes, disposed)')
  })

  it('ProtKey: every printing path, with no window, inside read and write windows, and disposed', () => {
    const key = ProtKey.from(SECRET)
    check(key, 'ProtKey(32 bytes, no access)')
    key.read(() => check(key, 'ProtKey(32 bytes, read window)'))
    key.write(() => check(key, 'ProtKey(32 bytes, read-write window)'))
    key.dispose()
    check(key, 'ProtKey(32 bytes, disposed)')
  })

  it('reader()/writer() windows print redacted too, although they hold the readable view', () => {
    const key = ProtKey.from(SECRET)
    const r = key.reader()
    check(r, 'ProtKey read window(32 bytes, open)')
    expect(Object.keys(r)).toEqual([]) // no enumerable content: spread and console.table see nothing
    r.close()
    check(r, 'ProtKey read window(32 bytes, closed)')
    const w = key.writer()
    check(w, 'ProtKey write window(32 bytes, open)')
    w.close()
    key.dispose()
  })

  it('a child printing through the real console.log, console.error and process.stdout shows no trace', () => {
    const res = runFixture('print.cjs', [SECRET.toString('hex')])
    expect(res.status, res.stderr).toBe(0)
    const rec = records(res.stdout)
    expect(rec.DONE).toEqual({ lines: 8 })
    expect(res.stdout).toContain('ProtKey(32 bytes, no access)')
    expect(res.stdout).toContain('ProtBuf(32 bytes, read-write)')
    expectClean(res.stdout, 'child stdout')
    expectClean(res.stderr, 'child stderr')
  })
})

describe('allocation handles of the allocators print no memory', () => {
  it('inspect and JSON of slot and page handles show a description only', () => {
    const slots = new SlotAllocator()
    const pages = new PageAllocator({ secretmem: 'off' })
    const a = slots.alloc(32)
    const b = pages.alloc(32)
    new Uint8Array(slots.view(a)).fill(0x41)
    new Uint8Array(pages.view(b)).fill(0x42)
    for (const [h, name] of [[a, 'SlotAllocation'], [b, 'PageAllocation']]) {
      const shown = inspect(h, { depth: 8, showHidden: true }) + JSON.stringify({ h })
      expect(shown).toContain(`${name}(32 bytes)`)
      expect(shown).not.toMatch(/41 41|42 42|AAAA|BBBB/)
    }
    slots.free(a)
    pages.free(b)
    expect(inspect(a)).toBe('SlotAllocation(32 bytes, freed)')
  })
})
