// The tarsjs demo: `pnpm demo` at the repository root runs this file.
// For now it is the os-memlock walkthrough; the layers above will add theirs.
// Exit status 1 when any step reports a fact that contradicts its calls.

import { runWalkthrough } from './os-memlock-walkthrough.mjs'

const results = [runWalkthrough()]

process.exitCode = results.every((result) => result.ok) ? 0 : 1
