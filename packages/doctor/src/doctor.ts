/**
 * `tarsjs doctor`: what protection this host can give secrets, and why not.
 * Every finding is read from the kernel (/proc, getrlimit, a probe through
 * os-memlock), has a verdict, and says the fix a user would apply.
 */
import { secureHeapUsed } from 'node:crypto'
import { readFileSync } from 'node:fs'
import os = require('@tarsjs/os-memlock')
import { MAX_SLOT, SLOT_SIZES, mapBudget, registeredDefaultAllocators } from '@tarsjs/page-alloc'
import type { MapBudgetStats } from '@tarsjs/page-alloc'
import { DoctorError } from './errors.js'
import { platformFinding } from './platform.js'

/** `ok`: in place. `warn`: weaker than it could be. `fail`: a required protection is missing. `info`: context. */
export type Verdict = 'ok' | 'warn' | 'fail' | 'info'

export interface Finding {
  /** Stable identifier, e.g. `'memlock'`; `'platform'` (never requirable) when tarsjs cannot protect memory here at all. */
  id: CheckId | 'platform'
  title: string
  verdict: Verdict
  /** What was found, in plain words. */
  detail: string
  /** What to do about it (empty when nothing is needed). */
  fix: string
  /** Raw values behind the verdict. */
  data: Record<string, unknown>
}

/** The id of every check, in report order. */
export const CHECK_IDS = ['memlock', 'secretmem', 'madvise', 'external-buffers', 'map-count', 'core-dumps', 'swap', 'ptrace', 'unprotected', 'secure-heap'] as const

/** One of {@link CHECK_IDS}. */
export type CheckId = (typeof CHECK_IDS)[number]

/**
 * Version of the report's shape (`tarsjs doctor --json`). Raised when a field
 * is removed or changes meaning; new fields and new check ids keep it.
 */
export const SCHEMA_VERSION = 1

export interface Report {
  /** {@link SCHEMA_VERSION} of the code that wrote the report. */
  schemaVersion: number
  /** False when a required finding is `fail` (or, with `strict`, `warn`). */
  ok: boolean
  /** The checks that decided `ok`. */
  required: CheckId[]
  /** Whether a `warn` on a required check made the report fail. */
  strict: boolean
  findings: Finding[]
}

/** Checks whose failure makes the report fail by default. */
export const DEFAULT_REQUIRED: readonly CheckId[] = ['memlock', 'external-buffers', 'madvise']

/**
 * True when `id` names a check.
 * @throws nothing: any value is answered
 * @example
 * ```js
 * import { isCheckId } from '@tarsjs/doctor'
 * console.log(isCheckId('memlock'), isCheckId('memlok')) // true false
 * ```
 */
export function isCheckId(id: unknown): id is CheckId {
  return typeof id === 'string' && (CHECK_IDS as readonly string[]).includes(id)
}

const CAP_IPC_LOCK = 14n

/** The secret size the capacity figures are given for (a 256-bit key). */
const SECRET_BYTES = 32

/**
 * Bytes of locked memory one `size`-byte secret costs in the slot allocator:
 * the smallest of page-alloc's slot sizes that holds it.
 */
function slotCost(size: number): number {
  const slot = size <= MAX_SLOT ? SLOT_SIZES.find((s) => s >= size) : undefined
  if (slot === undefined) throw new Error(`@tarsjs/page-alloc has no slot size for ${size} bytes (MAX_SLOT ${MAX_SLOT})`)
  return slot
}

/** Bytes of locked memory one 32-byte secret costs in the slot allocator (a 32-byte slot: 128 per 4 KiB page). */
const SLOT_COST = slotCost(SECRET_BYTES)

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

function statusField(status: string | null, name: string): string | null {
  const line = status?.split('\n').find((l) => l.startsWith(`${name}:`))
  return line === undefined ? null : line.slice(name.length + 1).trim()
}

function hasIpcLock(status: string | null): boolean {
  const eff = statusField(status, 'CapEff')
  return eff !== null && ((BigInt(`0x${eff}`) >> CAP_IPC_LOCK) & 1n) === 1n
}

