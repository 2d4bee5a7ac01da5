/**
 * A guarded mapping: `[guard page][data pages][guard page]`, the guards
 * PROT_NONE, the data excluded from core dumps and from forked children.
 * Both allocators build on it. Either every step succeeds or the mapping is
 * released and the error thrown: memory without guard pages is never returned.
 */
import { constants } from 'node:os'
import os = require('@tarsjs/os-memlock')
import type { Region } from '@tarsjs/os-memlock'
import { unprotectedMode } from './development-mode.js'
import { AllocError } from './errors.js'
import { isChargeRefusal, relieveCharge } from './charge-pressure.js'
import { theMapBudget } from './map-budget.js'
import { WARN_MLOCK, WARN_SECRETMEM } from './policy.js'
import type { MlockPolicy, SecretmemPolicy, Warner } from './policy.js'

const ON_FAULT = Object.freeze({ onFault: true })
const { errno } = constants

export interface GuardedMapping {
  readonly region: Region
  /** Byte offset of the first data page in `region`. */
  readonly offset: number
  /** Number of data pages between the guards. */
  readonly dataPages: number
  /** Backed by memfd_secret(2) (the data pages only: guard pages are plain PROT_NONE memory, never charged). */
  readonly secretmem: boolean
  /** MADV_DONTDUMP applied (secretmem is never dumped either way). */
  readonly noDump: boolean
  /** MADV_WIPEONFORK applied (anonymous memory). */
  readonly wipeOnFork: boolean
  /** MADV_DONTFORK applied (secretmem is shared memory: a child must not inherit it). */
  readonly dontFork: boolean
  /** The slot of a shared reservation holding this page (see `page-slab.ts`), or -1 when the region is its own. */
  readonly slot: number
}

export const PAGE_SIZE: number = os.pageSize()

/** Byte offset of the first data page of a mapping made by `mapGuarded`. */
export const DATA_OFFSET: number = PAGE_SIZE

/** Kernel mappings a `mapGuarded` mapping is counted as: guard, data, guard. */
export const GUARDED_VMAS = 3

/** `os.remap(..., 'secret')`, tried once more after every holder of charged pages gave them back (RLIMIT_MEMLOCK). */
function remapCharged(region: Region, offset: number, length: number): void {
  try {
    os.remap(region, offset, length, 'secret')
  } catch (err) {
    if (!isChargeRefusal(err) || relieveCharge() === 0) throw err
    os.remap(region, offset, length, 'secret')
  }
}

/**
 * Puts memfd_secret(2) memory over `[offset, offset + length)` of a region
 * whose pages are PROT_NONE, under a policy. Returns whether it did; when it
 * did not, the range is still PROT_NONE (plain anonymous memory).
 */
export function backSecret(region: Region, offset: number, length: number, secretmem: SecretmemPolicy, warner: Warner): boolean {
  if (secretmem === 'off') return false
  if (!os.capabilities().memfdSecret) {
    if (secretmem === 'required') {
      throw new AllocError('ERR_SECRETMEM_UNAVAILABLE', 'memfd_secret(2) is not available on this kernel')
    }
    return false
  }
  try {
    remapCharged(region, offset, length)
    return true
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? 'unknown'
    if (secretmem === 'required') {
      throw new AllocError('ERR_SECRETMEM_UNAVAILABLE', `memfd_secret mapping failed: ${code}`, { cause })
    }
    warner.warn(WARN_SECRETMEM, `tarsjs: memfd_secret mapping failed (${code}); falling back to anonymous memory`)
    return false
  }
}

/**
 * Protective advice for data pages just made (read-write or secret); returns
 * the mapping's description. Throws the OS error of a refused advice.
 */
export function adviseData(region: Region, offset: number, dataPages: number, secret: boolean, slot: number): GuardedMapping {
  if (unprotectedMode()) {
    return { region, offset, dataPages, secretmem: false, noDump: false, wipeOnFork: false, dontFork: false, slot }
  }
  const data = dataPages * PAGE_SIZE
  os.advise(region, offset, data, 'dontdump')
  os.advise(region, offset, data, secret ? 'dontfork' : 'wipeonfork')
  return { region, offset, dataPages, secretmem: secret, noDump: true, wipeOnFork: !secret, dontFork: secret, slot }
}

/**
 * Maps `dataPages` data pages between two guard pages. All data pages start PROT_NONE when `startNone`.
 * The guards are plain PROT_NONE anonymous memory; secretmem backs the data pages only, so only they are
 * charged to RLIMIT_MEMLOCK. Counted in the map-count budget: `ERR_MAP_LIMIT` before any system call.
 */
