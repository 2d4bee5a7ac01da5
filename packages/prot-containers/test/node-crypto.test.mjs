// Node's own crypto works on the views directly (no copy on our side), and the
// Node APIs the threat model says copy a key really do copy it on this Node,
// and a transfer list never moves protected memory out of its container.
import { createCipheriv, createDecipheriv, createHash, createHmac, createSecretKey, randomBytes, randomFillSync } from 'node:crypto'
import { MessageChannel } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { ProtBuf, ProtKey } from './helpers.mjs'

describe('Node crypto inside a window', () => {
  it('createHmac with the window view as the key equals the HMAC with a heap copy', () => {
    const secret = randomBytes(32)
    const key = ProtKey.from(secret)
    const msg = Buffer.from('message to authenticate')
    const mac = key.read((view) => createHmac('sha256', view).update(msg).digest())
    expect(mac.equals(createHmac('sha256', secret).update(msg).digest())).toBe(true)
    // A different key gives a different MAC: the view really was the key.
    const other = ProtKey.random(32)
    expect(other.read((view) => createHmac('sha256', view).update(msg).digest()).equals(mac)).toBe(false)
    key.dispose()
    other.dispose()
  })

  it('createHash and AES-GCM with the view as the key, same as with a heap copy', () => {
    const secret = randomBytes(32)
    const key = ProtKey.from(secret)
    const iv = randomBytes(12)
    const plain = Buffer.from('attack at dawn')
    const { sealed, tag } = key.read((view) => {
      const c = createCipheriv('aes-256-gcm', view, iv)
      const sealed = Buffer.concat([c.update(plain), c.final()])
      return { sealed, tag: c.getAuthTag() }
    })
    const d = createDecipheriv('aes-256-gcm', secret, iv)
    d.setAuthTag(tag)
    expect(Buffer.concat([d.update(sealed), d.final()]).equals(plain)).toBe(true)
    expect(key.read((view) => createHash('sha256').update(view).digest('hex'))).toBe(createHash('sha256').update(secret).digest('hex'))
    key.dispose()
  })

  it('randomFillSync fills a writer window in place', () => {
    const key = ProtKey.alloc(64)
    const w = key.writer()
    const same = randomFillSync(w.bytes)
    expect(same).toBe(w.bytes) // filled in place, no new buffer
    const digest = createHash('sha256').update(w.bytes).digest('hex')
    w.close()
    expect(key.read((b) => b.some((x) => x !== 0))).toBe(true)
    expect(key.read((b) => createHash('sha256').update(b).digest('hex'))).toBe(digest)
    key.dispose()
  })

  it('randomFillSync and createHmac on ProtBuf bytes and typed views', () => {
    const buf = ProtBuf.alloc(32)
    randomFillSync(buf.view(Uint32Array))
    expect(buf.bytes.some((x) => x !== 0)).toBe(true)
    const copy = Buffer.from(buf.bytes) // heap copy made by the test, for comparison only
    expect(createHmac('sha256', buf.bytes).update('m').digest().equals(createHmac('sha256', copy).update('m').digest())).toBe(true)
    buf.dispose()
  })
})

describe('Node APIs that copy a key (documented in the threat model)', () => {
  it('createSecretKey copies into a KeyObject that outlives the container', () => {
    const secret = randomBytes(32)
    const key = ProtKey.from(secret)
    const ko = key.read((view) => createSecretKey(view))
    key.dispose()
    expect(ko.export().equals(secret)).toBe(true)
  })

  it('structuredClone of a window view silently makes a heap copy on this Node', () => {
    const secret = randomBytes(32)
    const key = ProtKey.from(secret)
    const clone = key.read((view) => structuredClone(view))
    key.dispose()
    expect(clone.byteLength).toBe(32)
    expect(Buffer.from(clone).equals(secret)).toBe(true)
  })

  // Node 20 copies an external ArrayBuffer named in a transfer list (the
  // original stays attached); Node 22 and later refuse to transfer it
  // (DataCloneError). Either way the protected memory never leaves the
  // container: the original view stays attached and tracked.
  const TRANSFER_REFUSED = Number(process.versions.node.split('.')[0]) >= 22

  it(`structuredClone with a transfer list ${TRANSFER_REFUSED ? 'throws DataCloneError' : 'copies too'}, and leaves the original attached`, () => {
    const secret = randomBytes(32)
    const buf = ProtBuf.from(secret)
    const view = buf.bytes
    let clone
    let error
    try {
      clone = structuredClone(view, { transfer: [view.buffer] })
    } catch (err) {
      error = err
    }
    expect(view.byteLength).toBe(32) // not transferred: still the protected memory
    expect(buf.equals(secret)).toBe(true)
    if (TRANSFER_REFUSED) {
      expect(clone).toBeUndefined()
      expect(error?.name).toBe('DataCloneError')
      buf.dispose()
      expect(view.byteLength).toBe(0) // still tracked: detached by dispose
      return
    }
    expect(error).toBeUndefined()
    expect(clone.buffer).not.toBe(view.buffer)
    buf.dispose()
    expect(view.byteLength).toBe(0)
    expect(Buffer.from(clone).equals(secret)).toBe(true) // the copy outlives the container
  })

  it(`postMessage with a transfer list ${TRANSFER_REFUSED ? 'throws DataCloneError' : 'delivers a copy'}, and leaves the original attached`, async () => {
    const secret = randomBytes(32)
    const buf = ProtBuf.from(secret)
    const view = buf.bytes
    const { port1, port2 } = new MessageChannel()
    const got = new Promise((resolve) => port2.once('message', resolve))
    let error
    try {
      port1.postMessage(view, [view.buffer])
    } catch (err) {
      error = err
    }
    expect(view.byteLength).toBe(32)
    if (TRANSFER_REFUSED) {
      expect(error?.name).toBe('DataCloneError')
    } else {
      expect(error).toBeUndefined()
      const received = await got
      expect(received.buffer).not.toBe(view.buffer)
      expect(Buffer.from(received).equals(secret)).toBe(true)
    }
    port1.close()
    port2.close()
    buf.dispose()
    expect(view.byteLength).toBe(0)
  })

  it('postMessage of a ProtBuf view delivers a copy that outlives dispose', async () => {
    const secret = randomBytes(32)
    const buf = ProtBuf.from(secret)
    const { port1, port2 } = new MessageChannel()
    const got = new Promise((resolve) => port2.once('message', resolve))
    port1.postMessage(buf.bytes)
    const received = await got
    port1.close()
    port2.close()
    buf.dispose()
    expect(received.byteLength).toBe(32)
    expect(Buffer.from(received).equals(secret)).toBe(true)
  })

  it('Buffer.from(view) copies to the heap; a stale view copies nothing', () => {
    const secret = randomBytes(32)
    const key = ProtKey.from(secret)
    const stale = key.read((view) => view)
    const copy = key.read((view) => Buffer.from(view))
    key.dispose()
    expect(copy.equals(secret)).toBe(true)
    expect(Buffer.from(stale).length).toBe(0)
  })
})