function bytes(n: number): string {
  if (n === Infinity) return 'unlimited'
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(n % (1 << 20) === 0 ? 0 : 1)} MiB`
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`
  return `${n} B`
}

/** Kernel mappings one more default ProtKey adds (its page and the guard after it), and one `sodium_malloc` buffer (guard, data, guard). */
const KEY_MAPPINGS = 2
const SODIUM_MAPPINGS = 3

/**
 * How many more live secrets of each kind fit under the current limits: locked memory (one page per
 * ProtKey and per `sodium_malloc` buffer, 32 bytes per 32-byte ProtBuf) and the map-count budget.
 */
export interface Capacity {
  /** Default `ProtKey(32)`s: one locked page and two kernel mappings each. */
  protKeys: number
  /** `ProtBuf(32)`s in the slot allocator: 128 per locked page, thousands per mapping. */
  protBufs: number
  /** `sodium_malloc(32)` buffers of `@tarsjs/sodium-allocator` (libsodium's layout): one locked page and three mappings each. */
  sodiumMalloc: number
}

function capacity(lockable: number, budget: MapBudgetStats): Capacity {
  const pages = lockable === Infinity ? Infinity : Math.floor(lockable / os.pageSize())
  return {
    protKeys: Math.min(pages, Math.floor(budget.available / KEY_MAPPINGS)),
    protBufs: lockable === Infinity ? Infinity : Math.floor(lockable / SLOT_COST),
    sodiumMalloc: Math.min(pages, Math.floor(budget.available / SODIUM_MAPPINGS))
  }
}

function count(n: number): string {
  return n === Infinity ? 'no limit' : n.toLocaleString('en-US')
}

function memlock(status: string | null, budget: MapBudgetStats): Finding {
  const limit = os.memlockLimit()
  const cap = hasIpcLock(status)
  const lockedKb = Number(statusField(status, 'VmLck')?.split(/\s+/)[0] ?? 0)
  const available = cap ? Infinity : Math.max(0, limit.soft - lockedKb * 1024)
  const secrets = available === Infinity ? Infinity : Math.floor(available / SLOT_COST)
  const canLock = os.capabilities().mlock
  const room = capacity(available, budget)
  const data = { soft: limit.soft, hard: limit.hard, capIpcLock: cap, lockedBytes: lockedKb * 1024, secrets32: secrets, capacity: room }
  const kinds =
    `room for about ${count(room.protKeys)} more ProtKeys, ${count(room.protBufs)} 32-byte ProtBufs ` +
    `and ${count(room.sodiumMalloc)} sodium_malloc buffers (locked memory and kernel mappings)`
  const fix =
    'Raise RLIMIT_MEMLOCK: systemd unit `LimitMEMLOCK=64M` (or infinity); container `--ulimit memlock=67108864:67108864`; ' +
    'shell `ulimit -l 65536`; or grant CAP_IPC_LOCK'
  if (cap) {
    return { id: 'memlock', title: 'Locking memory (mlock)', verdict: 'ok', detail: `CAP_IPC_LOCK: no memlock limit applies; ${kinds}`, fix: '', data }
  }
  if (!canLock || limit.soft < 4096) {
    return {
      id: 'memlock',
      title: 'Locking memory (mlock)',
      verdict: 'fail',
      detail: `RLIMIT_MEMLOCK is ${bytes(limit.soft)} and CAP_IPC_LOCK is absent: no secret can be locked, so secrets may be swapped`,
      fix,
      data
    }
  }
  const verdict: Verdict = secrets < 100000 ? 'warn' : 'ok'
  return {
    id: 'memlock',
    title: 'Locking memory (mlock)',
    verdict,
    detail: `RLIMIT_MEMLOCK ${bytes(limit.soft)} (hard ${bytes(limit.hard)}), ${bytes(lockedKb * 1024)} locked now: ${kinds}`,
    fix: verdict === 'ok' ? '' : fix,
    data
  }
}

