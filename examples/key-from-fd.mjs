// Loading a key from a file descriptor into a ProtKey.
//
//   node examples/key-from-fd.mjs --fd 3 3< key.bin    a descriptor the parent opened
//   node examples/key-from-fd.mjs --fd 0 < key.bin     standard input (a file or a pipe)
//   node examples/key-from-fd.mjs key.bin              a path: opened, read through its descriptor, closed
//   node examples/key-from-fd.mjs                      makes a throwaway 32-byte key file first
//
// ProtKey.fromFd(fd) reads the descriptor to its end with read(2) straight
// into the key's pages: no string, no heap Buffer holds the key at any time.
// The file's bytes are the key, as they are (binary; a trailing newline would
// be part of it). Handing a key over a descriptor (systemd's
// LoadCredential=, a pipe from a secrets manager, `3<`) keeps it out of
// argv and the environment, which other processes can read.
//
// It prints what it read (length, kind of descriptor), the key's protections,
// and a check value: HMAC-SHA256(key, "tarsjs key check value"), which lets
// you compare two copies of a key without showing either.

import { createHmac } from 'node:crypto'
import { closeSync, fstatSync, openSync, unlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { isatty } from 'node:tty'
import { join } from 'node:path'
import { ProtBuf, ProtKey } from '@tarsjs/prot-containers'

const CHECK_MESSAGE = 'tarsjs key check value'

function usage () {
  console.error('usage: node key-from-fd.mjs [--fd N | PATH]')
  return 2
}

function kindOf (stat) {
  if (stat.isFile()) return 'a regular file'
  if (stat.isFIFO()) return 'a pipe'
  if (stat.isSocket()) return 'a socket'
  return 'a descriptor'
}

/** Writes a fresh random key file (mode 0600) without the key touching the V8 heap. */
function makeThrowawayKey () {
  const path = join(tmpdir(), `tarsjs-example-${process.pid}.key`)
  const fd = openSync(path, 'wx', 0o600)
  try {
    const key = ProtBuf.random(32)
    try {
      writeSync(fd, key.bytes)
    } finally {
      key.dispose()
    }
  } finally {
    closeSync(fd)
  }
  return path
}

function main (argv) {
  let fd
  let path
  let ownFd = false
  let throwaway = false
  if (argv.length === 0) {
    path = makeThrowawayKey()
    throwaway = true
    console.log(`no key given: wrote a throwaway random key to ${path}`)
  } else if (argv[0] === '--fd' && argv.length === 2) {
    fd = Number(argv[1])
    if (!Number.isInteger(fd) || fd < 0) return usage()
  } else if (argv.length === 1 && !argv[0].startsWith('-')) {
    path = argv[0]
  } else {
    return usage()
  }

  if (path !== undefined) {
    try {
      fd = openSync(path, 'r')
    } catch (err) {
      console.error(`key-from-fd: cannot open ${path}: ${err.code}`)
      return 1
    }
    ownFd = true
  }
  let key
  try {
    if (isatty(fd)) {
      console.error(`key-from-fd: fd ${fd} is a terminal, where a typed key would be echoed; use password-prompt.mjs`)
      return 2
    }
    const stat = fstatSync(fd)
    if (!stat.isFile() && !stat.isFIFO() && !stat.isSocket()) {
      console.error(`key-from-fd: fd ${fd} is not a file, a pipe or a socket`)
      return 1
    }
    if (stat.isFile() && (stat.mode & 0o077) !== 0) {
      console.log(`warning: the key file is readable by others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`)
    }
    key = ProtKey.fromFd(fd, { maxLength: 4096 })
    console.log(`read ${key.byteLength} bytes from fd ${fd} (${kindOf(stat)}) into ${key}`)
    // A descriptor handed over to carry a secret is closed once read; stdin is left alone.
    if (!ownFd && fd > 2) closeSync(fd)
  } catch (err) {
    console.error(`key-from-fd: cannot read a key from fd ${fd}: ${err.code ?? ''} ${err.message}`)
    return 1
  } finally {
    if (ownFd) closeSync(fd)
    if (throwaway) unlinkSync(path)
  }

  try {
    const p = key.protections()
    console.log(`protections: locked ${p.locked}, no-dump ${p.noDump}, guard pages ${p.guardPages}, memfd_secret ${p.secretmem}, access '${p.access}'`)
    const check = key.read((bytes) => createHmac('sha256', bytes).update(CHECK_MESSAGE).digest('hex'))
    console.log(`check value: ${check}`)
    console.log(`  = HMAC-SHA256(key, ${JSON.stringify(CHECK_MESSAGE)}), computed inside a read window`)
  } finally {
    key.dispose()
  }
  return 0
}

process.exitCode = main(process.argv.slice(2))
