'use strict'
// What the kernel reports about this process's secure memory, for the tests
// and the child-process fixtures: @tarsjs/test-kit's reader of /proc/<pid>/smaps,
// maps, status and /proc/self/mem, with what counts as secure data here.
const kit = require('@tarsjs/test-kit/smaps')

/**
 * Secure data: anonymous, readable, excluded from core dumps.
 * @param {import('@tarsjs/test-kit/smaps').Vma} v
 * @returns {boolean}
 */
function isSecureData (v) {
  return v.perms.startsWith('r') && v.flags.has('dd') && v.path === ''
}

/**
 * The address where `marker` starts in this process's readable no-dump memory, or undefined.
 * @param {Uint8Array} marker
 * @param {import('@tarsjs/test-kit/smaps').Vma[]} [vmas]
 * @returns {bigint | undefined}
 */
function findBytes (marker, vmas = kit.smaps()) {
  return kit.findBytes(marker, isSecureData, vmas)
}

module.exports = {
  PAGE: kit.PAGE,
  smaps: kit.smaps,
  mapCount: kit.mapCount,
  status: kit.status,
  isSecureData,
  findBytes,
  peek: kit.peek,
  poke: kit.poke,
  around: kit.around
}