function secretmem(): Finding {
  const available = os.capabilities().memfdSecret
  return {
    id: 'secretmem',
    title: 'memfd_secret(2)',
    verdict: available ? 'ok' : 'warn',
    detail: available
      ? 'available: keys can live outside the kernel direct map'
      : 'unavailable: keys use locked anonymous memory instead (still locked, no-dump, guarded)',
    fix: available ? '' : 'Linux 5.14+; on kernels before 6.5 boot with `secretmem.enable=1`',
    data: { available }
  }
}

function madvise(): Finding {
  const caps = os.capabilities()
  const ok = caps.madviseDontDump && caps.madviseWipeOnFork
  return {
    id: 'madvise',
    title: 'Excluding secrets from core dumps and forks',
    verdict: ok ? 'ok' : 'fail',
    detail: `MADV_DONTDUMP ${caps.madviseDontDump ? 'yes' : 'no'}, MADV_WIPEONFORK ${caps.madviseWipeOnFork ? 'yes' : 'no'}, MADV_DONTFORK ${caps.madviseDontFork ? 'yes' : 'no'}`,
    fix: ok ? '' : 'Linux 4.14+ is needed for MADV_WIPEONFORK',
    data: { ...caps }
  }
}

function mapCount(budget: MapBudgetStats): Finding {
  const max = Number(read('/proc/sys/vm/max_map_count') ?? NaN)
  const { used, limit, reserve, available } = budget
  const verdict: Verdict = Number.isFinite(max) && used > max * 0.8 ? 'warn' : 'ok'
  return {
    id: 'map-count',
    title: 'Kernel mappings (vm.max_map_count)',
    verdict: Number.isFinite(max) ? verdict : 'info',
    detail:
      `${used} of ${Number.isFinite(max) ? max : 'unknown'} mappings in use by this process; new secrets stop ${reserve} short of ` +
      `${limit} (ERR_MAP_LIMIT), leaving that reserve to the runtime: ${available} left for secrets ` +
      '(a ProtKey adds two, the slot allocator packs thousands of ProtBufs per mapping)',
    fix: verdict === 'warn' ? 'sysctl -w vm.max_map_count=262144' : '',
    data: { max, used, limit, reserve, available }
  }
}

/**
 * Live allocations of this thread's default allocators that are not locked (mlock refused under `best-effort`):
 * those `@tarsjs/prot-containers` registered with page-alloc once it created them (none before).
 */
function unprotected(): Finding {
  const { key, buf } = registeredDefaultAllocators()
  const keys = key?.stats().unlockedAllocations ?? 0
  const bufs = buf?.stats().unlockedAllocations ?? 0
  return {
    id: 'unprotected',
    title: 'Unlocked live secrets in this process',
    verdict: keys + bufs > 0 ? 'warn' : 'ok',
    detail:
      keys + bufs > 0
        ? `${keys} ProtKeys and ${bufs} ProtBufs of the default allocators are live without mlock: they may be swapped`
        : 'every live secret of the default allocators is locked',
    fix: keys + bufs > 0 ? 'Raise RLIMIT_MEMLOCK (see memlock), or use mlock: \'required\' to refuse instead' : '',
    data: { protKeys: keys, protBufs: bufs }
  }
}

function coreDumps(): Finding {
  const limits = read('/proc/self/limits') ?? ''
  const line = limits.split('\n').find((l) => l.startsWith('Max core file size'))
  const soft = line?.slice('Max core file size'.length).trim().split(/\s+/)[0] ?? 'unknown'
  const pattern = (read('/proc/sys/kernel/core_pattern') ?? 'unknown').trim()
  const enabled = soft !== '0'
  return {
    id: 'core-dumps',
    title: 'Core dumps',
    verdict: enabled ? 'warn' : 'ok',
    detail: `RLIMIT_CORE ${soft}, core_pattern ${JSON.stringify(pattern)}. Protected memory is excluded from cores either way; copies on the V8 heap are not`,
    fix: enabled ? 'Disable cores where secrets are handled: `ulimit -c 0`, systemd `LimitCORE=0`, container `--ulimit core=0`' : '',
    data: { rlimitCore: soft, corePattern: pattern }
  }
}

