// SealedKey: a key encrypted at rest under a per-thread sealing key, decrypted
// into locked window memory only while a window is open.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { createRequire } from 'node:module'
import { inspect } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { ProtKey, SECRETMEM, SlotAllocator, expectCode, expectReject, heapAllocator, hexOf, live, pc, records, runFixture } from './helpers.mjs'

const { SealedKey } = pc
const { windowAllocator, windowBufferAllocator, atRestAllocator, sealingKeyAllocator } = createRequire(import.meta.url)('../dist/sealed-allocators.js')
const { NONCE_BYTES, TAG_BYTES } = createRequire(import.meta.url)('../dist/sodium.js')
const NONCE_HEX = 2 * NONCE_BYTES
const dir = mkdtempSync(join(tmpdir(), 'sealed-key-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A slot allocator that remembers its allocations, so a test can reach the at-rest bytes through its view. */
function recording () {
  const allocator = new SlotAllocator({ mlock: 'off' })
  const made = []
  const alloc = allocator.alloc.bind(allocator)
  allocator.alloc = (n) => {
    const a = alloc(n)
    made.push(a)
    return a
  }
  return { allocator, made, atRest: () => new Uint8Array(allocator.view(made[made.length - 1])) }
}

const contains = (hay, needle) => Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle)) !== -1

/** A slot allocator seen through the Allocator interface only: no copyOut/copyIn, so SealedKey must use views. */
function viewsOnly () {
  const slots = new SlotAllocator({ mlock: 'off' })
  let views = 0
  const made = []
  const allocator = {
    capabilities: slots.capabilities,
    alloc: (n) => {
      const a = slots.alloc(n)
      made.push(a)
      return a
    },
    free: (a) => slots.free(a),
    view: (a) => {
      views++
      return slots.view(a)
    },
    protect: (a, access) => slots.protect(a, access),
    protections: (a) => slots.protections(a),
    stats: () => slots.stats()
  }
  return { allocator, slots, made, views: () => views }
}

