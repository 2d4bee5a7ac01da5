#!/usr/bin/env node
// The `prepack` script of the private workspaces (docs, examples, bench):
// `npm pack`, `pnpm pack` and `npm publish` stop here with exit code 1, so a
// workspace that is not a package cannot be packed or published by accident.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const manifest = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8'))
console.error(`${manifest.name} is a private workspace of tarsjs and is never packed or published; the packages are under packages/.`)
process.exit(1)