function swap(status: string | null): Finding {
  const lines = (read('/proc/swaps') ?? '').split('\n').slice(1).filter((l) => l.trim().length > 0)
  const canLock = hasIpcLock(status) || os.capabilities().mlock
  const verdict: Verdict = lines.length === 0 ? 'ok' : canLock ? 'info' : 'warn'
  return {
    id: 'swap',
    title: 'Swap',
    verdict,
    detail: lines.length === 0 ? 'no swap devices' : `${lines.length} swap device(s); locked secrets are never written there, heap copies may be`,
    fix: verdict === 'warn' ? 'Allow mlock (see memlock) or use encrypted swap' : '',
    data: { devices: lines.length }
  }
}

function ptrace(): Finding {
  const scope = read('/proc/sys/kernel/yama/ptrace_scope')?.trim() ?? null
  // Without Yama the exposure is that of ptrace_scope 0, so the verdict is the same.
  const verdict: Verdict = scope === null || scope === '0' ? 'warn' : 'ok'
  const detail =
    scope === null
      ? 'Yama is not enabled: any process of the same user may attach with ptrace and read memory'
      : scope === '0'
        ? 'ptrace_scope 0: any process of the same user may read this process memory'
        : `ptrace_scope ${scope}: only ancestors or privileged processes may attach`
  return {
    id: 'ptrace',
    title: 'Other processes reading memory (ptrace)',
    verdict,
    detail,
    fix: verdict === 'ok' ? '' : 'sysctl -w kernel.yama.ptrace_scope=1 (or 2), where the kernel has Yama',
    data: { ptraceScope: scope }
  }
}

/**
 * OpenSSL's secure heap (`node --secure-heap=N`): where OpenSSL keeps the
 * secret parts of private keys it parses (a KeyObject, a CryptoKey), in a
 * locked, guarded arena of its own. Without it they live in its ordinary heap.
 */
function secureHeap(): Finding {
  const heap = secureHeapUsed()
  const enabled = heap.total > 0
  const data = { enabled, total: heap.total, used: heap.used, min: heap.min, utilization: heap.utilization }
  return {
    id: 'secure-heap',
    title: "OpenSSL's secure heap (--secure-heap)",
    verdict: enabled ? 'ok' : 'info',
    detail: enabled
      ? `on: ${heap.total} bytes, ${heap.used} in use (secureHeapUsed()); private keys parsed by OpenSSL (KeyObject, CryptoKey) keep their secret parts there`
      : "off: private keys parsed by OpenSSL (KeyObject, CryptoKey) keep their secret parts in OpenSSL's ordinary heap (not locked, dumpable)",
    fix: enabled ? '' : 'If you use KeyObject or CryptoKey private keys, run node --secure-heap=65536 (or NODE_OPTIONS=--secure-heap=65536)',
    data
  }
}

function externalBuffers(): Finding {
  let allowed = true
  let reason = ''
  const region = os.map(os.pageSize())
  try {
    os.detach(os.view(region, 0, 1))
  } catch (err) {
    allowed = false
    reason = (err as { code?: string }).code ?? String(err)
  } finally {
    os.unmap(region)
  }
  return {
    id: 'external-buffers',
    title: 'External ArrayBuffers',
    verdict: allowed ? 'ok' : 'fail',
    detail: allowed ? 'allowed: views of protected memory can be handed to JavaScript' : `refused (${reason}), e.g. by Electron's V8 sandbox`,
    fix: allowed ? '' : 'Run tarsjs in a Node.js process (not a sandboxed Electron renderer)',
    data: { allowed }
  }
}

/** A required finding that fails the report. */
function notMet(f: Finding, required: readonly CheckId[], strict: boolean): boolean {
  return (required as readonly string[]).includes(f.id) && (f.verdict === 'fail' || (strict && f.verdict === 'warn'))
}