describe('SealedKey: the at-rest ciphertext is copied, never viewed', () => {
  it('an allocator with copyOut/copyIn never makes a view of a ciphertext: sealing, reading, writing, rekeying', () => {
    const rec = recording()
    let views = 0
    const view = rec.allocator.view.bind(rec.allocator)
    rec.allocator.view = (a) => {
      views++
      return view(a)
    }
    const keys = [SealedKey.random(32, { allocator: rec.allocator }), SealedKey.from(Buffer.alloc(5000, 7), { allocator: rec.allocator })]
    keys[0].read((b) => b[0])
    keys[0].write((b) => { b[0] = 1 })
    keys[1].read((b) => expect(b[4999]).toBe(7))
    expect(SealedKey.rekey().tampered).toBe(0)
    expect(keys[0].read((b) => b[0])).toBe(1)
    expect(views).toBe(0)
    for (const k of keys) k.dispose()
  })

  it('a custom allocator never holds the buffer other keys\' ciphertexts pass through', () => {
    let held = null
    const custom = heapAllocator({
      copyOut: (a, t) => { held = t },
      copyIn: (a, src) => { held = src }
    })
    const mine = SealedKey.from(new Uint8Array(32), { allocator: custom })
    const victim = SealedKey.from(Buffer.from('victim-secret-0123456789abcdefgh'))
    mine.read(() => {})
    const grabbed = held
    const before = hexOf(grabbed)
    victim.read(() => {})
    victim.write((b) => { b[0] ^= 1 })
    expect(hexOf(grabbed)).toBe(before)
    mine.dispose()
    victim.dispose()
  })

  it('a rekey reaches keys made while it runs (by an allocator\'s code), however many', () => {
    const made = []
    let during = false
    const custom = heapAllocator({
      copyOut: () => {
        // Enough keys for the list of live keys to be swept and grow while the rekey walks it.
        if (during && made.length === 0) for (let i = 0; i < 1100; i++) made.push(SealedKey.from(Buffer.alloc(32 + (i % 3), i & 255)))
      }
    })
    const ku = SealedKey.from(Buffer.alloc(16, 3), { allocator: custom })
    during = true
    const result = SealedKey.rekey()
    during = false
    expect(result.tampered).toBe(0)
    expect(made.length).toBe(1100)
    made.forEach((k, i) => expect(k.read((b) => b[0] + 1000 * (b.byteLength - 32))).toBe((i & 255) + 1000 * (i % 3)))
    expect(ku.read((b) => b[0])).toBe(3)
    for (const k of [ku, ...made]) k.dispose()
  })

  it('a rekey that fails while putting keys back puts back every other key', () => {
    let hook = null
    const custom = heapAllocator({
      copyIn: () => {
        if (hook !== null) {
          const h = hook
          hook = null
          h()
        }
      }
    })
    const k0 = SealedKey.from(Buffer.alloc(32, 1))
    const k1 = SealedKey.from(Buffer.alloc(32, 2))
    const ku = SealedKey.from(Buffer.alloc(32, 3), { allocator: custom })
    const { currentSealingKey } = createRequire(import.meta.url)('../dist/sealing-key.js')
    const sealingBefore = currentSealingKey()
    // Inside the rekey's loop: dispose a key already moved, then fail.
    hook = () => {
      k0.dispose()
      throw Object.assign(new Error('simulated failure of a copy'), { code: 'ESIMULATED' })
    }
    expectCode(() => SealedKey.rekey(), 'ESIMULATED')
    expect(currentSealingKey()).toBe(sealingBefore)
    expect(k0.disposed).toBe(true)
    expect(k1.read((b) => b[0])).toBe(2)
    expect(ku.read((b) => b[0])).toBe(3)
    k1.dispose()
    ku.dispose()
  })

  it('an allocator without them works through views: seal, read, write, tamper detection and a rekey', () => {
    const only = viewsOnly()
    const secret = randomBytes(40)
    const key = SealedKey.from(secret, { allocator: only.allocator })
    expect(key.allocator).toBe(only.allocator)
    expect(key.equals(secret)).toBe(true)
    key.write((b) => { b[0] ^= 1 })
    secret[0] ^= 1
    expect(SealedKey.rekey().tampered).toBe(0)
    expect(key.equals(secret)).toBe(true)
    expect(only.views()).toBeGreaterThan(0)
    const tamper = new Uint8Array(only.slots.view(only.made[0]))
    tamper[NONCE_BYTES] ^= 0x01
    expectCode(() => key.read(() => {}), 'ERR_SEALED_KEY_TAMPERED')
    key.dispose()
    expect(key.disposed).toBe(true)
    expect(only.slots.stats().allocations).toBe(0)
  })
})

