/**
 * The sealing key of SealedKey: 32 random bytes per thread, never stored
 * whole. It is split in two random halves, each in a mapping of its own
 * (memfd_secret where the kernel has it: out of the kernel's direct map,
 * never swapped, never dumped, not inherited by a child), and the key is
 * `a XOR b`. Only during one AEAD call does the whole key exist, in a 32-byte
 * scratch slot of locked, no-dump, wipe-on-fork memory that is wiped as soon
 * as libsodium returns. Without secretmem the halves are locked, no-dump
 * pages kept no-access between uses.
 *
 * Every sealing draws a random 96-bit nonce. Two sealings under one key with
 * the same nonce would break ChaCha20-Poly1305, and the chance of that stays
 * below 2^-32 only while a key seals at most 2^32 times (the bound NIST SP
 * 800-38D sets for random 96-bit IVs). So each key counts its sealings:
 * SealedKey replaces a key that has sealed `rekeyAfter` (2^31) times with
 * SealedKey.rekey() before its next sealing, and a key refuses to seal past
 * `maxSealings` (2^32), a bound no caller that rekeys so reaches.
 */
import type { Allocation } from '@tarsjs/page-alloc'
import { sealingKeyAllocator, windowAllocator } from './sealed-allocators.js'
import { KEY_BYTES, NONCE_BYTES, TAG_BYTES, aead } from './sodium.js'
import { onPurge } from './purge.js'
import { ContainerError } from './errors.js'

/** Bytes a sealing adds to a secret: the random nonce and the authentication tag. */
export const SEAL_OVERHEAD = NONCE_BYTES + TAG_BYTES

/** Sealings after which SealedKey replaces the sealing key before the next one: 2^31. */
let rekeyAfter = 2 ** 31
/** Sealings a sealing key refuses to go past: 2^32 (random 96-bit nonces, collision chance below 2^-32). */
let maxSealings = 2 ** 32

/**
 * Lowers both bounds, so that a test can reach them.
 * @internal tests only
 */
export function setSealingBoundsForTests(rekey: number, max: number): void {
  rekeyAfter = rekey
  maxSealings = max
}

/** What the sealing key's memory actually has. */
export interface SealingKeyProtections {
  /** Both halves are in memfd_secret memory. */
  secretmem: boolean
  /** Both halves are locked (secretmem is locked by the kernel). */
  locked: boolean
  /** Both halves are left out of core dumps. */
  noDump: boolean
  /** No single mapping holds the key: it is `a XOR b` of two halves in two mappings. */
  split: boolean
  /** Between uses the halves are no-access (the fallback without secretmem); secretmem stays mapped read-write but outside the kernel's direct map. */
  noAccessAtRest: boolean
}

export class SealingKey {
  readonly #a: Allocation
  readonly #b: Allocation
  readonly #scratch: Allocation
  /** Views of the halves, kept only while they are readable (always, for secretmem). */
  #va: Uint8Array | null = null
  #vb: Uint8Array | null = null
  #key: Uint8Array
  readonly #secretmem: boolean
  #sealings = 0
  #disposed = false

