// The timed cases. Each iteration does the same work on every side:
// allocate 32 bytes, obtain a view, write one byte through it, read it back
// into a checksum, free. Where our view is created lazily, it is created (and
// detached by free) inside the loop, exactly as sodium_malloc hands out a
// Buffer and sodium_free detaches it.
import { createHmac, createPrivateKey, generateKeyPairSync, scrypt, scryptSync, sign } from 'node:crypto'
import { promisify } from 'node:util'
import { byteFor, expectedSum, pairedRatio } from './measure.mjs'
import { containers, os, pageAlloc, sealedAllocators, sealedInternals, sealedWindowBuffers, sodium } from './load.mjs'

const SIZE = 32
const NODE_MAJOR = Number(process.versions.node.split('.')[0])

function bufferAlloc () {
  return {
    id: 'buffer',
    label: 'Buffer.alloc(32) + write',
    short: 'Buffer.alloc',
    role: 'buffer',
    note: 'ordinary heap memory: not locked, not guarded, not wiped',
    run (n) {
      let acc = 0
      for (let i = 0; i < n; i++) {
        const b = Buffer.alloc(SIZE)
        b[0] = byteFor(i)
        acc += b[0]
      }
      return acc
    },
    expect: expectedSum
  }
}

function sodiumMalloc (api = sodium, id = 'sodium-native', label = 'sodium-native sodium_malloc(32) + write + sodium_free', role = 'baseline', short = 'sodium-native') {
  return {
    id,
    label,
    short,
    role,
    run (n) {
      let acc = 0
      for (let i = 0; i < n; i++) {
        const b = api.sodium_malloc(SIZE)
        b[0] = byteFor(i)
        acc += b[0]
        api.sodium_free(b)
      }
      return acc
    },
    expect: expectedSum
  }
}

function allocatorLoop (id, label, short, makeAllocator, note) {
  let allocator = null
  return {
    id,
    label,
    short,
    role: 'ours',
    note,
    setup () {
      allocator = makeAllocator()
    },
    run (n) {
      const a = allocator
      let acc = 0
      for (let i = 0; i < n; i++) {
        const allocation = a.alloc(SIZE)
        const bytes = new Uint8Array(a.view(allocation))
        bytes[0] = byteFor(i)
        acc += bytes[0]
        a.free(allocation)
      }
      return acc
    },
    details () {
      const probe = allocator.alloc(SIZE)
      const protections = allocator.protections(probe)
      allocator.free(probe)
      return { protections, stats: allocator.stats() }
    },
    teardown () {
      allocator.trim?.()
      allocator = null
    },
    expect: expectedSum
  }
}

/** The floor any allocator pays to hand out its own ArrayBuffer: os-memlock view + detach of 32 bytes. */
function viewFloor () {
  let region = null
  return {
    id: 'view-floor',
    label: 'os-memlock view + write + detach (no allocator)',
    short: 'os-memlock view + detach (floor)',
    role: 'reference',
    note: 'the cost of one external ArrayBuffer, which every allocation with its own view pays',
    setup () {
      region = os.map(os.pageSize())
    },
    run (n) {
      const r = region
      let acc = 0
      for (let i = 0; i < n; i++) {
        const ab = os.view(r, 0, SIZE)
        const bytes = new Uint8Array(ab)
        bytes[0] = byteFor(i)
        acc += bytes[0]
        os.detach(ab)
      }
      return acc
    },
    teardown () {
      os.unmap(region)
      region = null
    },
    expect: expectedSum
  }
}

const KEY_BYTE = 0xa7

/**
 * One key page laid out as page-alloc lays out a key: [guard][data][guard] in
 * one mapping, the data page locked and not inherited by children. Its kernel
 * flags then differ from the guards', so protecting it 'none' does not merge it
 * with them into one mapping (and 'read' does not split it again) — merging
 * and splitting would double the cost of every mprotect.
 */
function guardedKeyPage () {
  const page = os.pageSize()
  const region = os.map(3 * page)
  os.protect(region, 0, page, 'none')
  os.protect(region, 2 * page, page, 'none')
  os.fill(region, page, page, KEY_BYTE)
  os.lock(region, page, page)
  os.advise(region, page, page, 'dontdump')
  os.advise(region, page, page, 'dontfork')
  os.protect(region, page, page, 'none')
  return { region, page, offset: page }
}

