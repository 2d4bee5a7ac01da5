'use strict'
// Child processes for the tests of every package: running a Node script (a
// fixture) with core dumps off, and reading the `KEY {json}` records it
// prints. Plain CommonJS with no dependency, like smaps.cjs.
const { spawn, spawnSync } = require('node:child_process')
const { existsSync } = require('node:fs')
const { join } = require('node:path')

/**
 * What a finished child did. `rec` holds its `KEY {json}` records.
 * @typedef {object} ChildRun
 * @property {number | null} status
 * @property {NodeJS.Signals | null} signal
 * @property {string} stdout
 * @property {string} stderr
 * @property {Record<string, any>} rec
 */

/**
 * How to run a Node script: `nodeArgs` go before the script; `wrap` is a
 * command prefix used as given (setpriv ..., prlimit ..., a seccomp launcher),
 * otherwise core dumps are switched off.
 * @typedef {object} NodeOptions
 * @property {string[]} [nodeArgs]
 * @property {string[] | null} [wrap]
 * @property {string} [cwd]
 * @property {NodeJS.ProcessEnv} [env]
 * @property {number} [timeout] milliseconds (synchronous runs only)
 * @property {string | Buffer} [input] written to stdin, which is then closed (synchronous runs only)
 */

/**
 * Full path of `cmd` found on PATH, or null.
 * @param {string} cmd
 * @returns {string | null}
 */
function which (cmd) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd)
  }
  return null
}

const PRLIMIT = which('prlimit')

/**
 * The argv that runs `command` with core dumps off: prlimit --core=0 or, without
 * prlimit, a shell that sets the limit; both exec the command, so a signal that
 * ends it is the command's own.
 * @param {string[]} command
 * @returns {string[]}
 */
function withoutCoreDumps (command) {
  return PRLIMIT !== null ? [PRLIMIT, '--core=0', ...command] : ['/bin/sh', '-c', 'ulimit -c 0 && exec "$@"', 'sh', ...command]
}

/**
 * @param {string} script
 * @param {string[]} args
 * @param {NodeOptions} options
 * @returns {[string, string[]]}
 */
function nodeArgv (script, args, { nodeArgs = [], wrap = null }) {
  const node = [process.execPath, ...nodeArgs, script, ...args]
  const [cmd, ...rest] = wrap !== null ? [...wrap, ...node] : withoutCoreDumps(node)
  if (cmd === undefined) throw new Error('nodeArgv: empty command')
  return [cmd, rest]
}

/**
 * The lines of the form `KEY {json}` (KEY in capitals) printed by a child, as an object.
 * @param {string} stdout
 * @returns {Record<string, any>}
 */
function records (stdout) {
  /** @type {Record<string, any>} */
  const out = {}
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z][A-Z0-9_-]*) (.*)$/.exec(line)
    if (m !== null) out[String(m[1])] = JSON.parse(String(m[2]))
  }
  return out
}

/**
 * Runs `node [nodeArgs] script [args]` and waits for it. Throws when it cannot
 * be started or times out.
 * @param {string} script
 * @param {string[]} [args]
 * @param {NodeOptions} [options]
 * @returns {ChildRun}
 */
function runNode (script, args = [], options = {}) {
  const [cmd, argv] = nodeArgv(script, args, options)
  const res = spawnSync(cmd, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    input: options.input,
    encoding: 'utf8',
    timeout: options.timeout ?? 60000,
    maxBuffer: 64 << 20
  })
  if (res.error) throw res.error
  return { status: res.status, signal: res.signal, stdout: res.stdout, stderr: res.stderr, rec: records(res.stdout) }
}

/**
 * The same as `runNode`, without blocking (to run children side by side):
 * resolves once the child has exited and its output is read.
 * @param {string} script
 * @param {string[]} [args]
 * @param {NodeOptions} [options]
 * @returns {Promise<ChildRun>}
 */
function startNode (script, args = [], options = {}) {
  const [cmd, argv] = nodeArgv(script, args, options)
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: options.cwd, env: options.env ?? process.env })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (/** @type {string} */ d) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (/** @type {string} */ d) => { stderr += d })
    child.on('error', reject)
    // 'close', not 'exit': 'exit' can come before the last of stdout has been read.
    child.on('close', (status, signal) => {
      try {
        resolve({ status, signal, stdout, stderr, rec: records(stdout) })
      } catch (err) {
        reject(err)
      }
    })
  })
}

module.exports = { which, withoutCoreDumps, records, runNode, startNode }