function checkRequired(required: unknown): CheckId[] {
  if (!Array.isArray(required)) {
    throw new DoctorError('ERR_INVALID_ARG_TYPE', 'The "required" argument must be an array of check ids')
  }
  const ids: CheckId[] = []
  for (const id of required as unknown[]) {
    if (typeof id !== 'string') {
      throw new DoctorError('ERR_INVALID_ARG_TYPE', 'The "required" argument must be an array of check ids (strings)')
    }
    if (!isCheckId(id)) {
      throw new DoctorError(
        'ERR_INVALID_ARG_VALUE',
        `Unknown check id ${JSON.stringify(id) ?? String(id)}; valid ids: ${CHECK_IDS.join(', ')}`
      )
    }
    if (!ids.includes(id)) ids.push(id)
  }
  return ids
}

/**
 * Runs every check. The report fails when a finding listed in `required` is
 * `fail` (or, with `strict`, also `warn`).
 *
 * @param required - ids from {@link CHECK_IDS}; default {@link DEFAULT_REQUIRED}
 * @param strict - a `warn` on a required check fails the report too
 * @throws {DoctorError} `ERR_INVALID_ARG_TYPE` when `required` is not an array or
 *   `strict` not a boolean; `ERR_INVALID_ARG_VALUE` for an id that is not in {@link CHECK_IDS}
 * @example
 * ```js
 * import { diagnose, formatReport } from '@tarsjs/doctor'
 *
 * const report = diagnose(['memlock', 'madvise', 'ptrace'], true)
 * console.log(formatReport(report))
 * if (!report.ok) console.error('not every required protection is available')
 * ```
 */
export function diagnose(required: readonly CheckId[] = DEFAULT_REQUIRED, strict = false): Report {
  const ids = checkRequired(required)
  if (typeof strict !== 'boolean') {
    throw new DoctorError('ERR_INVALID_ARG_TYPE', 'The "strict" argument must be of type boolean')
  }
  // Off Linux, or in the unprotected development mode, the report fails whatever is required.
  const platform = platformFinding()
  if (platform !== null && !os.unprotectedDevelopmentMode()) {
    return { schemaVersion: SCHEMA_VERSION, ok: false, required: ids, strict, findings: [platform] }
  }
  const status = read('/proc/self/status')
  const budget = mapBudget()
  const findings = [memlock(status, budget), secretmem(), madvise(), externalBuffers(), mapCount(budget), coreDumps(), swap(status), ptrace(), unprotected(), secureHeap()]
  if (platform !== null) return { schemaVersion: SCHEMA_VERSION, ok: false, required: ids, strict, findings: [platform, ...findings] }
  const ok = !findings.some((f) => notMet(f, ids, strict))
  return { schemaVersion: SCHEMA_VERSION, ok, required: ids, strict, findings }
}

const MARK: Record<Verdict, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', info: 'info' }

/**
 * The report as plain text, one finding per paragraph, then the result line.
 *
 * @example
 * ```js
 * import { diagnose, formatReport } from '@tarsjs/doctor'
 *
 * console.log(formatReport(diagnose()))
 * ```
 * @throws nothing for a report `diagnose()` returned; a plain `TypeError` (no code) for a value without a `findings` array
 */
export function formatReport(report: Report): string {
  const lines: string[] = []
  for (const f of report.findings) {
    lines.push(`[${MARK[f.verdict]}] ${f.title}: ${f.detail}`)
    if (f.fix !== '') lines.push(`       fix: ${f.fix}`)
  }
  if (report.findings.some((f) => f.id === 'platform')) {
    lines.push('Result: tarsjs does not protect secrets here (exit code 1).')
  } else if (report.ok) {
    lines.push('Result: every required protection is available.')
  } else {
    const unmet = report.findings.filter((f) => notMet(f, report.required, report.strict))
    lines.push(`Result: a required protection is missing (exit code 1). Not met: ${unmet.map((f) => f.id).join(', ')}.`)
  }
  return lines.join('\n')
}
