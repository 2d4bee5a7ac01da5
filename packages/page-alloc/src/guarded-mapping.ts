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
import { WARN_MLOCK, WARN_SECRETMEM } from './policy.js'
import type { MlockPolicy, SecretmemPolicy, Warner } from './policy.js'

const ON_FAULT = Object.freeze({ onFault: true })
const { errno } = constants

export interface GuardedMapping {
  readonly region: Region
  /** Number of data pages between the guards. */
  readonly dataPages: number
  /** Backed by memfd_secret(2). */
  readonly secretmem: boolean
  /** MADV_DONTDUMP applied (secretmem is never dumped either way). */
  readonly noDump: boolean
  /** MADV_WIPEONFORK applied (anonymous memory). */
  readonly wipeOnFork: boolean
  /** MADV_DONTFORK applied (secretmem is shared memory: a child must not inherit it). */
  readonly dontFork: boolean
}

export const PAGE_SIZE: number = os.pageSize()

/** Byte offset of the first data page. */
export const DATA_OFFSET: number = PAGE_SIZE

function mapRegion(bytes: number, secretmem: SecretmemPolicy, warner: Warner): Region {
  if (secretmem === 'off') return os.map(bytes)
  if (!os.capabilities().memfdSecret) {
    if (secretmem === 'required') {
      throw new AllocError('ERR_SECRETMEM_UNAVAILABLE', 'memfd_secret(2) is not available on this kernel')
    }
    return os.map(bytes)
  }
  try {
    return os.map(bytes, { secret: true })
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? 'unknown'
    if (secretmem === 'required') {
      throw new AllocError('ERR_SECRETMEM_UNAVAILABLE', `memfd_secret mapping failed: ${code}`, { cause })
    }
    warner.warn(WARN_SECRETMEM, `tarsjs: memfd_secret mapping failed (${code}); falling back to anonymous memory`)
    return os.map(bytes)
  }
}

/** Maps `dataPages` data pages between two guard pages. All data pages start PROT_NONE when `startNone`. */
export function mapGuarded(dataPages: number, secretmem: SecretmemPolicy, warner: Warner, startNone: boolean): GuardedMapping {
  const total = (dataPages + 2) * PAGE_SIZE
  const region = mapRegion(total, secretmem, warner)
  try {
    const data = dataPages * PAGE_SIZE
    if (startNone) {
      os.protect(region, 0, total, 'none')
    } else {
      os.protect(region, 0, PAGE_SIZE, 'none')
      os.protect(region, total - PAGE_SIZE, PAGE_SIZE, 'none')
    }
    if (unprotectedMode()) return { region, dataPages, secretmem: false, noDump: false, wipeOnFork: false, dontFork: false }
    os.advise(region, DATA_OFFSET, data, 'dontdump')
    if (region.secret) {
      os.advise(region, DATA_OFFSET, data, 'dontfork')
    } else {
      os.advise(region, DATA_OFFSET, data, 'wipeonfork')
    }
    return {
      region,
      dataPages,
      secretmem: region.secret,
      noDump: true,
      wipeOnFork: !region.secret,
      dontFork: region.secret
    }
  } catch (err) {
    os.unmap(region)
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
    if (residentOnFault && lockOnFault(mapping, offset, length)) {
      os.wipe(mapping.region, offset, length)
    } else {
      os.lock(mapping.region, offset, length)
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
