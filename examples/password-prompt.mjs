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
// All of it is `ProtBuf.fromPrompt()`: the terminal goes into raw mode (no
// echo, no line editing, Ctrl-C arrives as a byte instead of a signal) and
// back to its previous mode before the promise settles. Each chunk Node reads
// from the terminal is a small heap Buffer; its bytes are taken into protected
// memory and the chunk is wiped at once. (Node's own read path may leave bytes
// in native memory it has freed; no JavaScript program can reach those.)
//
// stdin must be a terminal (fromPrompt refuses anything else unless given
// `allowNonTty: true`). To hand a secret to a script through a pipe or a file
// descriptor, see key-from-fd.mjs.

import { createHash } from 'node:crypto'
import { ProtBuf } from '@tarsjs/prot-containers'

const MESSAGES = {
  ERR_NOT_A_TTY: 'stdin is not a terminal (run it in a terminal; for pipes and files see key-from-fd.mjs)',
  ERR_OUT_OF_RANGE: 'no password entered',
  ERR_SECRET_TOO_LONG: 'the password is longer than 1024 bytes'
}
const EXIT_STATUS = { ERR_PROMPT_CANCELLED: 130, ERR_NOT_A_TTY: 2 }

async function main () {
  let password
  try {
    password = await ProtBuf.fromPrompt({ prompt: 'Password: ', maxLength: 1024 })
  } catch (err) {
    if (err.code === 'ERR_PROMPT_CANCELLED') console.log('aborted: nothing was kept (the input buffer was wiped)')
    else console.error(`password-prompt: ${MESSAGES[err.code] ?? err.message}`)
    return EXIT_STATUS[err.code] ?? 1
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

process.exitCode = await main()
