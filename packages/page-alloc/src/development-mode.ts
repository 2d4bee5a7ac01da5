/**
 * os-memlock's unprotected development mode: the whole API on ordinary memory,
 * where nothing is locked, excluded from dumps or forks, or guarded. Mappings
 * then take no advice (the mode refuses it, as a kernel without it would), and
 * every protection an allocation reports is false, whatever was emulated.
 */
import os = require('@tarsjs/os-memlock')
import type { Protections } from './allocator.js'

/** True when os-memlock runs in its unprotected development mode in this thread. */
export function unprotectedMode(): boolean {
  return os.unprotectedDevelopmentMode()
}

/** `p` as reported: in the unprotected development mode every protection is false. */
export function reported(p: Protections): Protections {
  if (!os.unprotectedDevelopmentMode()) return p
  return {
    locked: false,
    noDump: false,
    wipeOnFork: false,
    dontFork: false,
    guardPages: false,
    canary: false,
    secretmem: false,
    isolated: p.isolated,
    access: p.access
  }
}
