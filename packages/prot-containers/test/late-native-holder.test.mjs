// Native work that outlives a synchronous window (the thread pool given a window's bytes, then
// delayed) meets the key's own wiped window memory: never another key's plaintext, and its
// writes never reach another key. Run in child processes with one pool thread.
import { describe, expect, it } from 'vitest'
import { records, runFixture } from './helpers.mjs'

const POOL = { ...process.env, UV_THREADPOOL_SIZE: '1' }

describe('native work still holding a closed window', () => {
  it('an fs.write queued in one key\'s window writes zeros, after 900 other windows and with 600 open', () => {
    const res = runFixture('late-native-holder.cjs', ['read'], { env: POOL })
    expect(res.status).toBe(0)
    expect(records(res.stdout).RESULT).toEqual({ err: null, n: 32, zeros: true, othersPlaintext: false, othersChanged: 0, aIntact: true })
  })

  it('a crypto.randomFill queued in one key\'s window changes no other key, though 600 write windows were open when it ran', () => {
    const res = runFixture('late-native-holder.cjs', ['write'], { env: POOL })
    expect(res.status).toBe(0)
    expect(records(res.stdout).RESULT).toEqual({ err: null, othersChanged: 0, aIntact: true })
  })
})