/** A key container's read window in a loop: `make()` gives a key holding KEY_BYTE, `read(fn)` opens and closes the window. */
function keyWindow ({ id, label, short, note, make, role = 'ours' }) {
  let key = null
  return {
    id,
    label,
    short,
    role,
    note,
    setup () {
      key = make()
    },
    run (n) {
      const k = key
      const read0 = (bytes) => bytes[0]
      let acc = 0
      for (let i = 0; i < n; i++) acc += k.read(read0)
      return acc
    },
    details () {
      return { allocator: key.allocator.name, protections: key.protections() }
    },
    teardown () {
      key.dispose()
      key = null
    },
    expect: (n) => n * KEY_BYTE
  }
}

function protKeyWindow () {
  return keyWindow({
    id: 'protkey',
    label: 'ProtKey.read(fn): open read window, read 1 byte, close',
    short: 'ProtKey.read(fn)',
    note: "default key allocator: the key's pages stay no-access (a memory protection key where the CPU has one), the window is a copy in the key's own locked window memory; a stale view after close has length 0: no crash",
    make: () => containers.ProtKey.from(Buffer.alloc(SIZE, KEY_BYTE))
  })
}

/** The same window over PROT_NONE pages: the copy needs an mprotect pair (machines without protection keys). */
function protKeyWindowMprotect () {
  return keyWindow({
    id: 'protkey-mprotect',
    label: "ProtKey.read(fn) with PROT_NONE pages (protectionKey: 'off')",
    short: 'ProtKey.read(fn), PROT_NONE',
    note: 'what a machine without memory protection keys gets: protect read + copy + protect none, then the same window memory',
    role: 'reference',
    make: () => containers.ProtKey.from(Buffer.alloc(SIZE, KEY_BYTE), { allocator: new pageAlloc.PageAllocator({ protectionKey: 'off' }) })
  })
}

/** The copy out of keyed pages alone: what a protection key costs a window. */
function keyedCopyFloor () {
  let key = null
  return {
    id: 'keyed-copy',
    label: 'os-memlock keyedCopy: 32 bytes out of keyed pages (PKRU opened for the copy)',
    short: 'os-memlock keyedCopy',
    role: 'reference',
    note: 'the protection-key part of the ProtKey window: one native call, two PKRU writes, no system call',
    setup () {
      key = guardedKeyPage()
      if (os.capabilities().protectionKeys) os.protect(key.region, key.offset, key.page, 'keyed')
      else os.protect(key.region, key.offset, key.page, 'read') // no key: a plain copy, reported as such below
      key.out = new Uint8Array(SIZE)
    },
    run (n) {
      const { region: r, offset: o, out } = key
      const copy = os.capabilities().protectionKeys ? os.keyedCopy : os.copy
      let acc = 0
      for (let i = 0; i < n; i++) {
        copy(r, o, out, 0, SIZE)
        acc += out[0]
      }
      return acc
    },
    details () {
      return { protectionKeys: os.capabilities().protectionKeys }
    },
    teardown () {
      os.unmap(key.region)
      key = null
    },
    expect: (n) => n * KEY_BYTE
  }
}

/** The memory part of a ProtKey window: the key's own slot of window memory, viewed, wiped, its view dropped. */
function keyWindowMemory () {
  let slot = null
  return {
    id: 'key-window-memory',
    label: "a key's window memory: view + read + wipe + drop the view (its own slot)",
    short: 'window memory parts',
    role: 'reference',
    note: 'the memory part of the ProtKey window: each key keeps a slot of window memory; at close it is wiped and its view detached (recycled with transfer() on Node.js 22+)',
    setup () {
      slot = sealedAllocators().windowBufferAllocator().alloc(SIZE)
    },
    run (n) {
      const buffers = sealedAllocators().windowBufferAllocator()
      const a = slot
      let acc = 0
      for (let i = 0; i < n; i++) {
        const bytes = new Uint8Array(buffers.view(a))
        bytes[0] = byteFor(i)
        acc += bytes[0]
        os.wipe(bytes)
        buffers.dropView(a)
      }
      return acc
    },
    teardown () {
      sealedAllocators().windowBufferAllocator().free(slot)
      slot = null
    },
    expect: expectedSum
  }
}