describe('SealedKey: at rest', () => {
  it('holds nonce | ciphertext | tag, never the plaintext', () => {
    const rec = recording()
    const secret = randomBytes(32)
    const key = SealedKey.from(secret, { allocator: rec.allocator })
    const atRest = rec.atRest()
    expect(NONCE_BYTES).toBe(12)
    expect(atRest.byteLength).toBe(NONCE_BYTES + 32 + TAG_BYTES)
    expect(contains(atRest, secret)).toBe(false)
    expect(contains(atRest, secret.subarray(0, 8))).toBe(false)
    expect(key.byteLength).toBe(32)
    expect(key.read((b) => Buffer.compare(Buffer.from(b.buffer, b.byteOffset, b.byteLength), secret))).toBe(0)
    key.dispose()
  })

  it('sealing the same bytes twice gives different ciphertexts (random nonce)', () => {
    const rec = recording()
    const secret = randomBytes(32)
    SealedKey.from(secret, { allocator: rec.allocator })
    SealedKey.from(secret, { allocator: rec.allocator })
    const [a, b] = rec.made.map((m) => hexOf(new Uint8Array(rec.allocator.view(m))))
    expect(a.slice(0, NONCE_HEX)).not.toBe(b.slice(0, NONCE_HEX))
    expect(a.slice(NONCE_HEX)).not.toBe(b.slice(NONCE_HEX))
  })

  it('a write window seals again under a fresh nonce; a read window changes nothing at rest', () => {
    const rec = recording()
    const key = SealedKey.random(32, { allocator: rec.allocator })
    const before = hexOf(rec.atRest())
    key.read((b) => b[0])
    expect(hexOf(rec.atRest())).toBe(before)
    const first = key.read(hexOf)
    key.write(() => {})
    const after = hexOf(rec.atRest())
    expect(after.slice(0, NONCE_HEX)).not.toBe(before.slice(0, NONCE_HEX))
    expect(key.read(hexOf)).toBe(first)
    key.write((b) => { b[0] ^= 0xff })
    expect(key.read(hexOf)).not.toBe(first)
    expect(key.read((b) => b[0])).toBe(parseInt(first.slice(0, 2), 16) ^ 0xff)
    key.dispose()
  })

  it.each([
    ['nonce', 3],
    ['ciphertext', NONCE_BYTES + 5],
    ['tag', NONCE_BYTES + 32 + 7]
  ])('a flipped bit in the %s: ERR_SEALED_KEY_TAMPERED on open, no bytes handed out', (_, at) => {
    const rec = recording()
    const key = SealedKey.random(32, { allocator: rec.allocator })
    const windowsBefore = live(windowBufferAllocator())
    rec.atRest()[at] ^= 0x01
    let called = false
    expectCode(() => key.read(() => { called = true }), 'ERR_SEALED_KEY_TAMPERED', 'ContainerError')
    expectCode(() => key.reader(), 'ERR_SEALED_KEY_TAMPERED')
    expectCode(() => key.write(() => { called = true }), 'ERR_SEALED_KEY_TAMPERED')
    expectCode(() => key.unseal(), 'ERR_SEALED_KEY_TAMPERED')
    for (let i = 0; i < 10; i++) expectCode(() => key.read(() => { called = true }), 'ERR_SEALED_KEY_TAMPERED')
    expect(called).toBe(false)
    expect(key.windows).toEqual({ readers: 0, writer: false })
    // The window buffer went back wiped, kept for the key's next window (one at most), not leaked.
    const during = live(windowBufferAllocator())
    expect(during.allocations).toBeLessThanOrEqual(windowsBefore.allocations + 1)
    rec.atRest()[at] ^= 0x01
    expect(key.read((b) => b.byteLength)).toBe(32)
    expect(live(windowBufferAllocator())).toEqual(during)
    key.dispose()
    expect(live(windowBufferAllocator()).allocations).toBeLessThanOrEqual(windowsBefore.allocations)
  })

  it('protections(): sealed, ciphertext memory as it is, sealing key split (in secretmem where the kernel has it)', () => {
    const key = SealedKey.random(32)
    const p = key.protections()
    expect(p.sealed).toBe(true)
    expect(p.window).toBe(null)
    expect(p.locked).toBe(false) // a ciphertext needs no lock
    expect(p.sealingKey.split).toBe(true)
    expect(p.sealingKey.locked).toBe(true)
    expect(p.sealingKey.noDump).toBe(true)
    expect(p.sealingKey.secretmem).toBe(SECRETMEM)
    const w = key.reader()
    try {
      const q = key.protections()
      expect(q.sealed).toBe(false)
      expect(q.window).toMatchObject({ locked: true, noDump: true, wipeOnFork: true, access: 'readwrite' })
      expect(w.bytes.byteLength).toBe(32)
    } finally {
      w[Symbol.dispose]()
    }
    expect(key.protections().sealed).toBe(true)
    key.dispose()
  })
})

