/**
 * Reading a secret up to a delimiter (a line, by default) straight into
 * protected memory, from a file descriptor or a Node.js readable stream.
 *
 * Descriptors: one `read(2)` of one byte at a time, by the kernel straight
 * into the protected buffer (through libuv's thread pool, so a terminal or a
 * pipe that is slow to answer does not block the event loop). Reading one
 * byte at a time is what makes it stop right after the delimiter: the bytes
 * after it stay in the descriptor for whoever reads next, which matters for a
 * descriptor this process does not own (stdin, a pipe from a parent). A
 * descriptor in non-blocking mode that has nothing to read (`EAGAIN`) is
 * tried again every 10 ms.
 *
 * Streams: consumed in flowing mode through `'data'`, like `fromStream` (see
 * read-secret.ts). Each chunk is copied in (at most what can still be part of
 * a secret of `maxLength` bytes and its delimiter), searched for the
 * delimiter, and wiped up to the end of the delimiter. The bytes after the
 * delimiter are not wiped: they are handed back to the stream with
 * `unshift()`, ahead of anything it still buffers, and the stream is left
 * paused for the next reader.
 *
 * The delimiter is never part of the result. The end of the input before any
 * delimiter ends the secret too, unless `requireDelimiter` is set.
 */
import { read } from 'node:fs'
import { constants } from 'node:os'
import { finished } from 'node:stream'
import type { Readable } from 'node:stream'
import os = require('@tarsjs/os-memlock')
import type { Allocation, Allocator } from '@tarsjs/page-alloc'
import { ContainerError } from './errors.js'
import { GrowingBuffer, tooLong } from './growing-buffer.js'
import type { ReadUntilChoices } from './options.js'
import { checkReadable, chunkBytes, isNodeReadable, settleStreamRead, wipeChunk } from './read-secret.js'
import { sourceBytes } from './source.js'

/** A delimiter: a byte value (0 to 255), a string (its UTF-8 bytes) or bytes; 1 to 256 bytes long. */
export type Delimiter = number | string | ArrayBufferView | ArrayBuffer

/** Options of `fromReaderUntil`. */
export interface ReadUntilOptions {
  /** Longest secret accepted (the delimiter not counted), in bytes. Default 65536. */
  maxLength?: number
  /** Refuse an input that ends before the delimiter (`ERR_UNEXPECTED_EOF`) instead of taking what came. Default false. */
  requireDelimiter?: boolean
  /** The allocator of the result (see each container's options). */
  allocator?: Allocator
}

/** What a descriptor or stream is read until, when no delimiter is given: a line feed. */
export const DEFAULT_DELIMITER = 0x0a

/** Longest delimiter accepted, in bytes. */
export const MAX_DELIMITER_LENGTH = 256

/** Time between two tries of a non-blocking descriptor that had nothing to read. */
const EAGAIN_RETRY_MS = 10

/**
 * The delimiter's bytes (a copy: it is not secret, and must not change while it is used):
 * a byte value, a non-empty string (its UTF-8 bytes) or non-empty bytes; `undefined` is `\n`.
 */
export function delimiterBytes(delimiter: unknown): Uint8Array {
  if (delimiter === undefined) return Uint8Array.of(DEFAULT_DELIMITER)
  if (typeof delimiter === 'number') {
    if (!Number.isInteger(delimiter) || delimiter < 0 || delimiter > 255) {
      throw new ContainerError('ERR_OUT_OF_RANGE', `The "delimiter" byte must be an integer from 0 to 255. Received ${String(delimiter)}`)
    }
    return Uint8Array.of(delimiter)
  }
  let bytes: Uint8Array
  if (typeof delimiter === 'string') {
    bytes = new Uint8Array(Buffer.from(delimiter, 'utf8'))
  } else {
    try {
      bytes = Uint8Array.from(sourceBytes(delimiter))
    } catch {
      throw new ContainerError('ERR_INVALID_ARG_TYPE', `The "delimiter" argument must be a byte value, a string or bytes, got type ${typeof delimiter}`)
    }
  }
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_DELIMITER_LENGTH) {
    throw new ContainerError('ERR_INVALID_ARG_VALUE', `The "delimiter" must be 1 to ${MAX_DELIMITER_LENGTH} bytes long. Received ${bytes.byteLength} bytes`)
  }
  return bytes
}

/** The error for an input that ended before the delimiter, under `requireDelimiter`. */
function noDelimiter(): ContainerError {
  return new ContainerError('ERR_UNEXPECTED_EOF', 'The input ended before the delimiter (requireDelimiter is set)')
}

