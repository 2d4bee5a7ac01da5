/**
 * Reading a secret straight into protected memory: from a file descriptor, a
 * file path or a readable stream, into a buffer that grows with the data
 * (see growing-buffer.ts).
 *
 * Descriptors and files: the kernel copies the bytes straight into the
 * protected buffer (`fs.readSync` into its view); no heap Buffer or string
 * ever holds them.
 *
 * Streams: each chunk is a heap buffer made by the stream (for a socket, the
 * buffer libuv read into). Every chunk is taken as the original object the
 * stream handed over, copied in and wiped at once — also after a failure,
 * until the stream is destroyed. A Node `Readable` is consumed in flowing mode
 * through `'data'`: in that mode the stream hands out its buffered chunks one
 * by one as they were pushed. Paused-mode `read()` (which the stream's own
 * async iterator uses) joins buffered chunks into a new Buffer and drops the
 * originals unwiped, so it is never used. Other async iterables are iterated.
 */
import { ReadStream, closeSync, openSync, readSync } from 'node:fs'
import { finished } from 'node:stream'
import type { Readable } from 'node:stream'
import os = require('@tarsjs/os-memlock')
import type { Allocation, Allocator } from '@tarsjs/page-alloc'
import { ContainerError } from './errors.js'
import { GrowingBuffer, tooLong } from './growing-buffer.js'
import { settleRead } from './settle-read.js'
import { sourceBytes } from './source.js'

/** True when the descriptor is at its end: reads one byte into protected memory and wipes it. */
function atEnd(allocator: Allocator, fd: number): boolean {
  const probe = allocator.alloc(1)
  try {
    return readSync(fd, new Uint8Array(allocator.view(probe)), 0, 1, null) === 0
  } finally {
    allocator.free(probe)
  }
}

/** Reads a file descriptor to its end (from its current position) into a new allocation. */
export function readFd(allocator: Allocator, fd: unknown, maxLength: number): Allocation {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "fd" argument must be a non-negative integer')
  }
  const buffer = new GrowingBuffer(allocator, maxLength)
  try {
    for (;;) {
      const room = buffer.room()
      if (room.byteLength === 0) {
        // maxLength bytes are in: one more byte means the secret is too long.
        if (atEnd(allocator, fd)) break
        throw tooLong(maxLength)
      }
      const n = readSync(fd, room, 0, room.byteLength, null)
      if (n === 0) break
      buffer.advance(n)
    }
    return buffer.finish()
  } finally {
    buffer.discard()
  }
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

/** The bytes of a stream chunk; a string or anything else is `ERR_INVALID_ARG_TYPE`. */
export function chunkBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === 'string') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'Stream chunks must be bytes, got a string (do not set an encoding on a secret stream)')
  }
  try {
    return sourceBytes(chunk)
  } catch {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', `Stream chunks must be bytes (an ArrayBufferView or ArrayBuffer), got type ${typeof chunk}`)
  }
}

/** Wipes exactly the bytes of a chunk; a chunk that holds no bytes is left alone. */
export function wipeChunk(chunk: unknown): void {
  if (typeof chunk === 'string') return
  let bytes: Uint8Array
  try {
    bytes = sourceBytes(chunk)
  } catch {
    return
  }
  if (bytes.byteLength > 0) os.wipe(bytes)
}

/** Copies a chunk in, then wipes it (also when the copy fails). */
function take(buffer: GrowingBuffer, chunk: unknown): void {
  try {
    buffer.append(chunkBytes(chunk))
  } finally {
    wipeChunk(chunk)
  }
}

/**
 * Ends a read from a stream: with no failure, resolves with the allocation of
 * exactly what was read; otherwise (or when handing it over fails) frees and
 * wipes what was read, destroys the stream and rejects with the first failure.
 */
export function settleStreamRead(
  s: Readable,
  buffer: GrowingBuffer,
  failure: unknown,
  resolve: (allocation: Allocation) => void,
  reject: (err: unknown) => void
): void {
  settleRead(buffer, failure, resolve, reject, () => {
    if (!s.destroyed) s.destroy()
  })
}

/** A Node.js readable stream (or one with the same interface), consumed through events. */
export function isNodeReadable(value: object): value is Readable {
  const s = value as Partial<Readable>
  return typeof s.on === 'function' && typeof s.removeListener === 'function' && typeof s.resume === 'function' &&
    typeof s.read === 'function' && typeof s.destroy === 'function' && typeof s.listenerCount === 'function'
}

/** Consumes a byte stream or async iterable; every chunk is copied in and wiped. String chunks are refused. */
export async function readStream(allocator: Allocator, stream: unknown, maxLength: number): Promise<Allocation> {
  if (stream === null || typeof stream !== 'object') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "stream" argument must be a readable stream or an async iterable')
  }
  if (isNodeReadable(stream)) return readReadable(allocator, stream, maxLength)
  if (typeof (stream as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function') {
    return readIterable(allocator, stream as AsyncIterable<unknown>, maxLength)
  }
  throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "stream" argument must be a readable stream or an async iterable')
}

/**
 * Refuses a stream that cannot be read safely: an `fs.ReadStream` or a stream with an encoding
 * (both destroyed), or one that already has a consumer.
 */
export function checkReadable(s: Readable): void {
  if (s instanceof ReadStream) {
    // fs.ReadStream reads into a buffer of its own and pushes a copy: that buffer cannot be wiped.
    s.destroy()
    throw new ContainerError('ERR_INVALID_ARG_VALUE', 'fs.ReadStream leaves copies of the secret in its read buffer; use fromFile(path) or fromFd(fd)')
  }
  if (s.readableEncoding !== null && s.readableEncoding !== undefined) {
    // The stream would decode each chunk into a string, which can never be wiped.
    s.destroy()
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'Stream chunks must be bytes (do not set an encoding on a secret stream)')
  }
  if (s.listenerCount('data') > 0 || s.listenerCount('readable') > 0) {
    throw new ContainerError('ERR_INVALID_ARG_VALUE', 'The stream already has a consumer (a "data" or "readable" listener, or a pipe); a secret stream must have one reader')
  }
}

function readReadable(allocator: Allocator, s: Readable, maxLength: number): Promise<Allocation> {
  checkReadable(s)
  const buffer = new GrowingBuffer(allocator, maxLength)
  return new Promise<Allocation>((resolve, reject) => {
    let failure: unknown = null
    const onData = (chunk: unknown): void => {
      if (failure === null) {
        try {
          take(buffer, chunk)
        } catch (err) {
          failure = err
        }
      } else {
        try {
          wipeChunk(chunk)
        } catch {
          // The first failure is the one reported.
        }
      }
      // After a failure, chunks still buffered in the stream arrive in this same turn; destroy once they are wiped.
      if (failure !== null && s.readableLength === 0 && !s.destroyed) s.destroy()
    }
    s.on('data', onData)
    const stop = finished(s, { writable: false }, (err) => {
      stop()
      s.removeListener('data', onData)
      if (failure === null && err) failure = err
      settleStreamRead(s, buffer, failure, resolve, reject)
    })
    s.resume()
  })
}

async function readIterable(allocator: Allocator, iterable: AsyncIterable<unknown>, maxLength: number): Promise<Allocation> {
  const buffer = new GrowingBuffer(allocator, maxLength)
  try {
    // A throw ends the loop, which calls the iterator's return(): the source is closed.
    for await (const chunk of iterable) take(buffer, chunk)
    return buffer.finish()
  } finally {
    buffer.discard()
  }
}