describe('SealedKey: windows', () => {
  it('readers nest and share one plaintext; a view kept past the last close has length 0', () => {
    const key = SealedKey.random(32)
    key.read(() => {})
    const windowsBefore = live(windowBufferAllocator())
    /** @type {Uint8Array} */
    let kept
    key.read((outer) => {
      key.read((inner) => {
        expect(inner).toBe(outer)
        expect(key.windows).toEqual({ readers: 2, writer: false })
      })
      expect(outer.byteLength).toBe(32)
      kept = outer
    })
    expect(kept.byteLength).toBe(0)
    expect(kept[0]).toBe(undefined)
    expect(live(windowBufferAllocator())).toEqual(windowsBefore)
    const w = key.writer()
    const v = w.bytes
    expect(String(w)).toBe('SealedKey write window(32 bytes, open)')
    w.close()
    w.close()
    expect(String(w)).toBe('SealedKey write window(32 bytes, closed)')
    expect(v.byteLength).toBe(0)
    key.dispose()
  })

  it('conflicts, async callbacks and disposal with a window open throw typed errors', async () => {
    const key = SealedKey.random(16)
    key.read(() => {
      expectCode(() => key.write(() => {}), 'ERR_WINDOW_CONFLICT')
      expectCode(() => key.dispose(), 'ERR_WINDOW_OPEN')
      expectCode(() => key.unseal(), 'ERR_WINDOW_OPEN')
    })
    key.write(() => {
      expectCode(() => key.read(() => {}), 'ERR_WINDOW_CONFLICT')
      expectCode(() => key.writer(), 'ERR_WINDOW_CONFLICT')
    })
    expectCode(() => key.read(async () => 1), 'ERR_ASYNC_CALLBACK')
    expect(key.windows).toEqual({ readers: 0, writer: false })
    expectCode(() => key.read('no'), 'ERR_INVALID_ARG_TYPE', 'TypeError')
    key.dispose()
    key.dispose()
    expect(key.disposed).toBe(true)
    expectCode(() => key.read(() => {}), 'ERR_DISPOSED')
    expectCode(() => key.protections(), 'ERR_DISPOSED')
    expectCode(() => key.writer(), 'ERR_DISPOSED')
    await Promise.resolve()
  })

  it('a throw inside a write window still seals the written content and wipes the plaintext', () => {
    const key = SealedKey.from(new Uint8Array(8))
    expect(() => key.write((b) => { b[0] = 7; throw new Error('boom') })).toThrow('boom')
    expect(key.read((b) => b[0])).toBe(7)
    key.dispose()
  })

  it('equals compares in constant time against SealedKey, ProtKey and bytes', () => {
    const secret = randomBytes(32)
    const a = SealedKey.from(secret)
    const b = SealedKey.from(secret)
    const k = ProtKey.from(secret)
    expect(a.equals(b)).toBe(true)
    expect(a.equals(k)).toBe(true)
    expect(a.equals(secret)).toBe(true)
    expect(a.equals(a)).toBe(true)
    expect(a.equals(randomBytes(32))).toBe(false)
    expect(a.equals(secret.subarray(1))).toBe(false)
    expectCode(() => a.equals('x'), 'ERR_INVALID_ARG_TYPE')
    for (const c of [a, b, k]) c.dispose()
  })
})

