#!/usr/bin/env node
'use strict'
// Exit code 3 when the command cannot even load (for example a native addon
// built for another platform): a deployment gate must not read that as a pass.
let main
try {
  main = require('../dist/cli.js').main
} catch (err) {
  process.stderr.write(`tarsjs: could not load: ${err && err.message ? err.message : String(err)}\n`)
  process.exit(3)
}
process.exitCode = main(process.argv.slice(2))