export function mapGuarded(dataPages: number, secretmem: SecretmemPolicy, warner: Warner, startNone: boolean): GuardedMapping {
  const total = (dataPages + 2) * PAGE_SIZE
  const data = dataPages * PAGE_SIZE
  const budget = theMapBudget()
  budget.take(GUARDED_VMAS)
  let region: Region
  try {
    region = os.map(total)
  } catch (err) {
    budget.give(GUARDED_VMAS)
    throw err
  }
  try {
    os.remap(region, 0, total, 'none')
    const secret = backSecret(region, DATA_OFFSET, data, secretmem, warner)
    if (secret === startNone) os.protect(region, DATA_OFFSET, data, startNone ? 'none' : 'readwrite')
    return adviseData(region, DATA_OFFSET, dataPages, secret, -1)
  } catch (err) {
    os.unmap(region)
    budget.give(GUARDED_VMAS)
    throw err
  }
}

/** How a refused mlock2 answers: EINVAL (glibc, when the kernel said ENOSYS), ENOSYS or EPERM (a seccomp filter). */
const REFUSED: ReadonlySet<number> = new Set([errno.EINVAL, errno.ENOSYS, errno.EPERM])

/** False once mlock2(MLOCK_ONFAULT) was refused as such (not for a limit): plain mlock from then on. */
let onFaultUsable = true

/** mlock2(MLOCK_ONFAULT); false when the call itself is unavailable. Other failures throw. */
function lockOnFault(mapping: GuardedMapping, offset: number, length: number): boolean {
  if (!onFaultUsable) return false
  try {
    os.lock(mapping.region, offset, length, ON_FAULT)
    return true
  } catch (err) {
    // ENOMEM is RLIMIT_MEMLOCK (plain mlock would fail alike); these mean mlock2 is not allowed here.
    if (!REFUSED.has((err as { errno?: number }).errno ?? 0)) throw err
    onFaultUsable = false
    return false
  }
}

function lockOnce(mapping: GuardedMapping, offset: number, length: number, residentOnFault: boolean): void {
  if (residentOnFault && lockOnFault(mapping, offset, length)) {
    os.wipe(mapping.region, offset, length)
  } else {
    os.lock(mapping.region, offset, length)
  }
}

/**
 * Locks `[offset, offset + length)` under a policy. Returns whether the range
 * is locked. secretmem is locked by the kernel already (and refuses mlock).
 *
 * `residentOnFault`: lock with MLOCK_ONFAULT, then write every page of the
 * range (it must hold nothing yet), so that all of it is resident and locked
 * as with a plain mlock. The difference shows later: each time `protect` makes
 * the range writable again, a plain-locked range costs the kernel a populate
 * pass over pages that never left memory; an on-fault-locked one does not.
 * Where mlock2(2) itself is refused (a seccomp filter that allows only mlock:
 * glibc then reports EINVAL, the filter ENOSYS or EPERM), a plain mlock does
 * the job, and is used from then on in this thread.
 * A lock refused for RLIMIT_MEMLOCK is tried once more after every holder of
 * cached or quarantined charged pages gave them back (`charge-pressure.ts`).
 */
export function lockRange(
  mapping: GuardedMapping,
  offset: number,
  length: number,
  policy: MlockPolicy,
  warner: Warner,
  residentOnFault = false
): boolean {
  if (mapping.secretmem) return true
  if (policy === 'off') return false
  try {
    try {
      lockOnce(mapping, offset, length, residentOnFault)
    } catch (err) {
      // Pages held for reuse (here or in another allocator) give their charge back first.
      if (!isChargeRefusal(err) || relieveCharge() === 0) throw err
      lockOnce(mapping, offset, length, residentOnFault)
    }
    return true
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? 'unknown'
    if (policy === 'required') {
      throw new AllocError('ERR_MLOCK_FAILED', `mlock failed (${code}): raise RLIMIT_MEMLOCK or use mlock: 'best-effort'`, { cause })
    }
    warner.warn(WARN_MLOCK, `tarsjs: mlock failed (${code}); secrets may be swapped. See stats().unlockedAllocations`)
    return false
  }
}

/** Unlocks a range locked by `lockRange`. */
export function unlockRange(mapping: GuardedMapping, offset: number, length: number): void {
  if (!mapping.secretmem) os.unlock(mapping.region, offset, length)
}
