'use strict'
// Quick side-by-side: sodium_malloc(32) + one write + sodium_free, tarsjs vs
// sodium-native 4.3.x, in alternating batches so that load on the machine hits
// both alike. Prints the median time per operation of each and the ratio.
// Usage: node scripts/compare-malloc.cjs [rounds] [batch]   (after `npx tsc -b`)
const native = require('sodium-native')
const tarsjs = require('..')

const rounds = Number(process.argv[2] ?? 15)
const batch = Number(process.argv[3] ?? 4000)

function cycle (api) {
  const buf = api.sodium_malloc(32)
  buf[0] = 1
  api.sodium_free(buf)
}

function perOp (api) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < batch; i++) cycle(api)
  return Number(process.hrtime.bigint() - start) / batch
}

function median (values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[sorted.length >> 1]
}

for (let i = 0; i < 2000; i++) {
  cycle(native)
  cycle(tarsjs)
}
const times = { native: [], tarsjs: [] }
for (let r = 0; r < rounds; r++) {
  times.native.push(perOp(native))
  times.tarsjs.push(perOp(tarsjs))
}
const n = median(times.native)
const t = median(times.tarsjs)
console.log(`sodium-native ${require('sodium-native/package.json').version}: ${(n / 1000).toFixed(2)} µs/op`)
console.log(`@tarsjs/sodium-allocator: ${(t / 1000).toFixed(2)} µs/op`)
console.log(`ratio: ${(n / t).toFixed(1)}x (median of ${rounds} alternating batches of ${batch})`)
