// Shared test helpers: the built package (the same code child fixtures load),
// error assertions, allocator bookkeeping and child-process runs.
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expectCode as expectErrorCode, expectReject, records, runNode, which } from '@tarsjs/test-kit'
import { afterAll, afterEach, beforeEach, expect } from 'vitest'

const require = createRequire(import.meta.url)

/** The package under test, from dist/ (what users and the fixtures load). */
export const pc = require('../dist/index.js')
export const { ProtBuf, ProtKey, ContainerError } = pc
/** The allocator layer, resolved the way dist/ resolves it (one copy of each class). */
export const pa = require('@tarsjs/page-alloc')
export const { PageAllocator, SlotAllocator } = pa
export const os = require('@tarsjs/os-memlock')

export const HERE = dirname(fileURLToPath(import.meta.url))
export const FIXTURES = join(HERE, 'fixtures')
export const PS = os.pageSize()
export const SECRETMEM = os.capabilities().memfdSecret
/** This process has a memory protection key (x86-64 PKU): the default key allocator denies access with it. */
export const PKEYS = os.capabilities().protectionKeys
/** The ProtectionKey field of /proc/self/smaps, and a key's data pages (see fixtures/protection-keys.cjs). */
export const { locateKeyPages, protectionKeyAt, protectionKeys, warmWindowMemory } = require('./fixtures/protection-keys.cjs')
/** The kernel shows a ProtectionKey field in smaps (a CPU with pkeys, even where the addon simulates none). */
export const KERNEL_PKEYS = protectionKeys().size > 0

/**
 * Calls fn, expects a throw with `code`; checks the class by name when given
 * ('TypeError', 'RangeError', 'ContainerError'...). Returns the error.
 */
export function expectCode (fn, code, name) {
  return expectErrorCode(fn, code, { name })
}

/** Same for a promise: expects a rejection with `code`. */
export { expectReject }

/** The live part of an allocator's stats: what a leak would change. */
export function live (allocator) {
  const s = allocator.stats()
  return { allocations: s.allocations, bytes: s.bytes }
}

/**
 * Checks around every test of the calling file that the live allocations of
 * `allocators()` are the same after the test as before it.
 */
export function keepsNothing (allocators) {
  let before
  beforeEach(() => { before = allocators().map(live) })
  afterEach(() => { expect(allocators().map(live)).toEqual(before) })
}

/**
 * A temporary directory for the calling test file, removed after its tests;
 * returns `fileWith(bytes)`, which writes a new file there and returns its path.
 */
export function tempFiles (prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  let n = 0
  return function fileWith (bytes) {
    const path = join(dir, `secret-${n++}`)
    writeFileSync(path, bytes)
    return path
  }
}

/** Bytes as lowercase hex, built byte by byte (never Buffer#toString on a copy of a secret). */
export function hexOf (bytes) {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += bytes[i].toString(16).padStart(2, '0')
  return out
}

/** Open file descriptors of this process (to prove a reader closes what it opens). */
export function openFds () {
  return readdirSync('/proc/self/fd').length
}

/**
 * An allocator written by a user: delegates to `inner` and counts every call,
 * so a test can prove that an operation touched no memory at all.
 */
export class CountingAllocator {
  constructor (inner) {
    this.inner = inner
    this.name = 'counting'
    this.capabilities = inner.capabilities
    this.calls = { alloc: 0, free: 0, view: 0, protect: 0, protections: 0, stats: 0 }
  }

  alloc (n) { this.calls.alloc++; return this.inner.alloc(n) }
  free (a) { this.calls.free++; return this.inner.free(a) }
  view (a) { this.calls.view++; return this.inner.view(a) }
  protect (a, access) { this.calls.protect++; return this.inner.protect(a, access) }
  protections (a) { this.calls.protections++; return this.inner.protections(a) }
  stats () { this.calls.stats++; return this.inner.stats() }
  total () { return Object.values(this.calls).reduce((a, b) => a + b, 0) }
}

