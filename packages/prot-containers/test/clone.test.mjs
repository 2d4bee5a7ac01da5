// No public object reachable from a container copies the secret out through
// cloning, serialization or generic object walks: structuredClone, v8.serialize,
// postMessage, util.inspect without custom inspection (and with getters), spread,
// Object.entries, JSON.stringify. Checked for ProtBuf and ProtKey (also inside a
// window), reader()/writer() windows, and what their public getters and methods
// return — except the views that are there to give the bytes (`bytes`, `view()`).
// A plain object holding the same bytes is caught by every path (the search can fail).
import { MessageChannel } from 'node:worker_threads'
import { inspect } from 'node:util'
import v8 from 'node:v8'
import { describe, expect, it } from 'vitest'
import { ProtBuf, ProtKey } from './helpers.mjs'

// No English words: a run of the secret must not occur in ordinary printed text.
const SECRET = Buffer.from('K9vQ-c7Zx2-Wq8R-K9vQ-p4Jm-t6Yb!!', 'latin1')
const RUN = 6

/** Every run of RUN secret bytes as raw bytes, as text, and as a decimal list (how inspect and JSON print bytes). */
const RUNS = []
for (let i = 0; i + RUN <= SECRET.length; i++) {
  const run = SECRET.subarray(i, i + RUN)
  RUNS.push({ raw: Buffer.from(run), text: run.toString('latin1'), decimal: [...run].join(',') })
}

/** Which runs of the secret an output holds (a Buffer is searched as bytes, a string as text and number lists). */
function leaks (output) {
  if (Buffer.isBuffer(output)) return RUNS.filter((r) => output.includes(r.raw)).map((r) => r.text)
  // Without whitespace and JSON's index keys, `{"0":75,"1":57}` and padded columns read `75,57`.
  const squeezed = output.replace(/\s+/g, '').replace(/"\d+":/g, '')
  return RUNS.filter((r) => output.includes(r.text) || squeezed.includes(r.decimal)).map((r) => r.text)
}

/**
 * What a value shows: inspections without custom inspection (with hidden
 * properties; with getters run), and its serialization. Hidden properties and
 * getters together would list and run the prototype's getters, `bytes` among
 * them: that is asking for the byte view by name, as `inspect(buf.bytes)` does.
 */
function shown (value) {
  const texts = [
    inspect(value, { customInspect: false, depth: Infinity }),
    inspect(value, { customInspect: false, showHidden: true, depth: Infinity }),
    inspect(value, { customInspect: false, getters: true, depth: Infinity })
  ]
  let bytes = Buffer.alloc(0)
  try {
    bytes = v8.serialize(value)
  } catch {}
  return [...texts, bytes]
}

async function viaPort (value) {
  const { port1, port2 } = new MessageChannel()
  try {
    const received = new Promise((resolve) => port2.once('message', resolve))
    port1.postMessage(value)
    return await received
  } finally {
    port1.close()
    port2.close()
  }
}

/** Every path, as [label, outputs]; a path that refuses to copy (DataCloneError) yields nothing. */
async function paths (value) {
  const out = []
  const attempt = async (label, fn) => {
    try {
      out.push([label, await fn()])
    } catch (err) {
      expect(err.name, `${label} failed with an unexpected error: ${err.message}`).toBe('DataCloneError')
    }
  }
  await attempt('structuredClone', () => shown(structuredClone(value)))
  await attempt('v8.serialize', () => [v8.serialize(value)])
  await attempt('postMessage', async () => shown(await viaPort(value)))
  await attempt('inspect customInspect: false', () => shown(value).slice(0, 3))
  await attempt('spread', () => shown({ ...value }))
  await attempt('Object.entries', () => shown(Object.entries(value)))
  await attempt('Object.assign', () => shown(Object.assign({}, value)))
  await attempt('JSON.stringify', () => [JSON.stringify(value) ?? ''])
  return out
}

async function expectNoSecret (value, label) {
  const all = await paths(value)
  expect(all.length, `${label}: some path ran`).toBeGreaterThan(0)
  for (const [path, outputs] of all) {
    for (const output of outputs) expect(leaks(output), `${label} via ${path}`).toEqual([])
  }
}

/** The public objects reachable from a container: its getters' and methods' results, except the byte views. */
function reachable (c) {
  const out = [[c.constructor.name, c], ['protections()', c.protections()], ['byteLength', c.byteLength], ['disposed', c.disposed]]
  if (c instanceof ProtKey) out.push(['windows', c.windows])
  return out
}

describe('no reachable object clones, serializes or prints the secret', () => {
  it('the search finds the secret through every path when an object does hold it', async () => {
    const holder = { bytes: new Uint8Array(SECRET) }
    for (const [path, outputs] of await paths(holder)) {
      expect(outputs.some((o) => leaks(o).length > 0), `control via ${path}`).toBe(true)
    }
  })

  it('ProtBuf and what its getters return', async () => {
    const buf = ProtBuf.from(SECRET)
    expect(Reflect.ownKeys(buf)).toEqual([])
    for (const [label, value] of reachable(buf)) await expectNoSecret(value, `ProtBuf ${label}`)
    buf.dispose()
    await expectNoSecret(buf, 'disposed ProtBuf')
  })

  it('ProtKey with no window, inside read and write windows, and its reader()/writer() windows', async () => {
    const key = ProtKey.from(SECRET)
    expect(Reflect.ownKeys(key)).toEqual([])
    for (const [label, value] of reachable(key)) await expectNoSecret(value, `ProtKey ${label}`)
    const r = key.reader()
    expect(Reflect.ownKeys(r)).toEqual([])
    await expectNoSecret(key, 'ProtKey inside a read window')
    await expectNoSecret(r, 'reader() window')
    for (const [label, value] of reachable(key)) await expectNoSecret(value, `ProtKey ${label} inside a read window`)
    r.close()
    const w = key.writer()
    await expectNoSecret(key, 'ProtKey inside a write window')
    await expectNoSecret(w, 'writer() window')
    w.close()
    key.dispose()
  })

  it('a structured clone of a container is an empty plain object: no method, no bytes, nothing to free', () => {
    const buf = ProtBuf.from(SECRET)
    const key = ProtKey.from(SECRET)
    for (const c of [buf, key]) {
      const copy = structuredClone(c)
      expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
      expect(Reflect.ownKeys(copy)).toEqual([])
    }
    buf.dispose()
    key.dispose()
  })
})
