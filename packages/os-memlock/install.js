'use strict'
// The package's install step. On Linux: node-gyp-build, which loads a bundled
// prebuild or else builds the addon from source. Elsewhere there is nothing to
// build and nothing needs a compiler: the package installs, and using it throws
// ERR_UNSUPPORTED_PLATFORM unless the unprotected development mode is on.

const { spawnSync } = require('node:child_process')
const { SUPPORTED, currentPlatform } = require('./platform.js')

const where = currentPlatform()
if (where !== SUPPORTED) {
  process.stdout.write(
    `@tarsjs/os-memlock: no native support on ${where}-${process.arch}, nothing to build. tarsjs protects memory ` +
    'on Linux only; here its functions throw ERR_UNSUPPORTED_PLATFORM, unless TARSJS_UNPROTECTED_DEV=1 runs them ' +
    'on ordinary, unprotected memory for development (see docs/platform-support.md).\n'
  )
} else {
  const res = spawnSync(process.execPath, [require.resolve('node-gyp-build/bin.js')], { stdio: 'inherit' })
  if (res.error) throw res.error
  process.exitCode = res.status === null ? 1 : res.status
}
