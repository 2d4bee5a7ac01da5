/**
 * Constant-time equality of a key's bytes, each side read inside its own
 * window: against another key (both windows open at once) or against plain
 * bytes. Lengths are compared first; only equal lengths reach `os.equals`.
 */
import os = require('@tarsjs/os-memlock')
import { ContainerError } from './errors.js'
import { sourceBytes } from './source.js'

/** A key whose bytes can be read in a synchronous window (ProtKey, SealedKey). */
export interface KeyReader {
  read(fn: (bytes: Uint8Array) => boolean): boolean
}

function sameBytes(mine: Uint8Array, theirs: Uint8Array): boolean {
  return mine.byteLength === theirs.byteLength && os.equals(mine, 0, theirs, 0, mine.byteLength)
}

/**
 * `self` against `other`: a key when `otherIsKey` (the caller's instanceof
 * checks), else an ArrayBufferView, else `ERR_INVALID_ARG_TYPE` naming `expected`.
 */
export function keyEquals(self: KeyReader, other: unknown, otherIsKey: boolean, expected: string): boolean {
  if (otherIsKey) {
    const key = other as KeyReader
    if (key === self) return self.read(() => true)
    return self.read((mine) => key.read((theirs) => sameBytes(mine, theirs)))
  }
  if (!ArrayBuffer.isView(other)) {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', `The "other" argument must be ${expected}`)
  }
  const theirs = sourceBytes(other)
  return self.read((mine) => sameBytes(mine, theirs))
}