/** The two system calls alone: what sodium-native's window is made of, through os-memlock. */
function protectPair () {
  let key = null
  return {
    id: 'protect-pair',
    label: "os-memlock protect('read') + protect('none'), no view",
    short: 'os-memlock mprotect pair, no view',
    role: 'reference',
    note: 'same guarded key page; no byte is read (there is no view): the checksum counts completed iterations',
    setup () {
      key = guardedKeyPage()
    },
    run (n) {
      const { region: r, page: p, offset: o } = key
      let done = 0
      for (let i = 0; i < n; i++) {
        os.protect(r, o, p, 'read')
        os.protect(r, o, p, 'none')
        done++
      }
      return done
    },
    teardown () {
      os.unmap(key.region)
      key = null
    },
    expect: (n) => n
  }
}

function sodiumWindow () {
  let buf = null
  return {
    id: 'sodium-native',
    label: 'sodium-native mprotect_readonly + read 1 byte + mprotect_noaccess',
    short: 'sodium-native mprotect pair',
    role: 'baseline',
    note: 'reading the buffer after noaccess kills the process (SIGSEGV)',
    setup () {
      buf = sodium.sodium_malloc(SIZE)
      buf.fill(KEY_BYTE)
      sodium.sodium_mprotect_noaccess(buf)
    },
    run (n) {
      const b = buf
      let acc = 0
      for (let i = 0; i < n; i++) {
        sodium.sodium_mprotect_readonly(b)
        acc += b[0]
        sodium.sodium_mprotect_noaccess(b)
      }
      return acc
    },
    teardown () {
      sodium.sodium_mprotect_readwrite(buf)
      sodium.sodium_free(buf)
      buf = null
    },
    expect: (n) => n * KEY_BYTE
  }
}

/** SealedKey's window: decrypt into locked window memory, read, wipe and detach. */
function sealedKeyWindow () {
  return keyWindow({
    id: 'sealedkey',
    label: 'SealedKey.read(fn): decrypt into a window, read 1 byte, wipe + detach',
    short: 'SealedKey.read(fn)',
    note: 'at rest only ciphertext; the plaintext exists in locked window memory during fn only',
    make: () => containers.SealedKey.from(Buffer.alloc(SIZE, KEY_BYTE))
  })
}

/** The decrypt part of a SealedKey window: copy the ciphertext out of its at-rest slot, combine the split sealing key, ChaCha20-Poly1305 (IETF) open, wipe the key, into a window view that stays. */
function sealedDecrypt () {
  let parts = null
  return {
    id: 'sealed-decrypt',
    label: 'ciphertext copied out of its slot + sealing key open(): AEAD decrypt of 32 bytes into a kept view (no window memory, no view)',
    short: 'decrypt part',
    role: 'reference',
    note: 'the crypto part of the SealedKey window: the native copy of the ciphertext and the sodium-native call',
    setup () {
      const { currentSealingKey, SEAL_OVERHEAD } = sealedInternals()
      const { windowAllocator, atRestAllocator } = sealedAllocators()
      const plain = windowAllocator().alloc(SIZE)
      const sealed = atRestAllocator().alloc(SIZE + SEAL_OVERHEAD)
      const into = new Uint8Array(windowAllocator().view(plain))
      into.fill(KEY_BYTE)
      const stage = new Uint8Array(SIZE + SEAL_OVERHEAD)
      currentSealingKey().seal(into, stage)
      atRestAllocator().copyIn(sealed, stage)
      parts = { plain, sealed, into, stage, atRest: atRestAllocator(), key: currentSealingKey() }
    },
    run (n) {
      const { key, into, stage, atRest, sealed } = parts
      let acc = 0
      for (let i = 0; i < n; i++) {
        atRest.copyOut(sealed, stage)
        key.open(stage, into)
        acc += into[0]
      }
      return acc
    },
    teardown () {
      const { windowAllocator, atRestAllocator } = sealedAllocators()
      windowAllocator().free(parts.plain)
      atRestAllocator().free(parts.sealed)
      parts = null
    },
    expect: (n) => n * KEY_BYTE
  }
}

