// sodium-native 4.3 and 5 side by side: the peer range, mixing the two
// libraries on one buffer (each refuses or recovers, nothing is left live and
// unwiped), and withTarsjsMemory for namespace-style code.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { NATIVE5_VERSION, NATIVE_VERSION, PKG, expectCode, kernel, native, native5, ours, outcome, report, runFixture } from './helpers.js'

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const live = (): number => ours.defaultSodiumAllocator().stats().allocations

const warnings: { code?: string; message: string }[] = []
const onWarning = (w: Error & { code?: string }): void => {
  warnings.push({ code: w.code, message: w.message })
}
beforeEach(() => {
  warnings.length = 0
  process.on('warning', onWarning)
})
afterEach(() => {
  process.off('warning', onWarning)
})

describe('the versions under test', () => {
  it('are 4.3.x and 5.x, and the peer range admits both', () => {
    expect(NATIVE_VERSION).toMatch(/^4\.3\./)
    expect(NATIVE5_VERSION).toMatch(/^5\./)
    const manifest = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8'))
    expect(manifest.peerDependencies['sodium-native']).toBe('^4.3.1 || ^5.0.0')
    expect(manifest.peerDependenciesMeta['sodium-native']).toEqual({ optional: true })
  })
})

describe('mixing sodium-native 4.3 and tarsjs on one buffer', () => {
  it('sodium-native refuses a tarsjs buffer; the buffer stays live and usable', () => {
    const buf = ours.sodium_malloc(32)
    buf.fill(7)
    expect(outcome(() => native.sodium_free(buf))).toEqual({ error: { name: 'Error', message: 'failed to remove wrap' } })
    expect([buf.length, buf[31], ours.isSecureBuffer(buf)]).toEqual([32, 7, true])
    ours.sodium_free(buf)
  })

})

describe.each([
  ['sodium-native 4.3', native],
  ['sodium-native 5', native5]
])('a %s buffer given to tarsjs', (_label, sodium) => {
  it('is refused, and stays live', () => {
    const theirs = sodium.sodium_malloc(16)
    expectCode(() => ours.sodium_free(theirs), 'ERR_NOT_SECURE_BUFFER')
    expectCode(() => ours.sodium_mprotect_noaccess(theirs), 'ERR_NOT_SECURE_BUFFER')
    expect([theirs.length, theirs.secure]).toEqual([16, true])
    sodium.sodium_free(theirs)
  })
})

describe('mixing sodium-native 5 and tarsjs on one buffer', () => {
  it('a tarsjs buffer detached by sodium-native 5 is wiped and freed on the next turn, with one warning', async () => {
    const before = live()
    const buf = ours.sodium_malloc(32)
    const marker = Buffer.from('foreign-free marker, 32 bytes...')
    buf.set(marker)
    expect(kernel.findBytes(marker)).toBeDefined()
    native5.sodium_free(buf) // detaches, and does not free: it cannot tell our buffers from its own
    expect(buf.byteLength).toBe(0)
    await turn()
    expect(kernel.findBytes(marker)).toBeUndefined() // wiped
    expect(live()).toBe(before)
    expect(buf.secure).toBe(false)
    expect(ours.isSecureBuffer(buf)).toBe(false)
    expect(outcome(() => ours.sodium_free(buf))).toEqual({ value: undefined }) // a later free is the usual no-op
    // The first foreign free in this process: one warning that names the way out.
    const foreign = warnings.filter((w) => w.code === 'TARSJS_FOREIGN_FREE')
    expect(foreign).toHaveLength(1)
    expect(foreign[0]?.message).toContain('withTarsjsMemory(sodium)')
  })

  it('an older buffer detached by sodium-native 5 is freed the moment tarsjs sees it again', async () => {
    const buf = ours.sodium_malloc(48)
    const marker = Buffer.from('an older buffer, freed on contact, 48 bytes....!')
    buf.set(marker)
    await turn() // now registered with the backstop, no longer young
    const before = live()
    native5.sodium_free(buf)
    expect(kernel.findBytes(marker)).toBeDefined()
    expect(ours.isSecureBuffer(buf)).toBe(false) // seen detached: freed here
    expect(kernel.findBytes(marker)).toBeUndefined()
    expect(live()).toBe(before - 1)
    expectCode(() => ours.sodium_mprotect_readonly(buf), 'ERR_NOT_SECURE_BUFFER')
  })

  it('an older buffer detached by sodium-native 5 and never seen again is swept: by later allocations, or by the timer', () => {
    // In a child: a fresh process, so that its one TARSJS_FOREIGN_FREE warning comes from the sweep.
    const run = runFixture('foreign-free-sweep')
    expect(run.status, run.stderr).toBe(0)
    const r = report<{
      budget: number
      beforeA: { found: boolean; live: number; length: number }
      afterA: { found: boolean; live: number; secure: boolean }
      beforeB: { found: boolean; live: number }
      afterB: { found: boolean; live: number; secure: boolean; waited: number }
      warnings: string[]
    }>(run)
    // Detached (length 0) but still live and holding the secret...
    expect(r.beforeA).toEqual({ found: true, live: 41, length: 0 })
    // ...until 4 * live allocations later, with the event loop blocked: wiped and freed.
    expect(r.budget).toBe(164)
    expect(r.afterA).toEqual({ found: false, live: 40, secure: false })
    // With no allocation at all, the unref'd timer does it (one-second period; the child gives up after three).
    expect(r.beforeB).toEqual({ found: true, live: 41 })
    expect([r.afterB.found, r.afterB.live, r.afterB.secure]).toEqual([false, 40, false])
    expect(r.warnings.filter((w) => w === 'TARSJS_FOREIGN_FREE')).toHaveLength(1)
  })

  it('sodium_free after sodium-native 5 detached the buffer frees it', () => {
    const buf = ours.sodium_malloc(32)
    const before = live()
    native5.sodium_free(buf)
    ours.sodium_free(buf)
    expect([live(), buf.secure]).toEqual([before - 1, false])
  })

  it('warns only once per process', async () => {
    const a = ours.sodium_malloc(8)
    const b = ours.sodium_malloc(8)
    native5.sodium_free(a)
    native5.sodium_free(b)
    await turn()
    expect([ours.isSecureBuffer(a), ours.isSecureBuffer(b)]).toEqual([false, false])
    // The first test of this block had the one warning.
    expect(warnings.filter((w) => w.code === 'TARSJS_FOREIGN_FREE')).toEqual([])
  })
})

