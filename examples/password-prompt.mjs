// A password prompt that reads the terminal with echo off straight into a
// ProtBuf: the password never becomes a string.
//
//   node examples/password-prompt.mjs
//
// Type a password and press Enter; Backspace deletes the last character,
// Ctrl-U the whole line, Ctrl-C aborts (exit status 130, everything wiped).
// It prints only the password's length and its SHA-256, computed from the
// protected bytes themselves.
//
// How: the terminal goes into raw mode (no echo, no line editing, Ctrl-C
// arrives as a byte instead of a signal). Each chunk Node reads from the
// terminal is a small heap Buffer; its bytes are copied one by one into a
// ProtBuf (locked, no-dump, guarded) and the chunk is wiped at once. Nothing
// is ever decoded to a string. (Node's own read path may leave bytes in
// native memory it has freed; no JavaScript program can reach those.)
//
// stdin must be a terminal. To hand a secret to a script through a pipe or a
// file descriptor, see key-from-fd.mjs.

import { createHash } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { ProtBuf } from '@tarsjs/prot-containers'

const MAX_LENGTH = 1024
const CTRL_C = 0x03
const CTRL_D = 0x04
const BACKSPACE = 0x08
const LF = 0x0a
const CR = 0x0d
const CTRL_U = 0x15
const DEL = 0x7f

/**
 * Reads one line from a TTY (in raw mode while reading) into a ProtBuf.
 * Resolves with the ProtBuf (exactly the password's length), or `null` when
 * Ctrl-C aborted; rejects when the line is empty or too long.
 */
export function readPassword (input, output, prompt = 'Password: ') {
  return new Promise((resolve, reject) => {
    const scratch = ProtBuf.alloc(MAX_LENGTH)
    const bytes = scratch.bytes
    let length = 0
    let tooLong = false

    const finish = (result) => {
      input.off('data', onData)
      input.setRawMode(false)
      input.pause()
      output.write('\n')
      let password = null
      try {
        if (result === 'done' && tooLong) throw new Error(`the password is longer than ${MAX_LENGTH} bytes`)
        if (result === 'done' && length === 0) throw new Error('no password entered')
        if (result === 'done') {
          password = ProtBuf.alloc(length)
          password.bytes.set(bytes.subarray(0, length))
        }
      } catch (err) {
        reject(err)
        return
      } finally {
        scratch.dispose() // wipes all MAX_LENGTH bytes, whatever happened
      }
      resolve(result === 'abort' ? null : password)
    }

    const onData = (chunk) => {
      let result = null
      for (let i = 0; i < chunk.length && result === null; i++) {
        const b = chunk[i]
        if (b === CTRL_C) result = 'abort'
        else if (b === CR || b === LF || b === CTRL_D) result = 'done'
        else if (b === DEL || b === BACKSPACE) {
          // Remove one character: its UTF-8 continuation bytes, then its first byte.
          while (length > 0 && (bytes[length - 1] & 0xc0) === 0x80) bytes[--length] = 0
          if (length > 0) bytes[--length] = 0
        } else if (b === CTRL_U) {
          bytes.fill(0, 0, length)
          length = 0
        } else if (b < 0x20) {
          // Other control bytes (Tab, Esc...) are ignored.
        } else if (length < MAX_LENGTH) bytes[length++] = b
        else tooLong = true
      }
      chunk.fill(0) // the heap copy Node made of what was typed
      if (result !== null) finish(result)
    }

    input.setRawMode(true)
    output.write(prompt)
    input.on('data', onData)
    input.resume()
  })
}

async function main () {
  if (!process.stdin.isTTY) {
    console.error('password-prompt: stdin is not a terminal (run it in a terminal; for pipes and files see key-from-fd.mjs)')
    return 2
  }
  // Raw mode turns off the terminal's own Ctrl-C handling: make sure it comes back however we exit.
  process.on('exit', () => { if (process.stdin.isRaw) process.stdin.setRawMode(false) })

  let password
  try {
    password = await readPassword(process.stdin, process.stderr)
  } catch (err) {
    console.error(`password-prompt: ${err.message}`)
    return 1
  }
  if (password === null) {
    console.log('aborted: nothing was kept (the input buffer was wiped)')
    return 130
  }
  try {
    const digest = createHash('sha256').update(password.bytes).digest('hex')
    const p = password.protections()
    console.log(`length: ${password.byteLength} bytes`)
    console.log(`sha256: ${digest}`)
    console.log(`stored in: ${password} (locked ${p.locked}, no-dump ${p.noDump})`)
    return 0
  } finally {
    password.dispose()
  }
}

const invokedDirectly = process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
if (invokedDirectly) process.exitCode = await main()