/** The view and wipe parts of a SealedKey window: the key's kept window buffer given a fresh view, read, then wiped and its view detached. */
function sealedWindowMemory () {
  let kept = null
  return {
    id: 'sealed-window-memory',
    label: 'window memory: kept buffer + view + read + wipe + detach, no decrypt',
    short: 'view + wipe parts',
    role: 'reference',
    note: 'the memory part of the SealedKey window: the buffer a recently opened key keeps between windows, a fresh view of it (recycled with transfer() on Node.js 22+), wiped and detached at close',
    run (n) {
      const { sealedWindow, openedWindow, closeSealedWindow } = sealedWindowBuffers()
      const { windowBufferAllocator } = sealedAllocators()
      let acc = 0
      for (let i = 0; i < n; i++) {
        kept = sealedWindow(kept, SIZE)
        const bytes = new Uint8Array(windowBufferAllocator().view(kept))
        openedWindow(kept, bytes)
        bytes[0] = byteFor(i)
        acc += bytes[0]
        if (!closeSealedWindow(kept, bytes)) kept = null
      }
      return acc
    },
    teardown () {
      if (kept !== null) sealedWindowBuffers().releaseSealedWindow(kept)
      kept = null
    },
    expect: expectedSum
  }
}

function protBufLoop () {
  return {
    id: 'protbuf',
    label: 'ProtBuf.alloc(32) + write via .bytes + dispose()',
    short: 'ProtBuf alloc + dispose',
    role: 'ours',
    note: 'default per-thread slot allocator; .bytes is created lazily, inside the loop',
    run (n) {
      const { ProtBuf } = containers
      let acc = 0
      for (let i = 0; i < n; i++) {
        const buf = ProtBuf.alloc(SIZE)
        const bytes = buf.bytes
        bytes[0] = byteFor(i)
        acc += bytes[0]
        buf.dispose()
      }
      return acc
    },
    details () {
      const buf = containers.ProtBuf.alloc(SIZE)
      const protections = buf.protections()
      const allocator = buf.allocator.name
      buf.dispose()
      return { allocator, protections }
    },
    expect: expectedSum
  }
}

// ---- Node crypto with keys in protected memory (docs/node-crypto.md)

const MESSAGE_64 = Buffer.alloc(64, 0x6d)
const MESSAGE_1K = Buffer.alloc(1024, 0x6d)
const HMAC_KEY = Buffer.alloc(32, KEY_BYTE)

/** One Ed25519 key pair for the signing case, and its PKCS#8 PEM in a ProtKey. */
function ed25519Material () {
  const { privateKey } = generateKeyPairSync('ed25519')
  const pem = Buffer.from(privateKey.export({ format: 'pem', type: 'pkcs8' }))
  // Ed25519 signatures are deterministic: every iteration's first byte is the same.
  const first = sign(null, MESSAGE_64, privateKey)[0] + 1
  return { pem, first }
}

/** `n` Ed25519 signatures with the KeyObject `signer()` gives; checksum: first byte + 1 of each. */
function signLoop ({ id, label, short, role, note, make }) {
  let material = null
  let signer = null
  return {
    id,
    label,
    short,
    role,
    note,
    setup () {
      material = ed25519Material()
      signer = make(material.pem)
    },
    run (n) {
      const s = signer
      let acc = 0
      for (let i = 0; i < n; i++) acc += s(MESSAGE_64)[0] + 1
      return acc
    },
    teardown () {
      signer.dispose?.()
      signer = null
    },
    expect: (n) => n * material.first
  }
}

function ed25519Bridge () {
  return signLoop({
    id: 'keyobject-bridge',
    label: 'sign() with privateKeyObject(ProtKey holding the PEM), made once',
    short: 'KeyObject bridge',
    role: 'ours',
    note: 'parsed once from protected memory; OpenSSL keeps the key (secure heap under --secure-heap)',
    make (pem) {
      const key = containers.ProtKey.from(Buffer.from(pem))
      const object = containers.privateKeyObject(key)
      key.dispose()
      return (m) => sign(null, m, object)
    }
  })
}

