// What kills the process, in child processes: the three cases sodium-native's
// own tests check (no-access read, read-only write, read-write works), run
// against both libraries, and a native write before the data caught on free.
import { describe, expect, it } from 'vitest'
import { runFixture } from './helpers.js'

const LIBS = ['tarsjs', 'sodium-native'] as const

describe('touching protected secure buffers (child processes)', () => {
  for (const lib of LIBS) {
    it(`${lib}: reading a no-access buffer kills the process with SIGSEGV`, () => {
      const run = runFixture('protect', [lib, 'noaccess-read'])
      expect(run.signal).toBe('SIGSEGV')
      expect(run.stdout.trim()).toBe('reading')
    })

    it(`${lib}: writing a no-access buffer kills the process with SIGSEGV`, () => {
      const run = runFixture('protect', [lib, 'noaccess-write'])
      expect(run.signal).toBe('SIGSEGV')
      expect(run.stdout.trim()).toBe('writing')
    })

    it(`${lib}: a read-only buffer can be read, and writing it kills the process with SIGSEGV`, () => {
      const run = runFixture('protect', [lib, 'readonly-write'])
      expect(run.signal).toBe('SIGSEGV')
      expect(run.stdout.trim().split('\n')).toEqual(['read 7', 'writing'])
    })

    it(`${lib}: no-access, read-only, then read-write works`, () => {
      const run = runFixture('protect', [lib, 'readwrite'])
      expect([run.status, run.signal, run.stderr]).toEqual([0, null, ''])
      expect(JSON.parse(run.stdout)).toEqual({ first: 7, second: 9, length: 32 })
    })

    it(`${lib}: a no-access buffer can be freed`, () => {
      const run = runFixture('protect', [lib, 'free-noaccess'])
      expect([run.status, run.signal]).toEqual([0, null])
      expect(JSON.parse(run.stdout)).toEqual({ length: 0, byteLength: 0 })
    })
  }
})

describe('the canary before the data (child processes)', () => {
  it('overwriting the byte before the data aborts the process on free, with one clear line on stderr', () => {
    const run = runFixture('canary', ['tarsjs', 'before'])
    expect(run.signal).toBe('SIGABRT')
    expect(run.stdout.trim()).toBe('freeing')
    expect(run.stderr.split('\n')[0]).toBe(
      'tarsjs: integrity failure: canary before a 32-byte page allocation was overwritten (buffer underflow); aborting'
    )
  })

  it('an intact canary frees normally (the fixture itself does not break it)', () => {
    const run = runFixture('canary', ['tarsjs', 'intact'])
    expect([run.status, run.signal, run.stdout.trim()]).toEqual([0, null, 'freeing\nfreed'])
  })

  it('sodium-native dies too (libsodium raises SIGSEGV, without a message)', () => {
    const run = runFixture('canary', ['sodium-native', 'before'])
    expect(run.signal).toBe('SIGSEGV')
    expect(run.stdout.trim()).toBe('freeing')
  })
})
