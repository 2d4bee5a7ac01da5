/**
 * A password prompt on a terminal, straight into protected memory.
 *
 * The terminal goes into raw mode for the prompt: no echo, no line editing by
 * the kernel, and Ctrl-C arrives as a byte instead of a signal. Each chunk
 * Node reads from the terminal is a small heap Buffer; its bytes are taken one
 * by one (as numbers, never a string) into a protected buffer that grows with
 * the input (growing-buffer.ts), and the chunk is wiped at once.
 *
 * Keys: Enter (CR or LF) or Ctrl-D ends the password; Backspace (DEL or BS)
 * removes the last character (a whole UTF-8 sequence); Ctrl-U clears the
 * line; Ctrl-C cancels (`ERR_PROMPT_CANCELLED`). Other control bytes and
 * escape sequences (arrow keys, function keys) are ignored. Bytes typed after
 * Enter in the same chunk go back to the stream (`unshift`) for the next
 * reader. The terminal's previous mode is restored before the promise
 * settles, whatever happens, and also when the process exits during the
 * prompt (Node itself resets the terminal when a signal kills it).
 *
 * An input that is not a terminal is refused (`ERR_NOT_A_TTY`) unless
 * `allowNonTty` is set; it is then read up to a line feed like
 * `fromReaderUntil(input)` (no key is interpreted).
 */
import { finished } from 'node:stream'
import type { Readable, Writable } from 'node:stream'
import os = require('@tarsjs/os-memlock')
import type { Allocation, Allocator } from '@tarsjs/page-alloc'
import { ContainerError, checkLength } from './errors.js'
import { GrowingBuffer, tooLong } from './growing-buffer.js'
import { DEFAULT_MAX_LENGTH, optionsObject } from './options.js'
import { checkReadable, chunkBytes, isNodeReadable } from './read-secret.js'
import { readStreamUntil, wipeQuietly } from './read-until.js'
import { settleRead } from './settle-read.js'

/** Options of `fromPrompt`. */
export interface PromptOptions {
  /** Text written to `output` before reading. Default `'Password: '`. */
  prompt?: string
  /** The terminal to read. Default `process.stdin`. */
  input?: Readable
  /** Where the prompt and the final newline go; `null` writes nothing. Default `process.stderr`. */
  output?: Writable | null
  /** Longest password accepted, in bytes. Default 65536. */
  maxLength?: number
  /** Read an input that is not a terminal (a pipe, a file) up to a line feed instead of refusing it. Default false. */
  allowNonTty?: boolean
  /** The allocator of the result (see each container's options). */
  allocator?: Allocator
}

/** The options of a prompt, read once. */
export interface PromptChoices {
  readonly allocator: unknown
  readonly maxLength: number
  readonly prompt: string
  readonly input: Readable
  readonly output: Writable | null
  readonly allowNonTty: boolean
}

/** What a terminal in raw mode offers beyond a Readable. */
interface Terminal extends Readable {
  isRaw: boolean
  setRawMode(mode: boolean): unknown
}

const CTRL_C = 0x03
const CTRL_D = 0x04
const BACKSPACE = 0x08
const LF = 0x0a
const CR = 0x0d
const CTRL_U = 0x15
const ESC = 0x1b
const DEL = 0x7f
const LINE_FEED = Uint8Array.of(LF)

/** Reads each option once and checks it; the defaults are `process.stdin` and `process.stderr`. */
export function promptOptions(options: unknown): PromptChoices {
  const o = optionsObject(options)
  const allocator = o.allocator
  const maxLength = o.maxLength
  const prompt = o.prompt
  const input = o.input
  const output = o.output
  const allowNonTty = o.allowNonTty
  if (prompt !== undefined && typeof prompt !== 'string') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "prompt" option must be of type string')
  }
  if (input !== undefined && (input === null || typeof input !== 'object' || !isNodeReadable(input))) {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "input" option must be a Node.js readable stream (a terminal)')
  }
  if (output !== undefined && output !== null && (typeof output !== 'object' || typeof (output as Partial<Writable>).write !== 'function')) {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "output" option must be a writable stream or null')
  }
  if (allowNonTty !== undefined && typeof allowNonTty !== 'boolean') {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "allowNonTty" option must be of type boolean')
  }
  return Object.freeze({
    allocator,
    maxLength: maxLength === undefined ? DEFAULT_MAX_LENGTH : checkLength(maxLength, 'maxLength'),
    prompt: prompt ?? 'Password: ',
    input: (input as Readable | undefined) ?? process.stdin,
    output: output === undefined ? process.stderr : (output as Writable | null),
    allowNonTty: allowNonTty === true
  })
}

function isTerminal(input: Readable): input is Terminal {
  const t = input as Partial<Terminal> & { isTTY?: unknown }
  return t.isTTY === true && typeof t.setRawMode === 'function'
}

/**
 * Prompts on a terminal and reads a password into a new allocation from `allocator`; a non-terminal
 * input is read up to a line feed when `allowNonTty` is set.
 */
