/**
 * The `platform` finding of `tarsjs doctor`. It appears only where tarsjs
 * cannot protect memory: on an OS without native support (first use throws
 * there), or in os-memlock's unprotected development mode. It always fails,
 * whatever `--require` says: nothing else in the report can make up for it.
 */
import os = require('@tarsjs/os-memlock')
import type { Finding } from './doctor.js'

/** Codes with which os-memlock refuses to serve at all on this host. */
const REFUSALS: ReadonlySet<string> = new Set(['ERR_UNSUPPORTED_PLATFORM', 'ERR_UNPROTECTED_DEV_IN_PRODUCTION', 'ERR_INVALID_ARG_VALUE'])

const TITLE = 'Platform'

/** The finding, or null when os-memlock runs natively (Linux). */
export function platformFinding(): Finding | null {
  const data = { platform: process.platform, arch: process.arch, unprotectedDevelopmentMode: false }
  try {
    os.capabilities() // the first use: chooses the native addon or the development mode, or refuses
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code !== 'string' || !REFUSALS.has(code)) throw err
    return {
      id: 'platform',
      title: TITLE,
      verdict: 'fail',
      detail: `tarsjs cannot run here (${code}): ${(err as Error).message}`,
      fix: 'Deploy on Linux. To develop on this machine, TARSJS_UNPROTECTED_DEV=1 runs tarsjs on ordinary, unprotected memory (never in production)',
      data: { ...data, code }
    }
  }
  if (!os.unprotectedDevelopmentMode()) return null
  return {
    id: 'platform',
    title: TITLE,
    verdict: 'fail',
    detail:
      `UNPROTECTED DEVELOPMENT MODE on ${process.platform} (${process.arch}): secrets live in ordinary memory; nothing is locked, ` +
      'excluded from core dumps or forks, or guarded, and every protections() field is false',
    fix: 'For development and tests only: unset TARSJS_UNPROTECTED_DEV (and do not call enableUnprotectedDevelopmentMode) on a Linux host to protect secrets',
    data: { ...data, unprotectedDevelopmentMode: true }
  }
}
