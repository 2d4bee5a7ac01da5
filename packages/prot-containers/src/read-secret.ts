/**
 * Reading a secret straight into protected memory: from a file descriptor, a
 * file path or a readable stream. The bytes go from the kernel into the
 * allocation (`fs.readSync` into its view); no string and no heap Buffer ever
 * holds the whole secret. Stream chunks arrive as heap Buffers (Node makes
 * them): each is copied in and wiped at once.
 */
import { ReadStream, closeSync, openSync, readSync } from 'node:fs'
import type { Readable } from 'node:stream'
import os = require('@tarsjs/os-memlock')
import type { Allocation, Allocator } from '@tarsjs/page-alloc'
import { ContainerError, checkLength } from './errors.js'

/** Default upper bound on a secret read from a descriptor, file or stream: 64 KiB. */
export const DEFAULT_MAX_LENGTH = 65536

/** Reads until end of input into a scratch allocation of `maxLength + 1` bytes, then moves it to one of exactly the length read. */
function fill(allocator: Allocator, maxLength: number, readChunk: (into: Uint8Array) => number): Allocation {
  const max = checkLength(maxLength, 'maxLength')
  const scratch = allocator.alloc(max + 1)
  try {
    const bytes = new Uint8Array(allocator.view(scratch))
    let length = 0
    for (;;) {
      const n = readChunk(bytes.subarray(length))
      if (n === 0) break
      length += n
      if (length > max) throw new ContainerError('ERR_SECRET_TOO_LONG', `The secret is longer than maxLength (${max} bytes)`)
    }
    if (length === 0) throw new ContainerError('ERR_OUT_OF_RANGE', 'The secret is empty')
    return moveExact(allocator, bytes, length)
  } finally {
    allocator.free(scratch)
  }
}

function moveExact(allocator: Allocator, from: Uint8Array, length: number): Allocation {
  const exact = allocator.alloc(length)
  new Uint8Array(allocator.view(exact)).set(from.subarray(0, length))
  return exact
}

/** Reads a file descriptor to its end (from its current position) into a new allocation. */
export function readFd(allocator: Allocator, fd: unknown, maxLength: number): Allocation {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "fd" argument must be a non-negative integer')
  }
  return fill(allocator, maxLength, (into) => (into.byteLength === 0 ? 0 : readSync(fd, into, 0, into.byteLength, null)))
}

/** Opens, reads to its end and closes a file. */
export function readFile(allocator: Allocator, path: unknown, maxLength: number): Allocation {
  if (typeof path !== 'string' && !(path instanceof URL)) {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "path" argument must be a string or URL')
  }
  const fd = openSync(path, 'r')
  try {
    return readFd(allocator, fd, maxLength)
  } finally {
    closeSync(fd)
  }
}

/** Consumes a byte stream; every chunk is copied in and wiped. String chunks are refused. */
export async function readStream(allocator: Allocator, stream: unknown, maxLength: number): Promise<Allocation> {
  const s = stream as Readable | null
  if (s === null || typeof s !== 'object' || typeof (s as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "stream" argument must be a readable stream')
  }
  if (s instanceof ReadStream) {
    // fs.ReadStream reads into a pooled buffer and hands out copies: the pool cannot be wiped.
    s.destroy()
    throw new ContainerError('ERR_INVALID_ARG_VALUE', 'fs.ReadStream leaves copies of the secret in its read buffer; use fromFile(path) or fromFd(fd)')
  }
  const max = checkLength(maxLength, 'maxLength')
  const scratch = allocator.alloc(max)
  let done = false
  try {
    let length = 0
    for await (const chunk of s) {
      if (!(chunk instanceof Uint8Array)) {
        throw new ContainerError('ERR_INVALID_ARG_TYPE', 'Stream chunks must be bytes (do not set an encoding on a secret stream)')
      }
      // The view is fetched per chunk: the allocation stays valid across awaits.
      const bytes = new Uint8Array(allocator.view(scratch))
      if (length + chunk.byteLength > max) {
        os.wipe(chunk)
        throw new ContainerError('ERR_SECRET_TOO_LONG', `The secret is longer than maxLength (${max} bytes)`)
      }
      bytes.set(chunk, length)
      length += chunk.byteLength
      os.wipe(chunk)
    }
    if (length === 0) throw new ContainerError('ERR_OUT_OF_RANGE', 'The secret is empty')
    const exact = moveExact(allocator, new Uint8Array(allocator.view(scratch)), length)
    done = true
    return exact
  } finally {
    allocator.free(scratch)
    if (!done) s.destroy?.()
  }
}