/** Reads into `into` from the descriptor's current position; `EAGAIN` is tried again later. */
function readAsync(fd: number, into: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      read(fd, into, 0, into.byteLength, null, (err, n) => {
        if (err === null) resolve(n)
        else if (err.errno === -constants.errno.EAGAIN) setTimeout(attempt, EAGAIN_RETRY_MS) // libuv errors are negative errno
        else reject(err)
      })
    }
    attempt()
  })
}

/**
 * Reads a descriptor one byte at a time until `delimiter` or its end, into a new allocation
 * holding what came before the delimiter.
 */
export async function readFdUntil(allocator: Allocator, fd: number, delimiter: Uint8Array, choices: ReadUntilChoices): Promise<Allocation> {
  const d = delimiter.byteLength
  const buffer = new GrowingBuffer(allocator, choices.maxLength + d)
  try {
    for (;;) {
      const room = buffer.room()
      if (room.byteLength === 0) throw tooLong(choices.maxLength)
      if (await readAsync(fd, room.subarray(0, 1)) === 0) {
        if (choices.requireDelimiter) throw noDelimiter()
        break
      }
      buffer.advance(1)
      if (buffer.length >= d && buffer.indexOf(delimiter, buffer.length - d) !== -1) {
        buffer.truncate(buffer.length - d)
        break
      }
    }
    return buffer.finish()
  } finally {
    buffer.discard()
  }
}

/**
 * Consumes a Node.js readable stream until `delimiter` or its end, into a new allocation holding
 * what came before the delimiter. The bytes after the delimiter go back to the stream.
 */
export function readStreamUntil(allocator: Allocator, s: Readable, delimiter: Uint8Array, choices: ReadUntilChoices): Promise<Allocation> {
  checkReadable(s)
  const d = delimiter.byteLength
  const capacity = choices.maxLength + d
  const buffer = new GrowingBuffer(allocator, capacity)
  return new Promise<Allocation>((resolve, reject) => {
    let failure: unknown = null
    let found = false

    /** Copies what fits of one chunk in; returns how many of its bytes are consumed (-1: no delimiter yet). */
    const consume = (bytes: Uint8Array): number => {
      const before = buffer.length
      buffer.append(bytes.subarray(0, Math.min(bytes.byteLength, capacity - before)))
      const at = buffer.indexOf(delimiter, Math.max(0, before - d + 1))
      if (at !== -1) {
        buffer.truncate(at)
        return at + d - before
      }
      if (buffer.length === capacity) throw tooLong(choices.maxLength)
      return -1
    }

    const settle = (): void => {
      stop()
      s.removeListener('data', onData)
      settleStreamRead(s, buffer, failure, resolve, reject)
    }

    const onData = (chunk: unknown): void => {
      if (failure !== null) {
        wipeQuietly(chunk)
      } else {
        let used = -1
        try {
          const bytes = chunkBytes(chunk)
          used = consume(bytes)
          if (used !== -1) {
            found = true
            s.pause()
            const rest = bytes.subarray(used)
            if (rest.byteLength > 0) s.unshift(Buffer.from(rest.buffer, rest.byteOffset, rest.byteLength))
            os.wipe(bytes.subarray(0, used))
          }
        } catch (err) {
          failure = err
        } finally {
          if (used === -1) wipeQuietly(chunk)
        }
        if (found && failure === null) {
          settle()
          return
        }
      }
      // After a failure, chunks still buffered in the stream arrive in this same turn; destroy once they are wiped.
      if (failure !== null && s.readableLength === 0 && !s.destroyed) s.destroy()
    }

    s.on('data', onData)
    const stop = finished(s, { writable: false }, (err) => {
      if (failure === null && err) failure = err
      if (failure === null && choices.requireDelimiter) failure = noDelimiter()
      settle()
    })
    s.resume()
  })
}

/** Wipes a chunk; a failure to wipe (a chunk that is not bytes) is not the error to report. */
export function wipeQuietly(chunk: unknown): void {
  try {
    wipeChunk(chunk)
  } catch {
    // The first failure is the one reported.
  }
}

/**
 * Reads `source` (a file descriptor or a Node.js readable stream) until `delimiter` into a new
 * allocation from `allocator`. Bad arguments reject before anything is read.
 */
export async function readUntil(allocator: Allocator, source: unknown, delimiter: Uint8Array, choices: ReadUntilChoices): Promise<Allocation> {
  if (typeof source === 'number') {
    if (!Number.isInteger(source) || source < 0) {
      throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "source" argument must be a non-negative integer file descriptor or a readable stream')
    }
    return readFdUntil(allocator, source, delimiter, choices)
  }
  if (source !== null && typeof source === 'object' && isNodeReadable(source)) return readStreamUntil(allocator, source, delimiter, choices)
  throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "source" argument must be a file descriptor or a Node.js readable stream')
}
