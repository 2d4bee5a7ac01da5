'use strict'
// Loads the native binding: a bundled prebuild when one matches this platform,
// otherwise the local build (build/Release). Linux only; elsewhere every entry
// point is replaced by a function that throws ERR_UNSUPPORTED.

const NAMES = [
  'pageSize', 'capabilities', 'memlockLimit', 'map', 'unmap', 'isMapped', 'protect',
  'lock', 'unlock', 'advise', 'wipe', 'fill', 'copy', 'equals', 'view', 'detach'
]

function unsupported (name) {
  return function () {
    const err = new Error(`@tarsjs/os-memlock: ${name}() is not supported on ${process.platform}; Linux is required`)
    err.code = 'ERR_UNSUPPORTED'
    throw err
  }
}

let binding
if (process.platform === 'linux') {
  binding = require('node-gyp-build')(__dirname)
} else {
  binding = {}
  for (const name of NAMES) binding[name] = unsupported(name)
}

// Named one by one so that ESM `import { map } from '@tarsjs/os-memlock'` sees them.
exports.pageSize = binding.pageSize
exports.capabilities = binding.capabilities
exports.memlockLimit = binding.memlockLimit
exports.map = binding.map
exports.unmap = binding.unmap
exports.isMapped = binding.isMapped
exports.protect = binding.protect
exports.lock = binding.lock
exports.unlock = binding.unlock
exports.advise = binding.advise
exports.wipe = binding.wipe
exports.fill = binding.fill
exports.copy = binding.copy
exports.equals = binding.equals
exports.view = binding.view
exports.detach = binding.detach
