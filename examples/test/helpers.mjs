// Running the examples as a user would: a child process per run, with this
// process's privileges or without CAP_IPC_LOCK under a low RLIMIT_MEMLOCK,
// or under a pseudo-terminal (script(1)) driven through its stdin.

import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll } from 'vitest'

export const examplesDir = fileURLToPath(new URL('..', import.meta.url))
export const example = (name) => fileURLToPath(new URL(`../${name}`, import.meta.url))

const DROP_IPC_LOCK = ['--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', '--']

/** setpriv needs CAP_SETPCAP to drop a capability from the bounding set. */
export const canDropPrivilege =
  spawnSync('setpriv', [...DROP_IPC_LOCK, 'prlimit', '--memlock=0', 'true']).status === 0

/** script(1) from util-linux, to give a child a pseudo-terminal. */
export const hasScript = spawnSync('script', ['-qfec', 'true', '/dev/null'], { stdio: 'ignore' }).status === 0

/** Runs `node [nodeArgs] <example> ...args` (after a `prefix` command such as setpriv) and waits for it. */
export function run (name, args = [], options = {}) {
  const { prefix = [], nodeArgs = [], ...rest } = options
  const argv = [...prefix, process.execPath, ...nodeArgs, example(name), ...args]
  const child = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30000, cwd: examplesDir, ...rest })
  return { status: child.status, signal: child.signal, stdout: child.stdout, stderr: child.stderr, error: child.error }
}

/** The same, without CAP_IPC_LOCK and with RLIMIT_MEMLOCK set to `memlock` bytes. */
export function runUnprivileged (memlock, name, args = [], options = {}) {
  return run(name, args, { ...options, prefix: ['setpriv', ...DROP_IPC_LOCK, 'prlimit', `--memlock=${memlock}`] })
}

const shellQuote = (s) => `'${s.replaceAll("'", "'\\''")}'`

/**
 * Runs a command under a pseudo-terminal: `script -qfec COMMAND /dev/null`.
 * Once `waitFor` appears in what the terminal shows, each string of `keys` is
 * written to the terminal (as typed), `delay` ms apart. Resolves with the
 * exit code, the signal and everything the terminal showed.
 */
export function runInPty (command, { waitFor, keys = [], delay = 5, timeout = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command.map(shellQuote).join(' '), '/dev/null'], {
      cwd: examplesDir,
      stdio: ['pipe', 'pipe', 'pipe']
    })
    let screen = ''
    let typing = false
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`timed out; the terminal showed: ${JSON.stringify(screen)}`))
    }, timeout)
    const type = async () => {
      typing = true
      for (const k of keys) {
        await new Promise((resolve) => setTimeout(resolve, delay))
        child.stdin.write(k)
      }
    }
    // Keys written after the program has exited go nowhere; that is not an error here.
    child.stdin.on('error', () => {})
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (text) => {
      screen += text
      if (!typing && (waitFor === undefined || screen.includes(waitFor))) type()
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      child.stdin.end()
      resolve({ code, signal, screen })
    })
    if (waitFor === undefined) type()
  })
}

/** Files for one test file, in a directory removed after its tests: `fileWith(bytes)` returns a new file's path. */
export function tempFiles (prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  let count = 0
  return (bytes) => {
    const path = join(dir, `file-${count++}`)
    writeFileSync(path, bytes)
    return path
  }
}