describe('SealedKey: constructors', () => {
  it('from() reads the source in place and wipes it on request', () => {
    const src = randomBytes(24)
    const copy = Buffer.from(src)
    const key = SealedKey.from(src, { wipeSource: true })
    expect(src.every((x) => x === 0)).toBe(true)
    expect(key.equals(copy)).toBe(true)
    key.dispose()
  })

  it('fromFd, fromFile and fromStream seal what they read and leave no window memory behind', async () => {
    const secret = randomBytes(48)
    const file = join(dir, 'secret')
    writeFileSync(file, secret)
    const windowsBefore = live(windowAllocator())
    const fd = openSync(file, 'r')
    const a = SealedKey.fromFd(fd)
    closeSync(fd)
    const b = SealedKey.fromFile(file)
    const c = await SealedKey.fromStream(Readable.from([Buffer.from(secret.subarray(0, 20)), Buffer.from(secret.subarray(20))]))
    for (const k of [a, b, c]) {
      expect(k.byteLength).toBe(48)
      expect(k.equals(secret)).toBe(true)
    }
    expect(live(windowAllocator())).toEqual(windowsBefore)
    expectCode(() => SealedKey.fromFile(file, { maxLength: 10 }), 'ERR_SECRET_TOO_LONG')
    await expectReject(SealedKey.fromStream(Readable.from(['text'])), 'ERR_INVALID_ARG_TYPE')
    expect(live(windowAllocator())).toEqual(windowsBefore)
    for (const k of [a, b, c]) k.dispose()
  })

  it('bad inputs: typed errors, nothing allocated', () => {
    const before = live(atRestAllocator())
    expectCode(() => SealedKey.random(0), 'ERR_OUT_OF_RANGE', 'RangeError')
    expectCode(() => SealedKey.random('32'), 'ERR_INVALID_ARG_TYPE', 'TypeError')
    expectCode(() => SealedKey.random(32, null), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => SealedKey.random(32, { allocator: {} }), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => SealedKey.from('secret'), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => SealedKey.from(new Uint8Array(0)), 'ERR_OUT_OF_RANGE')
    expectCode(() => SealedKey.from(new Uint8Array(4), { wipeSource: 'yes' }), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => SealedKey.fromFd(-1), 'ERR_INVALID_ARG_TYPE')
    expectCode(() => SealedKey.rekeyEvery(0), 'ERR_OUT_OF_RANGE')
    expectCode(() => SealedKey.rekeyEvery(1.5), 'ERR_OUT_OF_RANGE')
    expect(live(atRestAllocator())).toEqual(before)
  })

  it('prints redacted everywhere', () => {
    const key = SealedKey.random(32)
    const text = [inspect(key), String(key), `${key}`, JSON.stringify({ key }), inspect({ deep: [key] })]
    const hex = key.read(hexOf)
    for (const t of text) {
      expect(t).toContain('SealedKey(32 bytes, sealed)')
      expect(t).not.toContain(hex.slice(0, 8))
    }
    key.read(() => expect(String(key)).toBe('SealedKey(32 bytes, read window)'))
    expect(Object.keys(key)).toEqual([])
    key.dispose()
    expect(String(key)).toBe('SealedKey(32 bytes, disposed)')
  })
})

describe('moving between ProtKey and SealedKey', () => {
  it('ProtKey#seal() and SealedKey#unseal() keep the bytes and dispose the source', () => {
    const secret = randomBytes(32)
    const pk = ProtKey.from(secret)
    const sk = pk.seal()
    expect(pk.disposed).toBe(true)
    expect(sk.equals(secret)).toBe(true)
    const back = sk.unseal()
    expect(sk.disposed).toBe(true)
    expect(back).toBeInstanceOf(ProtKey)
    expect(back.protections().access).toBe('none')
    expect(back.equals(secret)).toBe(true)
    back.read(() => expectCode(() => back.seal(), 'ERR_WINDOW_OPEN'))
    expect(back.disposed).toBe(false)
    back.dispose()
  })
})

describe('SealedKey.rekey()', () => {
  it('seals every live key again under a new sealing key, losing none', () => {
    const rec = recording()
    const secrets = Array.from({ length: 50 }, () => randomBytes(1 + Math.floor(Math.random() * 100)))
    const keys = secrets.map((s) => SealedKey.from(s, { allocator: rec.allocator }))
    keys[7].dispose()
    const before = rec.made.map((m) => (m.freed ? null : hexOf(new Uint8Array(rec.allocator.view(m)))))
    const held = keys[3].reader()
    const result = SealedKey.rekey()
    expect(result).toMatchObject({ rekeyed: expect.any(Number), tampered: 0 })
    expect(result.rekeyed).toBeGreaterThanOrEqual(49)
    rec.made.forEach((m, i) => {
      if (!m.freed) expect(hexOf(new Uint8Array(rec.allocator.view(m)))).not.toBe(before[i])
    })
    expect(held.bytes.byteLength).toBe(secrets[3].byteLength)
    held.close()
    keys.forEach((k, i) => {
      if (i !== 7) expect(k.equals(secrets[i])).toBe(true)
    })
    for (const k of keys) k.dispose()
  })

  it('a tampered key stays tampered after a rekey; the others survive', () => {
    const rec = recording()
    const good = SealedKey.random(32, { allocator: rec.allocator })
    const goodHex = good.read(hexOf)
    const bad = SealedKey.random(32, { allocator: rec.allocator })
    rec.atRest()[30] ^= 0x80
    const result = SealedKey.rekey()
    expect(result.tampered).toBe(1)
    expect(good.read(hexOf)).toBe(goodHex)
    expectCode(() => bad.read(() => {}), 'ERR_SEALED_KEY_TAMPERED')
    good.dispose()
    bad.dispose()
  })

  it('rekeyEvery(ms) rekeys on a timer until stopped', async () => {
    const rec = recording()
    const key = SealedKey.random(32, { allocator: rec.allocator })
    const hex = key.read(hexOf)
    const first = hexOf(rec.atRest())
    const timer = SealedKey.rekeyEvery(5)
    await new Promise((resolve) => setTimeout(resolve, 60))
    timer.stop()
    const after = hexOf(rec.atRest())
    expect(after).not.toBe(first)
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(hexOf(rec.atRest())).toBe(after)
    expect(key.read(hexOf)).toBe(hex)
    key.dispose()
  })
})