function ed25519Plain () {
  return signLoop({
    id: 'keyobject-plain',
    label: 'sign() with createPrivateKey(PEM in a heap Buffer)',
    short: 'plain KeyObject',
    role: 'baseline',
    note: 'the PEM stays in an ordinary heap Buffer',
    make: (pem) => {
      const object = createPrivateKey(pem)
      return (m) => sign(null, m, object)
    }
  })
}

function ed25519Reparse () {
  return signLoop({
    id: 'reparse',
    label: 'sign() with the PEM read from a ProtKey window every time (re-parse)',
    short: 'PEM re-parsed per signature',
    role: 'reference',
    note: 'what a ProtKey without the bridge costs: the key is parsed on every signature',
    make (pem) {
      const key = containers.ProtKey.from(Buffer.from(pem))
      const signer = (m) => key.read((bytes) => sign(null, m, { key: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), format: 'pem' }))
      signer.dispose = () => key.dispose()
      return signer
    }
  })
}

/** HMAC-SHA256 of 1 KiB, `n` times; checksum: first byte + 1 of each MAC. */
function hmacLoop ({ id, label, short, role, note, make }) {
  let mac = null
  const first = createHmac('sha256', HMAC_KEY).update(MESSAGE_1K).digest()[0] + 1
  return {
    id,
    label,
    short,
    role,
    note,
    setup () {
      mac = make()
    },
    run (n) {
      const f = mac
      let acc = 0
      for (let i = 0; i < n; i++) acc += f() + 1
      return acc
    },
    teardown () {
      mac.dispose?.()
      mac = null
    },
    expect: (n) => n * first
  }
}

function hmacWindow () {
  return hmacLoop({
    id: 'hmac-protkey',
    label: 'ProtKey.read(k => createHmac(sha256, k).update(1 KiB).digest())',
    short: 'ProtKey window',
    role: 'ours',
    note: 'the key is readable only during the HMAC',
    make () {
      const key = containers.ProtKey.from(Buffer.from(HMAC_KEY))
      const hmac = (k) => createHmac('sha256', k).update(MESSAGE_1K).digest()[0]
      const f = () => key.read(hmac)
      f.dispose = () => key.dispose()
      return f
    }
  })
}

function hmacHeap () {
  return hmacLoop({
    id: 'hmac-heap',
    label: 'createHmac(sha256, heap Buffer key).update(1 KiB).digest()',
    short: 'heap Buffer key',
    role: 'baseline',
    note: 'the key in an ordinary heap Buffer',
    make: () => () => createHmac('sha256', HMAC_KEY).update(MESSAGE_1K).digest()[0]
  })
}

function hmacKeyObject () {
  return hmacLoop({
    id: 'hmac-keyobject',
    label: 'createHmac(sha256, secretKeyObject(ProtKey)).update(1 KiB).digest()',
    short: 'secret KeyObject bridge',
    role: 'reference',
    note: "the key copied once into Node's KeyObject (its ordinary heap)",
    make () {
      const key = containers.ProtKey.from(Buffer.from(HMAC_KEY))
      const object = containers.secretKeyObject(key)
      key.dispose()
      return () => createHmac('sha256', object).update(MESSAGE_1K).digest()[0]
    }
  })
}

const scryptAsync = promisify(scrypt)
const SCRYPT = { N: 1024, r: 8, p: 1 }

/** The first byte of the key every scrypt contender derives (same password, salt and cost). */
let scryptFirstByte = null
function scryptFirst () {
  if (scryptFirstByte === null) scryptFirstByte = scryptSync(HMAC_KEY, 'salt', 32, SCRYPT)[0]
  return scryptFirstByte
}