export { records, which }

/**
 * Runs `node [nodeArgs] fixtures/<name> [args]` synchronously, with core dumps
 * off (prlimit --core=0 execs node, so a signal is node's own).
 * @param {string} name
 * @param {string[]} [args]
 * @param {{ nodeArgs?: string[], input?: string | Buffer, timeout?: number, env?: Record<string, string> }} [options] `env` is added to this process's environment
 */
export function runFixture (name, args = [], { nodeArgs = [], input, timeout = 60000, env } = {}) {
  return runNode(join(FIXTURES, name), args, { nodeArgs, input, timeout, cwd: HERE, env: env === undefined ? undefined : { ...process.env, ...env } })
}

/**
 * Starts a fixture that prints `READY {json}` and then waits (for stdin to end,
 * or a signal). `input` is written to stdin and stdin closed at once. Resolves
 * { child, ready, finish(), kill() }: finish() ends stdin and resolves
 * { code, signal, stdout, stderr } once the child exits.
 * @param {string} name
 * @param {string[]} [args]
 * @param {{ nodeArgs?: string[], input?: string | Buffer }} [options]
 */
export function startFixture (name, args = [], { nodeArgs = [], input } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, join(FIXTURES, name), ...args], { cwd: HERE, stdio: ['pipe', 'pipe', 'pipe'] })
  if (input !== undefined) child.stdin.end(input) // the whole input, then end of file
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  // 'close', not 'exit': 'exit' can come before the last of stdout has been read.
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }))
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    exited.then(({ code, signal }) => reject(new Error(`fixture exited before READY: ${code} ${signal}\n${stderr}`)))
    child.stderr.on('data', (d) => { stderr += d })
    child.stdout.on('data', (d) => {
      stdout += d
      // Only complete lines: a long READY line arrives in several chunks.
      const line = stdout.split('\n').slice(0, -1).find((l) => l.startsWith('READY '))
      if (line === undefined) return
      child.stdout.removeAllListeners('data')
      child.stdout.on('data', (more) => { stdout += more })
      let ready
      try {
        ready = JSON.parse(line.slice(6))
      } catch (err) {
        child.kill('SIGKILL')
        reject(err)
        return
      }
      resolve({
        child,
        ready,
        async finish () {
          child.stdin.end()
          const { code, signal } = await exited
          return { code, signal, stdout, stderr }
        },
        kill () {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
        }
      })
    })
  })
}

export const GDB = which('gdb')

/**
 * gdb can attach to a child of this process: as root, or where Yama does not
 * restrict ptrace to ancestors (gdb is the child's sibling, not its parent).
 */
export function canGcore () {
  if (GDB === null) return false
  if (process.getuid() === 0) return true
  try {
    return readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim() === '0'
  } catch {
    return true // no Yama: the classic same-user rule applies
  }
}

/**
 * Writes a core file of a running process with gdb's gcore (which honours
 * MADV_DONTDUMP, like the kernel). Attaching needs ptrace rights (root here).
 */
export function gcore (pid, file) {
  const res = spawnSync(GDB, ['-batch', '-nx', '-p', String(pid), '-ex', `gcore ${file}`], { encoding: 'utf8', timeout: 50000 })
  if (res.error) throw res.error
  if (res.status !== 0 || !existsSync(file)) throw new Error(`gcore failed (${res.status}): ${res.stderr}`)
}

/**
 * Which of `needles` (Buffers of at least 8 bytes) occur in the file. One pass
 * over the file in chunks: each needle is indexed by a 4-byte window free of
 * 0x00 and 0xff (so the long zero runs of a core never trigger a comparison),
 * then confirmed byte for byte. Returns the set of indexes found.
 */
