// A secret read from a file descriptor (a pipe on stdin, or a file) goes
// straight into protected memory: it is in the container, a V8 heap snapshot of
// the process does not hold it in any form (text, hex, base64), and neither
// does a core dump, while a control string read the careless way shows up in both.
import { randomInt } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { canGcore, findInFile, gcore, records, startFixture } from './helpers.mjs'

const CAN_GCORE = canGcore()
const dir = mkdtempSync(join(tmpdir(), 'prot-containers-fd-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
/** Printable ASCII, so that any string copy of it would be plain to see in a snapshot. */
function printable (n) {
  let s = ''
  for (let i = 0; i < n; i++) s += ALPHABET[randomInt(ALPHABET.length)]
  return s
}

function forms (text) {
  const b = Buffer.from(text, 'latin1')
  return {
    text: b,
    utf16: Buffer.from(text, 'utf16le'),
    hex: Buffer.from(b.toString('hex')),
    HEX: Buffer.from(b.toString('hex').toUpperCase()),
    base64: Buffer.from(b.toString('base64'))
  }
}

const cases = [
  ['ProtKey', 'key', 'stdin'],
  ['ProtBuf', 'buf', 'file']
]

describe('reading a secret from a file descriptor', () => {
  for (const [name, kind, source] of cases) {
    it(`${name}.fromFd (${source}): in protected memory, not in a heap snapshot${CAN_GCORE ? ' nor a core dump' : ''}`, async () => {
      const secret = printable(48)
      const control = printable(48)
      const controlPath = join(dir, `control-${kind}`)
      const secretPath = join(dir, `secret-${kind}`)
      const snapshot = join(dir, `${kind}.heapsnapshot`)
      const core = join(dir, `core-${kind}`)
      writeFileSync(controlPath, control)
      if (source === 'file') writeFileSync(secretPath, secret)
      let run
      try {
        run = await startFixture('fd-secret.cjs', [kind, source, snapshot, controlPath, secretPath], { input: source === 'stdin' ? secret : undefined })
        const { ready } = run
        expect(ready.byteLength).toBe(48)
        if (kind === 'key') expect(ready.protections.access).toBe('none')

        const snap = readFileSync(snapshot)
        rmSync(snapshot)
        expect(snap.length).toBeGreaterThan(1 << 20)
        // The search can fail: the control string, read the careless way, is found.
        expect(snap.includes(Buffer.from(control, 'latin1')), 'control in the snapshot').toBe(true)
        for (const [form, bytes] of Object.entries(forms(secret))) {
          expect(snap.includes(bytes), `secret as ${form} in the snapshot`).toBe(false)
        }

        if (CAN_GCORE) {
          gcore(ready.pid, core)
          const f = forms(secret)
          const found = findInFile(core, [Buffer.from(control, 'latin1'), f.text, f.utf16, f.hex, f.HEX, f.base64])
          rmSync(core)
          expect(found.has(0), 'the control string is in the core').toBe(true)
          expect([...found].filter((i) => i > 0), 'forms of the secret in the core').toEqual([])
        }

        run.child.kill('SIGUSR2')
        const end = await run.finish()
        expect(end.code, end.stderr).toBe(0)
        // The container held exactly the secret.
        expect(records(end.stdout).HEX).toBe(Buffer.from(secret, 'latin1').toString('hex'))
      } finally {
        run?.kill()
        rmSync(core, { force: true })
      }
    }, 60000)
  }
})
