/**
 * Charged memory held for reuse (cached and quarantined pages) must never be
 * the reason a new secret goes unlocked or is refused. Allocators that hold
 * such memory register here; when a lock or a secretmem mapping is refused
 * for RLIMIT_MEMLOCK, every registered holder of this thread gives its charge
 * back first (unmapping cached pages, unlocking quarantined ones), and the
 * request is tried once more.
 */
import { constants } from 'node:os'

/** Something that can give back charged pages it holds for reuse. */
export interface ChargeHolder {
  /** Gives back every charged page held for reuse; never throws. Returns the pages given back. */
  releaseCharge(): number
}

const holders = new Set<WeakRef<ChargeHolder>>()

/** Registers a holder for as long as it lives. */
export function holdsCharge(holder: ChargeHolder): void {
  holders.add(new WeakRef(holder))
}

/** Asks every holder to give back its charge; returns the pages given back. */
export function relieveCharge(): number {
  let pages = 0
  for (const ref of holders) {
    const holder = ref.deref()
    if (holder === undefined) holders.delete(ref)
    else pages += holder.releaseCharge()
  }
  return pages
}

const { errno } = constants

/** Whether an OS error is RLIMIT_MEMLOCK refusing memory (mlock: ENOMEM / EAGAIN; a secretmem mmap: EAGAIN). */
export function isChargeRefusal(err: unknown): boolean {
  const n = (err as { errno?: number } | null)?.errno
  return n === errno.ENOMEM || n === errno.EAGAIN
}
