/**
 * Policies: what a failure to get a protection means. Every policy has a safe
 * default, and every outcome is visible (thrown, or reported by
 * `protections()`/`stats()` plus one warning per allocator).
 */
import { AllocError } from './errors.js'

/** mlock: `required` throws the OS error; `best-effort` proceeds, reports and warns once; `off` never locks. */
export type MlockPolicy = 'required' | 'best-effort' | 'off'
/** memfd_secret backing: `auto` uses it where the kernel offers it (falls back, reported); `required` throws without it. */
export type SecretmemPolicy = 'auto' | 'required' | 'off'
/**
 * How `protect(a, 'none')` denies access: `auto` with a memory protection key where the CPU and kernel have one
 * (x86-64 PKU; else mprotect, reported by `protections().protectionKey`), `required` throws without one, `off`
 * always mprotect(PROT_NONE).
 */
export type ProtectionKeyPolicy = 'auto' | 'required' | 'off'
/** Integrity failure (corrupted canary or metadata): `abort` the process (default) or `throw` (tests). */
export type IntegrityPolicy = 'abort' | 'throw'

/** Stable warning codes emitted through `process.emitWarning`. */
export const WARN_MLOCK = 'TARSJS_MLOCK_FAILED'
export const WARN_SECRETMEM = 'TARSJS_SECRETMEM_FALLBACK'
export const WARN_ESCAPED_VIEW = 'TARSJS_ESCAPED_VIEW'

const MLOCK: readonly MlockPolicy[] = ['required', 'best-effort', 'off']
const SECRETMEM: readonly SecretmemPolicy[] = ['auto', 'required', 'off']
const INTEGRITY: readonly IntegrityPolicy[] = ['abort', 'throw']
const PROTECTION_KEY: readonly ProtectionKeyPolicy[] = ['auto', 'required', 'off']

/** Validates an option against its allowed values; `undefined` gives the default. */
export function pickPolicy<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new AllocError('ERR_INVALID_ARG_VALUE', `The "${name}" option must be one of ${allowed.map((v) => `'${v}'`).join(', ')}`)
  }
  return value as T
}

export function mlockPolicy(value: unknown, fallback: MlockPolicy = 'best-effort'): MlockPolicy {
  return pickPolicy('mlock', value, MLOCK, fallback)
}
export function secretmemPolicy(value: unknown, fallback: SecretmemPolicy): SecretmemPolicy {
  return pickPolicy('secretmem', value, SECRETMEM, fallback)
}
export function protectionKeyPolicy(value: unknown): ProtectionKeyPolicy {
  return pickPolicy('protectionKey', value, PROTECTION_KEY, 'off')
}
export function integrityPolicy(value: unknown): IntegrityPolicy {
  return pickPolicy('integrity', value, INTEGRITY, 'abort')
}

/** Validates an optional integer option in [min, max]. */
export function intOption(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new AllocError('ERR_OUT_OF_RANGE', `The "${name}" option must be an integer >= ${min} and <= ${max}`)
  }
  return value
}

/** Warnings: `once` per code and allocator (default), or `always`: one for every allocation that lacks a protection. */
export type WarningPolicy = 'once' | 'always'
const WARNINGS: readonly WarningPolicy[] = ['once', 'always']

export function warningPolicy(value: unknown): WarningPolicy {
  return pickPolicy('warnings', value, WARNINGS, 'once')
}

/** Emits each warning code once per `Warner` (one per allocator), or every time under `'always'`. */
export class Warner {
  private readonly emitted = new Set<string>()
  constructor(private readonly policy: WarningPolicy = 'once') {}
  warn(code: string, message: string): void {
    if (this.policy === 'once') {
      if (this.emitted.has(code)) return
      this.emitted.add(code)
    }
    process.emitWarning(message, { type: 'TarsjsWarning', code })
  }
}