  private constructor(a: Allocation, b: Allocation, scratch: Allocation) {
    this.#a = a
    this.#b = b
    this.#scratch = scratch
    const halves = sealingKeyAllocator()
    this.#secretmem = halves.protections(a).secretmem && halves.protections(b).secretmem
    this.#key = new Uint8Array(windowAllocator().view(scratch))
    const sodium = aead()
    this.#va = new Uint8Array(halves.view(a))
    this.#vb = new Uint8Array(halves.view(b))
    sodium.randombytes_buf(this.#va)
    sodium.randombytes_buf(this.#vb)
    if (!this.#secretmem) this.hideHalves()
  }

  /** A fresh random sealing key. */
  static create(): SealingKey {
    aead()
    const halves = sealingKeyAllocator()
    const a = halves.alloc(KEY_BYTES)
    let b: Allocation | undefined
    try {
      b = halves.alloc(KEY_BYTES)
      return new SealingKey(a, b, windowAllocator().alloc(KEY_BYTES))
    } catch (err) {
      halves.free(a)
      if (b !== undefined) halves.free(b)
      throw err
    }
  }

  get disposed(): boolean {
    return this.#disposed
  }

  /** True once this key has sealed as many times as one key should: replace it before sealing again. */
  get worn(): boolean {
    return this.#sealings >= rekeyAfter
  }

  /** How many times this key has sealed. */
  get sealings(): number {
    return this.#sealings
  }

  /** Encrypts `plaintext` into `sealed` (`plaintext.byteLength + SEAL_OVERHEAD` bytes): a fresh random nonce, then ciphertext and tag. */
  seal(plaintext: Uint8Array, sealed: Uint8Array): void {
    if (this.#sealings >= maxSealings) {
      throw new ContainerError('ERR_SEALING_KEY_EXHAUSTED', `This sealing key has sealed ${maxSealings} times, the most one key may with random 96-bit nonces: SealedKey.rekey() replaces it`)
    }
    const sodium = aead()
    this.#sealings++
    const nonce = part(sealed, 0, NONCE_BYTES)
    sodium.randombytes_buf(nonce)
    const key = this.combine()
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt(part(sealed, NONCE_BYTES, sealed.byteLength - NONCE_BYTES), plaintext, null, null, nonce, key)
    } finally {
      key.fill(0)
    }
  }

  /** Decrypts `sealed` into `plaintext`; false (and nothing written) when the ciphertext does not authenticate. */
  open(sealed: Uint8Array, plaintext: Uint8Array): boolean {
    const sodium = aead()
    const nonce = part(sealed, 0, NONCE_BYTES)
    const ciphertext = part(sealed, NONCE_BYTES, sealed.byteLength - NONCE_BYTES)
    const key = this.combine()
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(plaintext, null, ciphertext, null, nonce, key)
      return true
    } catch {
      return false
    } finally {
      // A store to external memory: the JIT cannot drop it.
      key.fill(0)
    }
  }

  /** What the halves' memory actually has. */
  protections(): SealingKeyProtections {
    const halves = sealingKeyAllocator()
    const pa = halves.protections(this.#a)
    const pb = halves.protections(this.#b)
    return {
      secretmem: pa.secretmem && pb.secretmem,
      locked: pa.locked && pb.locked,
      noDump: pa.noDump && pb.noDump,
      split: true,
      noAccessAtRest: !this.#secretmem
    }
  }

  /** Wipes and frees both halves and the scratch. Idempotent. */
  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    this.#va = null
    this.#vb = null
    const halves = sealingKeyAllocator()
    for (const half of [this.#a, this.#b]) if (!half.freed) halves.free(half)
    if (!this.#scratch.freed) windowAllocator().free(this.#scratch)
  }

  /** The whole key, in the scratch slot, until `wipeKey()`. */
  private combine(): Uint8Array {
    if (this.#disposed) throw new Error('sealing key used after dispose')
    if (!this.#secretmem) this.showHalves()
    const a = this.#va as Uint8Array
    const b = this.#vb as Uint8Array
    const key = this.#key
    for (let i = 0; i < KEY_BYTES; i++) key[i] = (a[i] as number) ^ (b[i] as number)
    if (!this.#secretmem) this.hideHalves()
    return key
  }

  private showHalves(): void {
    const halves = sealingKeyAllocator()
    halves.protect(this.#a, 'read')
    halves.protect(this.#b, 'read')
    this.#va = new Uint8Array(halves.view(this.#a))
    this.#vb = new Uint8Array(halves.view(this.#b))
  }

  private hideHalves(): void {
    const halves = sealingKeyAllocator()
    this.#va = null
    this.#vb = null
    halves.protect(this.#a, 'none')
    halves.protect(this.#b, 'none')
  }
}

/** `length` bytes of `bytes` from `start`, as a new view (cheaper than subarray, which looks up a species constructor). */
function part(bytes: Uint8Array, start: number, length: number): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, length)
}

let current: SealingKey | undefined

/** This thread's sealing key, made on first use (and again after a purge). */
export function currentSealingKey(): SealingKey {
  if (current === undefined || current.disposed) current = SealingKey.create()
  return current
}

/** Makes `next` this thread's sealing key and disposes the previous one. */
export function replaceSealingKey(next: SealingKey): void {
  const previous = current
  current = next
  previous?.dispose()
}

onPurge(() => {
  current?.dispose()
  current = undefined
})
