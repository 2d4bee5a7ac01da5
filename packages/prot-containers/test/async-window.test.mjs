// Async windows: readAsync/writeAsync and the `await using` guards keep the
// sync rules across awaits (readers counted, one writer alone, conflicts
// refused), and a deadline closes a window left open and rejects.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'

const require = createRequire(import.meta.url)
/** @type {typeof import('../dist/index.js')} */
const pc = require('../dist/index.js')
const { ProtKey, SealedKey, DEFAULT_WINDOW_TIMEOUT } = pc
const { windowBufferAllocator } = require('../dist/sealed-allocators.js')

/**
 * A promise settled by hand.
 * @template [T=void]
 * @returns {{ promise: Promise<T>, resolve: (v?: T) => void, reject: (e: unknown) => void }}
 */
function deferred () {
  /** @type {(v?: T) => void} */
  let resolve
  /** @type {(e: unknown) => void} */
  let reject
  /** @type {Promise<T>} */
  const promise = new Promise((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/**
 * The plaintext is readable: a window (a copy of the key) is open. A ProtKey's
 * own pages stay no access all along; a SealedKey's stay sealed outside windows.
 * @param {Key} key
 */
function readable (key) {
  const p = key.protections()
  if ('sealed' in p) return !p.sealed
  expect(p.access).toBe('none')
  return p.window !== null
}

/** @typedef {import('../dist/index.js').ProtKey | import('../dist/index.js').SealedKey} Key */

/** @type {Array<[string, (bytes: Uint8Array) => Key]>} */
const KINDS = [
  ['ProtKey', (bytes) => ProtKey.from(bytes)],
  ['SealedKey', (bytes) => SealedKey.from(bytes)]
]

const code = (c) => expect.objectContaining({ code: c })

describe.each(KINDS)('%s async windows', (_name, make) => {
  it('counts readers across awaits and closes the window when the last promise settles', async () => {
    const key = make(Buffer.alloc(16, 7))
    const a = deferred()
    const b = deferred()
    const views = []
    const first = key.readAsync(async (bytes) => {
      views.push(bytes)
      await a.promise
      return bytes[0] + bytes.length
    })
    const second = key.readAsync(async (bytes) => {
      views.push(bytes)
      await b.promise
      return bytes[15]
    })
    await sleep(1)
    expect(key.windows).toEqual({ readers: 2, writer: false })
    expect(readable(key)).toBe(true)
    // A sync read nests inside the async ones.
    expect(key.read((bytes) => bytes[3])).toBe(7)
    a.resolve()
    expect(await first).toBe(23)
    expect(key.windows.readers).toBe(1)
    expect(readable(key)).toBe(true)
    b.resolve()
    expect(await second).toBe(7)
    expect(key.windows).toEqual({ readers: 0, writer: false })
    expect(readable(key)).toBe(false)
    for (const v of views) expect(v.byteLength).toBe(0)
    key.dispose()
  })

  it('a timeout closes the window, retires its buffer (wiped, still attached) and rejects with ERR_WINDOW_TIMEOUT', async () => {
    const key = make(Buffer.alloc(8, 1))
    const retired = windowBufferAllocator().stats().retiredBytes
    /** @type {Uint8Array} */
    let view = null
    const never = new Promise(() => {})
    const started = key.readAsync((bytes) => {
      view = bytes
      return never
    }, { timeout: 20 })
    expect(readable(key)).toBe(true)
    await expect(started).rejects.toThrow(code('ERR_WINDOW_TIMEOUT'))
    expect(key.windows).toEqual({ readers: 0, writer: false })
    expect(readable(key)).toBe(false)
    // No secret is left behind the view, and native work that may still hold it meets zeros, never a
    // fault or another key: the window's buffer was wiped and retired (its view stays attached, never reused).
    expect(view.byteLength).toBe(8)
    expect(view.every((b) => b === 0)).toBe(true)
    expect(windowBufferAllocator().stats().retiredBytes).toBeGreaterThan(retired)
    // The key itself was never touched: the next window reads it whole, in a buffer of its own.
    expect(key.read((bytes) => {
      expect(bytes.buffer).not.toBe(view.buffer)
      return Array.from(bytes)
    })).toEqual([1, 1, 1, 1, 1, 1, 1, 1])
    expect(view.every((b) => b === 0)).toBe(true)
    key.dispose()
  })

  it('a write window that times out is closed too, writing nothing back; a late settle changes nothing', async () => {
    const key = make(Buffer.alloc(8, 1))
    /** @type {ReturnType<typeof deferred<string>>} */
    const late = deferred()
    const started = key.writeAsync(async (bytes) => {
      bytes[0] = 9
      return late.promise
    }, { timeout: 20 })
    await expect(started).rejects.toThrow(code('ERR_WINDOW_TIMEOUT'))
    expect(key.windows).toEqual({ readers: 0, writer: false })
    late.resolve('too late')
    await sleep(1)
    expect(key.windows).toEqual({ readers: 0, writer: false })
    // Nothing is written back at a deadline (native work may still be writing): the key keeps its content.
    expect(key.read((bytes) => Array.from(bytes))).toEqual(new Array(8).fill(1))
    key.dispose()
  })

  it('dispose is refused while an async window is open, and works once it settled', async () => {
    const key = make(Buffer.alloc(8, 2))
    const gate = deferred()
    const pending = key.readAsync(() => gate.promise)
    expect(() => key.dispose()).toThrow(code('ERR_WINDOW_OPEN'))
    expect(key.disposed).toBe(false)
    gate.resolve()
    await pending
    key.dispose()
    expect(key.disposed).toBe(true)
    await expect(key.readAsync(() => 1)).rejects.toThrow(code('ERR_DISPOSED'))
  })

  it('an error thrown or rejected by fn rejects the promise with it, after the window closed', async () => {
    const key = make(Buffer.alloc(8, 3))
    const boom = new Error('boom')
    await expect(key.readAsync(() => { throw boom })).rejects.toBe(boom)
    expect(key.windows.readers).toBe(0)
    await expect(key.writeAsync(async () => { await sleep(1); throw boom })).rejects.toBe(boom)
    expect(key.windows.writer).toBe(false)
    expect(readable(key)).toBe(false)
    // A plain value works too: the window closes at once.
    expect(await key.readAsync((bytes) => bytes.length)).toBe(8)
    key.dispose()
  })

  it('a writer is refused while async readers are open, and readers while an async writer is', async () => {
    const key = make(Buffer.alloc(8, 0))
    const gates = [deferred(), deferred()]
    const readers = gates.map((g) => key.readAsync(() => g.promise))
    await expect(key.writeAsync(() => 1)).rejects.toThrow(code('ERR_WINDOW_CONFLICT'))
    expect(() => key.write(() => 1)).toThrow(code('ERR_WINDOW_CONFLICT'))
    expect(() => key.writerAsync()).toThrow(code('ERR_WINDOW_CONFLICT'))
    for (const g of gates) g.resolve()
    await Promise.all(readers)

    const gate = deferred()
    const writer = key.writeAsync(async (bytes) => {
      await gate.promise
      bytes.fill(5)
    })
    await expect(key.readAsync(() => 1)).rejects.toThrow(code('ERR_WINDOW_CONFLICT'))
    await expect(key.writeAsync(() => 1)).rejects.toThrow(code('ERR_WINDOW_CONFLICT'))
    expect(() => key.read(() => 1)).toThrow(code('ERR_WINDOW_CONFLICT'))
    gate.resolve()
    await writer
    expect(await key.readAsync((bytes) => bytes.reduce((s, b) => s + b, 0))).toBe(40)
    key.dispose()
  })

  it('refuses bad arguments as rejections, before opening anything', async () => {
    const key = make(Buffer.alloc(8, 0))
    // @ts-expect-error not a function: refused
    await expect(key.readAsync('no')).rejects.toThrow(code('ERR_INVALID_ARG_TYPE'))
    for (const timeout of [0, -1, 1.5, 2 ** 31, Number.NaN, Infinity]) {
      await expect(key.readAsync(() => 1, { timeout })).rejects.toThrow(code('ERR_OUT_OF_RANGE'))
    }
    // @ts-expect-error a string timeout: refused
    await expect(key.readAsync(() => 1, { timeout: '5' })).rejects.toThrow(code('ERR_INVALID_ARG_TYPE'))
    await expect(key.writeAsync(() => 1, null)).rejects.toThrow(code('ERR_INVALID_ARG_TYPE'))
    expect(() => key.readerAsync({ timeout: 0 })).toThrow(code('ERR_OUT_OF_RANGE'))
    expect(key.windows).toEqual({ readers: 0, writer: false })
    expect(DEFAULT_WINDOW_TIMEOUT).toBe(10_000)
    key.dispose()
  })

  it('await using closes a guard at the end of its block, across awaits', async () => {
    const key = make(Buffer.alloc(8, 4))
    let seen = null
    {
      await using w = key.readerAsync()
      await sleep(1)
      seen = w.bytes
      expect(seen[0]).toBe(4)
      expect(key.windows.readers).toBe(1)
      expect(String(w)).toMatch(/^async \w+ read window\(8 bytes, open\)$/)
    }
    expect(seen.byteLength).toBe(0)
    expect(readable(key)).toBe(false)
    {
      await using w = key.writerAsync()
      await sleep(1)
      w.bytes[1] = 6
    }
    expect(key.read((bytes) => bytes[1])).toBe(6)
    key.dispose()
  })

  it('a guard past its deadline is closed, and disposing it rejects with ERR_WINDOW_TIMEOUT', async () => {
    const key = make(Buffer.alloc(8, 4))
    const attempt = async () => {
      await using w = key.readerAsync({ timeout: 10 })
      await sleep(60)
      expect(w.expired).toBe(true)
      expect(w.closed).toBe(true)
      // Retired, as for readAsync: wiped, still attached.
      expect(w.bytes.byteLength).toBe(8)
      expect(w.bytes.every((b) => b === 0)).toBe(true)
      expect(readable(key)).toBe(false)
    }
    await expect(attempt()).rejects.toThrow(code('ERR_WINDOW_TIMEOUT'))
    expect(key.windows.readers).toBe(0)
    key.dispose()
  })
})

describe('SealedKey writer that times out after its view escaped', () => {
  it('rejects with ERR_WINDOW_TIMEOUT (nothing was sealed), never an uncaught exception', async () => {
    const os = require('@tarsjs/os-memlock')
    const key = SealedKey.from(Buffer.alloc(8, 0x11))
    const uncaught = []
    const onUncaught = (err) => uncaught.push(err)
    process.on('uncaughtException', onUncaught)
    try {
      const pending = key.writeAsync((bytes) => {
        bytes[0] = 0x44
        os.detach(/** @type {ArrayBuffer} */ (bytes.buffer))
        return new Promise(() => {})
      }, { timeout: 20 })
      // A deadline seals nothing, escaped view or not: the timeout is what is reported.
      await expect(pending).rejects.toThrow(code('ERR_WINDOW_TIMEOUT'))
      const guard = key.writerAsync({ timeout: 20 })
      os.detach(/** @type {ArrayBuffer} */ (guard.bytes.buffer))
      await sleep(60)
      expect(guard.expired).toBe(true)
      await expect(guard[Symbol.asyncDispose]()).rejects.toThrow(code('ERR_WINDOW_TIMEOUT'))
    } finally {
      process.off('uncaughtException', onUncaught)
    }
    expect(uncaught).toEqual([])
    expect(key.windows).toEqual({ readers: 0, writer: false })
    expect(key.read((bytes) => bytes[0])).toBe(0x11)
    key.dispose()
  })
})

describe('deadline timers', () => {
  it("readAsync's promise settles even when nothing else keeps the process alive; a forgotten guard does not hold the process", () => {
    const dist = require.resolve('../dist/index.js')
    const script = `
   const { ProtKey } = require(${JSON.stringify(dist)})
   const key = ProtKey.random(16)
   key.readerAsync({ timeout: 60000 }) // forgotten: must not keep the process alive for a minute
   key.readAsync(() => new Promise(() => {}), { timeout: 50 }).catch((err) => {
    const p = key.protections()
    console.log(err.code, key.windows.readers, p.access, p.window !== null)
   })`
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 })
    expect(run.status, run.stderr).toBe(0)
    // The forgotten guard still holds its window (a copy); the key's own pages stay no access.
    expect(run.stdout.trim()).toBe('ERR_WINDOW_TIMEOUT 1 none true')
  })
})