/** `n` sequential async scrypt calls (N=1024); checksum: first byte + 1 of each key. */
function scryptLoop ({ id, label, short, role, note, make }) {
  let derive = null
  return {
    id,
    label,
    short,
    role,
    note,
    setup () {
      derive = make()
    },
    async run (n) {
      const f = derive
      let acc = 0
      for (let i = 0; i < n; i++) acc += (await f()) + 1
      return acc
    },
    teardown () {
      derive.dispose?.()
      derive = null
    },
    expect: (n) => n * (scryptFirst() + 1)
  }
}

function scryptWindow () {
  return scryptLoop({
    id: 'scrypt-window',
    label: 'ProtKey.readAsync(k => scrypt(k, ...)) (async window)',
    short: 'async window',
    role: 'ours',
    note: 'the password readable until the promise settles',
    make () {
      const key = containers.ProtKey.from(Buffer.from(HMAC_KEY))
      const f = () => key.readAsync((k) => scryptAsync(k, 'salt', 32, SCRYPT)).then((d) => d[0])
      f.dispose = () => key.dispose()
      return f
    }
  })
}

function scryptHeap () {
  return scryptLoop({
    id: 'scrypt-heap',
    label: 'scrypt(heap Buffer password, ...)',
    short: 'heap Buffer password',
    role: 'baseline',
    note: 'the password in an ordinary heap Buffer',
    make: () => () => scryptAsync(HMAC_KEY, 'salt', 32, SCRYPT).then((d) => d[0])
  })
}

function scryptHelper () {
  return scryptLoop({
    id: 'scrypt-helper',
    label: 'scryptKey(ProtKey, ...) into a new ProtKey (read back, disposed)',
    short: 'scryptKey helper',
    role: 'reference',
    note: "window open only while the call starts; Node's result wiped; the derived key in its own pages",
    make () {
      const key = containers.ProtKey.from(Buffer.from(HMAC_KEY))
      const f = () => containers.scryptKey(key, 'salt', 32, SCRYPT).then((d) => {
        const b = d.read((bytes) => bytes[0])
        d.dispose()
        return b
      })
      f.dispose = () => key.dispose()
      return f
    }
  })
}

function asyncWindowAlone () {
  return scryptLoop({
    id: 'async-window-alone',
    label: 'ProtKey.readAsync(k => resolved promise): the async window alone, no scrypt',
    short: 'async window alone',
    role: 'reference',
    note: 'what the window adds to any awaited call: open, await one settled promise, close',
    make () {
      const key = containers.ProtKey.from(Buffer.from(HMAC_KEY))
      const first = scryptFirst()
      const f = () => key.readAsync(() => Promise.resolve(first))
      f.dispose = () => key.dispose()
      return f
    }
  })
}

/** The Node-crypto cases: `baseline` names what ours is compared with. */
export function cryptoCases () {
  return [
    {
      id: 'ed25519-sign',
      title: 'Ed25519 sign (64 B): KeyObject bridge vs plain createPrivateKey()',
      baseline: 'a plain KeyObject',
      target: { kind: 'cost', value: 1.2 },
      contenders: [ed25519Bridge(), ed25519Plain(), ed25519Reparse()]
    },
    {
      id: 'hmac-window',
      title: 'HMAC-SHA256 of 1 KiB: key in a ProtKey window vs key in a heap Buffer',
      baseline: 'a heap Buffer key',
      target: { kind: 'cost', value: 1.5 },
      contenders: [hmacWindow(), hmacHeap(), hmacKeyObject()]
    },
    {
      id: 'scrypt-window',
      title: 'scrypt (N=1024, async): async window around the call vs no window',
      baseline: 'scrypt on a heap Buffer',
      target: { kind: 'added', value: 10_000 },
      contenders: [scryptWindow(), scryptHeap(), scryptHelper(), asyncWindowAlone()]
    }
  ]
}

/**
 * The timed cases. `target.kind` is `'speedup'` (baseline ns / ours ns must be at
 * least `value`) or `'cost'` (ours ns / baseline ns must be at most `value`).
 */