describe('SealedKey: how often one sealing key seals (random 96-bit nonces)', () => {
  const sealing = createRequire(import.meta.url)('../dist/sealing-key.js')
  afterAll(() => sealing.setSealingBoundsForTests(2 ** 31, 2 ** 32))

  it('a worn sealing key is replaced before its next sealing, and no key is lost', () => {
    const keys = Array.from({ length: 3 }, () => SealedKey.random(32))
    const hex = keys.map((k) => k.read(hexOf))
    const first = sealing.currentSealingKey()
    const used = first.sealings
    expect(used).toBeGreaterThanOrEqual(3)
    sealing.setSealingBoundsForTests(used + 2, used + 4)
    keys[0].write((b) => { b[1] ^= 1 })
    hex[0] = keys[0].read(hexOf)
    expect(sealing.currentSealingKey()).toBe(first)
    expect(first.worn).toBe(false)
    keys[1].write(() => {})
    // That was the second sealing since the bounds were set: the key is worn now.
    expect(first.worn).toBe(true)
    const extra = SealedKey.random(16)
    const second = sealing.currentSealingKey()
    expect(second).not.toBe(first)
    expect(first.disposed).toBe(true)
    // Every live key was sealed again under the new key, then the new one.
    expect(second.sealings).toBeGreaterThanOrEqual(keys.length + 1)
    expect(keys.map((k) => k.read(hexOf))).toEqual(hex)
    expect(extra.read((b) => b.byteLength)).toBe(16)
    for (const k of [...keys, extra]) k.dispose()
  })

  it('an automatic rekey that keeps failing halfway loses no key and never spends the old key\'s nonces', () => {
    const at = atRestAllocator()
    const { alloc, copyOut } = at
    let last
    at.alloc = function (n) {
      last = alloc.call(this, n)
      return last
    }
    const keys = [0xaa, 0xbb, 0xcc].map((b) => SealedKey.from(Buffer.alloc(16, b)))
    at.alloc = alloc
    const before = sealing.currentSealingKey()
    sealing.setSealingBoundsForTests(before.sealings, before.sealings + 2)
    // Reading the last key's ciphertext fails inside the rekey's loop, after the others moved.
    at.copyOut = function (a, target) {
      if (a === last) throw Object.assign(new Error('simulated failure of a copy'), { code: 'ESIMULATED' })
      return copyOut.call(this, a, target)
    }
    try {
      for (let i = 0; i < 5; i++) expectCode(() => keys[1].write((b) => { b[1] = 2 }), 'ESIMULATED')
    } finally {
      at.copyOut = copyOut
    }
    expect(sealing.currentSealingKey()).toBe(before)
    expect(before.disposed).toBe(false)
    expect(sealingKeyAllocator().stats().allocations).toBe(2)
    expect(keys.map((k) => k.read((b) => b[0] + b[1]))).toEqual([0xaa * 2, 0xbb * 2, 0xcc * 2])
    keys[1].write((b) => { b[1] = 2 })
    expect(sealing.currentSealingKey()).not.toBe(before)
    expect(keys.map((k) => k.read((b) => b[1]))).toEqual([0xaa, 2, 0xcc])
    for (const k of keys) k.dispose()
  })

  it('an automatic rekey that cannot get its plaintext slot leaves no sealing key behind', () => {
    const keys = [SealedKey.random(48), SealedKey.random(48)]
    const hex = keys.map((k) => k.read(hexOf))
    const w = windowAllocator()
    const alloc = w.alloc
    const halves = sealingKeyAllocator().stats().allocations
    const slots = w.stats().allocations
    const current = sealing.currentSealingKey()
    sealing.setSealingBoundsForTests(current.sealings, current.sealings + 1000)
    w.alloc = function (n) {
      if (n === 48) throw Object.assign(new Error('simulated out of memory'), { code: 'ENOMEM' })
      return alloc.call(this, n)
    }
    try {
      for (let i = 0; i < 5; i++) expectCode(() => keys[0].write(() => {}), 'ENOMEM')
    } finally {
      w.alloc = alloc
    }
    expect(sealingKeyAllocator().stats().allocations).toBe(halves)
    expect(w.stats().allocations).toBe(slots)
    expect(keys.map((k) => k.read(hexOf))).toEqual(hex)
    for (const k of keys) k.dispose()
  })

  it('a sealing key refuses to seal past its bound: ERR_SEALING_KEY_EXHAUSTED, the slot left as it was', () => {
    const key = sealing.SealingKey.create()
    try {
      sealing.setSealingBoundsForTests(2 ** 31, 2)
      const plain = new Uint8Array(windowAllocator().view(windowAllocator().alloc(8)))
      const slot = atRestAllocator().alloc(8 + sealing.SEAL_OVERHEAD)
      const sealed = new Uint8Array(atRestAllocator().view(slot))
      key.seal(plain, sealed)
      key.seal(plain, sealed)
      const before = hexOf(new Uint8Array(sealed))
      expectCode(() => key.seal(plain, sealed), 'ERR_SEALING_KEY_EXHAUSTED', 'ContainerError')
      expect(hexOf(new Uint8Array(sealed))).toBe(before)
      expect(key.sealings).toBe(2)
      atRestAllocator().free(slot)
    } finally {
      sealing.setSealingBoundsForTests(2 ** 31, 2 ** 32)
      key.dispose()
    }
  })
})