export async function readPassword(allocator: Allocator, c: PromptChoices): Promise<Allocation> {
  checkReadable(c.input)
  if (isTerminal(c.input)) return readTerminal(allocator, c.input, c)
  if (!c.allowNonTty) {
    throw new ContainerError('ERR_NOT_A_TTY', 'The input is not a terminal: pass allowNonTty: true to read a line from it, or use fromReaderUntil')
  }
  c.output?.write(c.prompt)
  try {
    return await readStreamUntil(allocator, c.input, LINE_FEED, { allocator, maxLength: c.maxLength, requireDelimiter: false })
  } finally {
    c.output?.write('\n')
  }
}

/** The line being typed, with the editing keys applied. */
class LineEditor {
  readonly #buffer: GrowingBuffer
  readonly #maxLength: number
  /** 0: plain input; 1: after ESC; 2: inside an escape sequence, up to its final byte. */
  #escape = 0
  /** True once more than `maxLength` bytes were typed (until Ctrl-U). */
  overflow = false

  constructor(buffer: GrowingBuffer, maxLength: number) {
    this.#buffer = buffer
    this.#maxLength = maxLength
  }

  /** Applies one byte at `bytes[i]`; returns 'enter', 'cancel' or null to go on. */
  key(bytes: Uint8Array, i: number): 'enter' | 'cancel' | null {
    const b = bytes[i] as number
    if (this.#escape === 1) {
      this.#escape = b === 0x5b || b === 0x4f ? 2 : 0 // ESC [ (CSI) or ESC O (SS3)
      return null
    }
    if (this.#escape === 2) {
      if (b >= 0x40 && b <= 0x7e) this.#escape = 0
      return null
    }
    if (b === CR || b === LF || b === CTRL_D) return 'enter'
    if (b === CTRL_C) return 'cancel'
    if (b === DEL || b === BACKSPACE) this.deleteCharacter()
    else if (b === CTRL_U) this.clear()
    else if (b === ESC) this.#escape = 1
    else if (b >= 0x20) this.insert(bytes.subarray(i, i + 1))
    return null
  }

  private insert(byte: Uint8Array): void {
    if (this.#buffer.length < this.#maxLength) this.#buffer.append(byte)
    else this.overflow = true
  }

  /** Removes the last character: its UTF-8 continuation bytes, then its first byte. */
  private deleteCharacter(): void {
    let end = this.#buffer.length
    while (end > 0 && ((this.#buffer.at(end - 1) & 0xc0) === 0x80)) end--
    this.#buffer.truncate(Math.max(0, end - 1))
  }

  private clear(): void {
    this.#buffer.truncate(0)
    this.overflow = false
  }
}

function readTerminal(allocator: Allocator, input: Terminal, c: PromptChoices): Promise<Allocation> {
  const buffer = new GrowingBuffer(allocator, c.maxLength)
  const editor = new LineEditor(buffer, c.maxLength)
  const wasRaw = input.isRaw === true
  const restore = (): void => {
    input.setRawMode(wasRaw)
  }
  try {
    input.setRawMode(true)
  } catch (err) {
    buffer.discard()
    throw err
  }
  try {
    c.output?.write(c.prompt)
  } catch (err) {
    restore()
    buffer.discard()
    throw err
  }
  process.once('exit', restore)
  return new Promise<Allocation>((resolve, reject) => {
    const end = (failure: unknown): void => {
      stop()
      input.removeListener('data', onData)
      input.pause()
      process.removeListener('exit', restore)
      try {
        restore()
      } catch (err) {
        failure ??= err
      }
      try {
        c.output?.write('\n')
      } catch (err) {
        failure ??= err
      }
      settleRead(buffer, failure, resolve, reject)
    }

    const onData = (chunk: unknown): void => {
      let bytes: Uint8Array
      try {
        bytes = chunkBytes(chunk)
      } catch (err) {
        wipeQuietly(chunk)
        end(err)
        return
      }
      let outcome: 'enter' | 'cancel' | null = null
      let i = 0
      try {
        while (i < bytes.byteLength && outcome === null) outcome = editor.key(bytes, i++)
      } catch (err) {
        wipeQuietly(chunk)
        end(err)
        return
      }
      if (outcome === 'enter' && i < bytes.byteLength) {
        // Typed ahead after Enter: it belongs to the next reader.
        input.pause()
        const rest = bytes.subarray(i)
        input.unshift(Buffer.from(rest.buffer, rest.byteOffset, rest.byteLength))
        os.wipe(bytes.subarray(0, i))
      } else {
        wipeQuietly(chunk)
      }
      if (outcome === 'cancel') end(new ContainerError('ERR_PROMPT_CANCELLED', 'The password prompt was cancelled (Ctrl-C)'))
      else if (outcome === 'enter') end(editor.overflow ? tooLong(c.maxLength) : null)
    }

    input.on('data', onData)
    const stop = finished(input, { writable: false }, (err) => {
      end(err ?? new ContainerError('ERR_UNEXPECTED_EOF', 'The terminal input ended before Enter'))
    })
    input.resume()
  })
}