describe.each([
  ['sodium-native 4.3', native],
  ['sodium-native 5', native5]
])('withTarsjsMemory(%s)', (_label, sodium) => {
  it('keeps every property of sodium-native and replaces the memory functions', () => {
    const wrapped = ours.withTarsjsMemory(sodium) as Record<string, unknown>
    for (const name of Object.getOwnPropertyNames(sodium)) {
      if ((ours.TARSJS_MEMORY_FUNCTIONS as readonly string[]).includes(name)) continue
      expect(wrapped[name], name).toBe(sodium[name])
    }
    for (const name of ours.TARSJS_MEMORY_FUNCTIONS) expect(wrapped[name], name).toBe(ours[name])
    expect(ours.TARSJS_MEMORY_FUNCTIONS).toContain('sodium_malloc')
    expect(ours.TARSJS_MEMORY_FUNCTIONS).toContain('sodium_unpad')
    expect(sodium.sodium_malloc).not.toBe(ours.sodium_malloc) // sodium-native itself is left alone
  })

  it('gives namespace-style code tarsjs buffers that sodium-native’s cryptography uses', () => {
    const s = ours.withTarsjsMemory(sodium)
    const key = s.sodium_malloc(s.crypto_secretbox_KEYBYTES)
    s.randombytes_buf(key)
    const nonce = Buffer.alloc(s.crypto_secretbox_NONCEBYTES, 1)
    const message = Buffer.from('hello')
    const box = Buffer.alloc(message.length + s.crypto_secretbox_MACBYTES)
    s.crypto_secretbox_easy(box, message, nonce, key)
    const opened = Buffer.alloc(message.length)
    expect(s.crypto_secretbox_open_easy(opened, box, nonce, key)).toBe(true)
    expect(opened.toString()).toBe('hello')
    expect(ours.isSecureBuffer(key)).toBe(true)
    s.sodium_mprotect_noaccess(key)
    s.sodium_mprotect_readwrite(key)
    s.sodium_free(key)
    expect([key.length, key.secure]).toEqual([0, false])
  })

  it('refuses a buffer sodium-native allocated, loudly', () => {
    const s = ours.withTarsjsMemory(sodium)
    const theirs = sodium.sodium_malloc(8)
    expect(outcome(() => s.sodium_free(theirs))).toEqual({ error: { name: 'Error', message: 'failed to remove wrap' } })
    sodium.sodium_free(theirs)
  })
})

describe('withTarsjsMemory arguments', () => {
  it('throws ERR_INVALID_ARG_TYPE for anything but an object', () => {
    for (const bad of [null, undefined, 1, 'sodium-native', true]) {
      const err = expectCode(() => ours.withTarsjsMemory(bad as never), 'ERR_INVALID_ARG_TYPE')
      expect(err).toBeInstanceOf(TypeError)
    }
  })

  it('works on any object shaped like sodium-native and does not change it', () => {
    const fake = { crypto_box_SEEDBYTES: 32, sodium_malloc: () => 'theirs' }
    const wrapped = ours.withTarsjsMemory(fake)
    expect(wrapped.crypto_box_SEEDBYTES).toBe(32)
    expect(wrapped.sodium_malloc).toBe(ours.sodium_malloc)
    expect(fake.sodium_malloc()).toBe('theirs')
  })
})