describe('SealedKey.rekeyEvery(): a failed rekey', () => {
  it('emits TARSJS_REKEY_FAILED instead of an uncaught exception, and loses no key', async () => {
    const key = SealedKey.random(32)
    const hex = key.read(hexOf)
    const halves = sealingKeyAllocator()
    const alloc = halves.alloc
    halves.alloc = () => { throw Object.assign(new Error('no memory'), { code: 'ENOMEM' }) }
    const warned = new Promise((resolve) => {
      const onWarning = (w) => {
        if (w.code !== 'TARSJS_REKEY_FAILED') return
        process.off('warning', onWarning)
        resolve(w)
      }
      process.on('warning', onWarning)
    })
    const timer = SealedKey.rekeyEvery(5)
    let w
    try {
      w = await warned
    } finally {
      timer.stop()
      halves.alloc = alloc
    }
    expect(w.message).toContain('ENOMEM')
    expect(key.read(hexOf)).toBe(hex)
    key.dispose()
  })
})

describe('SealedKey: GC backstop', () => {
  it('frees undisposed keys once collected, and wipes the window of a guard that was never closed', () => {
    const res = runFixture('sealed-backstop.cjs', [], { nodeArgs: ['--expose-gc'] })
    expect(res.status, res.stderr).toBe(0)
    const r = records(res.stdout).RESULT
    expect(r.before.atRest).toBe(r.dropped + 1)
    expect(r.before.windows).toBe(r.windowsWarm + 1)
    expect(r.after.reclaimed).toBe(r.dropped)
    expect(r.after.atRest).toBe(1)
    expect(r.after.windows).toBe(r.windowsWarm)
  })
})