export function timedCases (sodiumAllocator) {
  const { SlotAllocator, PageAllocator } = pageAlloc
  const cases = [
    {
      id: 'slot',
      title: 'Slot allocator: alloc 32 B, write 1 byte, free',
      target: { kind: 'speedup', value: 15 },
      contenders: [
        allocatorLoop('slot', 'SlotAllocator alloc(32) + view + write + free', 'SlotAllocator', () => new SlotAllocator(), 'fresh SlotAllocator with default policies'),
        sodiumMalloc(),
        bufferAlloc(),
        viewFloor()
      ]
    },
    {
      id: 'page',
      title: 'Page allocator (warm cache): alloc 32 B, write 1 byte, free',
      target: { kind: 'speedup', value: 5 },
      contenders: [
        allocatorLoop('page', 'PageAllocator alloc(32) + view + write + free', 'PageAllocator (warm cache)', () => new PageAllocator(), 'default policies (secretmem auto); freed mappings come back from the cache'),
        sodiumMalloc(),
        bufferAlloc()
      ]
    },
    {
      id: 'protbuf',
      title: 'ProtBuf(32): alloc, write 1 byte, dispose',
      target: { kind: 'speedup', value: 15 },
      contenders: [protBufLoop(), sodiumMalloc(), bufferAlloc()]
    },
    {
      id: 'protkey',
      title: 'ProtKey read window: open, read 1 byte, close',
      // Node.js 20 has no ArrayBuffer.prototype.transfer(): every window view is a new external
      // ArrayBuffer (about 3 µs here), so its target is relaxed to 2.1×.
      target: { kind: 'cost', value: NODE_MAJOR === 20 ? 2.1 : 1.6 },
      contenders: [protKeyWindow(), sodiumWindow(), protKeyWindowMprotect(), keyedCopyFloor(), keyWindowMemory(), protectPair(), viewFloor()]
    },
    {
      id: 'sealedkey',
      title: 'SealedKey read window: decrypt, read 1 byte, wipe',
      target: { kind: 'cost', value: 1.5 },
      contenders: [sealedKeyWindow(), sodiumWindow(), sealedDecrypt(), sealedWindowMemory(), viewFloor()]
    }
  ]
  const sodiumCase = {
    id: 'sodium-allocator',
    title: 'sodium-allocator: sodium_malloc(32), write 1 byte, sodium_free',
    target: { kind: 'speedup', value: 5 }
  }
  if (sodiumAllocator.available) {
    const ours = sodiumMalloc(sodiumAllocator.api, 'sodium-allocator', '@tarsjs/sodium-allocator sodium_malloc(32) + write + sodium_free', 'ours', '@tarsjs/sodium-allocator')
    ours.note = "libsodium's layout; freed mappings are wiped and reused"
    cases.push({ ...sodiumCase, contenders: [ours, sodiumMalloc(), bufferAlloc()] })
  } else {
    cases.push({ ...sodiumCase, skipped: `@tarsjs/sodium-allocator ${sodiumAllocator.reason}` })
  }
  return [...cases, ...cryptoCases()]
}

/**
 * Ratio and verdict of a measured case (null when it has no ours/baseline pair).
 * The verdict uses the ratio of the medians; `pairedRatio` (the median of the
 * per-round ratios, both sides measured in the same round) is a second view
 * that cancels slow drifts of the machine.
 */
export function judge (kase, results) {
  const ours = results.find((r) => r.role === 'ours')
  const base = results.find((r) => r.role === 'baseline')
  const buffer = results.find((r) => r.role === 'buffer')
  if (!ours || !base) return { ratio: null, verdict: null }
  const { kind, value } = kase.target
  const ratio = kind === 'speedup' ? base.medianNs / ours.medianNs : ours.medianNs / base.medianNs
  const paired = kind === 'speedup' ? pairedRatio(base.samples, ours.samples) : pairedRatio(ours.samples, base.samples)
  // 'added': ours may cost at most `value` ns more than the baseline.
  const added = ours.medianNs - base.medianNs
  const pass = kind === 'speedup' ? ratio >= value : kind === 'added' ? added <= value : ratio <= value
  return {
    ratio,
    ...(kind === 'added' ? { added } : {}),
    pairedRatio: paired,
    verdict: pass ? 'PASS' : 'MISS',
    vsBuffer: buffer ? ours.medianNs / buffer.medianNs : null
  }
}
