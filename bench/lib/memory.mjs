// Memory cost of many live secrets, as the kernel reports it:
// bytes locked (VmLck in /proc/self/status) and kernel mappings (lines of
// /proc/self/maps), each as the change from just before the secrets were
// allocated to while they are all alive.
import { readFileSync } from 'node:fs'
import { byteFor, drain, median } from './measure.mjs'
import { containers, pageAlloc, sodium } from './load.mjs'

const SIZE = 32

export function vmLockedBytes () {
  const m = /^VmLck:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

export function mapCount () {
  const text = readFileSync('/proc/self/maps', 'utf8')
  let lines = 0
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lines++
  return lines
}

/** Contender: `{ id, label, role, allocate(count) → handle, write(handle, i, v), read(handle, i), free(handle), stats?(handle) }`. */
function containerContender (id, label, role, Container, makeAllocator, note) {
  return {
    id,
    label,
    role,
    note,
    allocate (count) {
      const allocator = makeAllocator()
      const items = new Array(count)
      for (let i = 0; i < count; i++) items[i] = Container.alloc(SIZE, { allocator })
      return { allocator, items }
    },
    write ({ items }, i, v) {
      const item = items[i]
      if (item instanceof containers.ProtKey) item.write((bytes) => { bytes[0] = v })
      else item.bytes[0] = v
    },
    read ({ items }, i) {
      const item = items[i]
      return item instanceof containers.ProtKey ? item.read((bytes) => bytes[0]) : item.bytes[0]
    },
    stats ({ allocator, items }) {
      const s = allocator.stats()
      return { lockedBytes: s.lockedBytes, mappings: s.mappings, mappedBytes: s.mappedBytes, protections: items[0]?.protections() ?? null }
    },
    free ({ allocator, items }) {
      for (const item of items) item.dispose()
      allocator.trim()
    }
  }
}

/** Live SealedKeys: ciphertexts in unlocked slots, the split sealing key in secretmem (counted once it exists). */
function sealedContender () {
  return {
    id: 'sealedkey',
    label: 'SealedKey (sealed at rest)',
    role: 'other',
    note: 'ciphertext in unlocked slot memory; only the sealing key and open windows are locked',
    allocate (count) {
      const items = new Array(count)
      for (let i = 0; i < count; i++) items[i] = containers.SealedKey.random(SIZE)
      return { items }
    },
    write ({ items }, i, v) {
      items[i].write((bytes) => { bytes[0] = v })
    },
    read ({ items }, i) {
      return items[i].read((bytes) => bytes[0])
    },
    stats ({ items }) {
      const s = items[0].allocator.stats()
      return { lockedBytes: s.lockedBytes, mappings: s.mappings, mappedBytes: s.mappedBytes, protections: items[0].protections() }
    },
    free ({ items }) {
      const allocator = items[0]?.allocator
      for (const item of items) item.dispose()
      allocator?.trim()
    }
  }
}

function sodiumContender (api, id, label, role, note) {
  return {
    id,
    label,
    role,
    note,
    allocate (count) {
      const items = new Array(count)
      for (let i = 0; i < count; i++) items[i] = api.sodium_malloc(SIZE)
      return { items }
    },
    write ({ items }, i, v) {
      items[i][0] = v
    },
    read ({ items }, i) {
      return items[i][0]
    },
    free ({ items }) {
      for (const item of items) api.sodium_free(item)
    }
  }
}

export function memoryContenders (sodiumAllocator) {
  const { SlotAllocator, PageAllocator } = pageAlloc
  const list = [
    containerContender('protbuf', 'ProtBuf (slot allocator)', 'ours', containers.ProtBuf, () => new SlotAllocator(), 'secrets packed into locked slot pages'),
    sodiumContender(sodium, 'sodium-native', 'sodium-native sodium_malloc', 'baseline', 'one guarded mapping per secret'),
    containerContender('protkey', 'ProtKey (page allocator)', 'other', containers.ProtKey, () => new PageAllocator(), 'own pages per key, by design (for windows); only the data page is locked, guard pages are shared'),
    sealedContender()
  ]
  if (sodiumAllocator.available) {
    list.push(sodiumContender(sodiumAllocator.api, 'sodium-allocator', '@tarsjs/sodium-allocator sodium_malloc', 'other', "libsodium's layout: one guarded mapping per secret"))
  }
  return list
}

/**
 * Allocates `count` live secrets per contender, `reps` times (contenders
 * rotated each repetition), and reports the medians of the deltas.
 */
export async function measureMemory (contenders, { count, reps, onStep }) {
  const runs = contenders.map(() => ({ locked: [], maps: [], stats: null, actual: 0, expected: 0, ok: true }))
  for (let rep = 0; rep < reps; rep++) {
    for (let k = 0; k < contenders.length; k++) {
      const index = (rep + k) % contenders.length
      const c = contenders[index]
      const run = runs[index]
      await drain()
      const lockedBefore = vmLockedBytes()
      const mapsBefore = mapCount()
      const handle = c.allocate(count)
      let want = 0
      for (let i = 0; i < count; i++) {
        const v = byteFor(i)
        c.write(handle, i, v)
        want += v
      }
      const lockedAfter = vmLockedBytes()
      const mapsAfter = mapCount()
      if (c.stats) run.stats = c.stats(handle)
      let got = 0
      for (let i = 0; i < count; i++) got += c.read(handle, i)
      c.free(handle)
      run.locked.push(lockedAfter - lockedBefore)
      run.maps.push(mapsAfter - mapsBefore)
      run.actual += got
      run.expected += want
      if (got !== want) run.ok = false
      if (onStep) onStep()
    }
  }
  await drain()
  return contenders.map((c, i) => {
    const run = runs[i]
    return {
      id: c.id,
      label: c.label,
      role: c.role,
      note: c.note,
      lockedBytes: median(run.locked),
      mappings: median(run.maps),
      lockedSamples: run.locked,
      mappingSamples: run.maps,
      allocatorStats: run.stats,
      checksum: { expected: run.expected, actual: run.actual, ok: run.ok && run.actual === run.expected }
    }
  })
}

/** sodium-native's cost divided by ours, for bytes locked and mappings (null when ours is 0). */
export function memoryRatios (results) {
  const ours = results.find((r) => r.role === 'ours')
  const base = results.find((r) => r.role === 'baseline')
  if (!ours || !base) return { locked: null, mappings: null }
  return {
    locked: ours.lockedBytes > 0 ? base.lockedBytes / ours.lockedBytes : null,
    mappings: ours.mappings > 0 ? base.mappings / ours.mappings : null
  }
}