export function findInFile (file, needles) {
  const anchors = new Map() // 32-bit window -> [{ index, offset }]
  const filter = new Uint8Array(65536)
  needles.forEach((needle, index) => {
    let offset = 0
    while (offset + 4 <= needle.length && needle.subarray(offset, offset + 4).some((b) => b === 0 || b === 0xff)) offset++
    if (offset + 4 > needle.length) offset = 0
    const key = needle.readUInt32LE(offset)
    if (!anchors.has(key)) anchors.set(key, [])
    anchors.get(key).push({ index, offset })
    filter[key & 0xffff] = 1
  })
  const maxLen = Math.max(...needles.map((n) => n.length))
  const CHUNK = 64 << 20
  const buf = Buffer.alloc(CHUNK + maxLen)
  const found = new Set()
  const fd = openSync(file, 'r')
  try {
    let pos = 0 // file position of buf[0]
    let carry = 0
    for (;;) {
      const n = readSync(fd, buf, carry, CHUNK, pos + carry)
      const len = carry + n
      const end = len - 3
      for (let i = 0; i < end; i++) {
        if (filter[buf[i] | (buf[i + 1] << 8)] === 0) continue
        const list = anchors.get(buf.readUInt32LE(i))
        if (list === undefined) continue
        for (const { index, offset } of list) {
          const needle = needles[index]
          const start = i - offset
          if (start >= 0 && start + needle.length <= len && buf.compare(needle, 0, needle.length, start, start + needle.length) === 0) found.add(index)
        }
      }
      if (n === 0) break
      // Keep the tail so a needle across two chunks is still seen.
      carry = Math.min(maxLen, len)
      buf.copy(buf, 0, len - carry, len)
      pos += len - carry
    }
  } finally {
    closeSync(fd)
  }
  return found
}

/**
 * A ProtKey with no window open: its pages are no access and no window memory
 * holds a copy of it.
 */
export function expectNoWindow (key) {
  const p = key.protections()
  expect(p.access).toBe('none')
  expect(p.window).toBe(null)
  return p
}

/**
 * A ProtKey inside a window: its own pages stay no access (a window works on a
 * copy), and the copy lives in locked, no-dump, wipe-on-fork, read-write window
 * memory (never secretmem: it cannot wipe on fork). Returns the protections.
 */
export function expectWindowCopy (key) {
  const p = key.protections()
  expect(p.access).toBe('none')
  expect(p.window).toMatchObject({ access: 'readwrite', locked: true, noDump: true, wipeOnFork: true, guardPages: true, secretmem: false })
  return p
}

/**
 * The VMA `vma` denies every access the way `protections` (of a ProtKey) says:
 * under a memory protection key (`protectionKey: true`) it is read-write in the
 * page tables and tagged with a non-zero ProtectionKey; otherwise PROT_NONE
 * (`---`) with key 0 where the kernel shows keys at all.
 */
export function expectNoAccessVma (vma, protections) {
  const kind = protections.secretmem ? 's' : 'p'
  const pkey = protectionKeyAt(vma.start)
  if (protections.protectionKey === true) {
    expect(vma.perms).toBe(`rw-${kind}`)
    expect(pkey).toBeGreaterThan(0)
  } else {
    expect(vma.perms).toBe(`---${kind}`)
    if (pkey !== undefined) expect(pkey).toBe(0)
  }
}

/**
 * An at-rest allocator in plain JavaScript memory, for tests of what an
 * allocator's own code can do: `hooks.copyOut(a, target)` / `hooks.copyIn(a,
 * source)` run before each copy (their return is ignored).
 */
export function heapAllocator (hooks = {}) {
  const allocator = {
    capabilities: { protect: false, alignment: 1 },
    alloc (n) { return { allocator, byteLength: n, freed: false, mem: new Uint8Array(n) } },
    free (a) {
      a.mem.fill(0)
      a.freed = true
    },
    view (a) { return a.mem.buffer },
    copyOut (a, target) {
      target.set(a.mem)
      hooks.copyOut?.(a, target)
    },
    copyIn (a, source) {
      hooks.copyIn?.(a, source)
      a.mem.set(source)
    },
    protect () { throw new Error('not isolated') },
    protections () { return {} },
    stats () { return {} }
  }
  return allocator
}
