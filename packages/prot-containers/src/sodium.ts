/**
 * The AEAD behind SealedKey: libsodium's ChaCha20-Poly1305 (IETF, RFC 8439)
 * through sodium-native, an optional peer dependency loaded on first use. Every
 * argument is a view of memory the caller owns (protected memory for keys and
 * plaintexts): libsodium reads and writes those bytes in place, keeps no
 * state between calls and wipes its stack state before returning.
 */
import { ContainerError } from './errors.js'

/** The few sodium-native functions SealedKey calls. */
export interface SodiumAead {
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number
  randombytes_buf(buf: Uint8Array): void
  crypto_aead_chacha20poly1305_ietf_KEYBYTES: number
  crypto_aead_chacha20poly1305_ietf_NPUBBYTES: number
  crypto_aead_chacha20poly1305_ietf_ABYTES: number
}

/** Key length of the AEAD, in bytes. */
export const KEY_BYTES = 32
/** Nonce length (random per sealing), in bytes: 96 bits, so a sealing key seals a bounded number of times (sealing-key.ts). */
export const NONCE_BYTES = 12
/** Authentication tag length, in bytes. */
export const TAG_BYTES = 16

let sodium: SodiumAead | undefined

/** sodium-native, loaded once; `ERR_SODIUM_UNAVAILABLE` when it is not installed. */
export function aead(): SodiumAead {
  if (sodium !== undefined) return sodium
  let loaded: SodiumAead
  try {
    loaded = require('sodium-native') as SodiumAead
  } catch {
    throw new ContainerError('ERR_SODIUM_UNAVAILABLE', 'SealedKey needs the sodium-native package (npm install sodium-native@^4.3.1)')
  }
  if (
    typeof loaded.crypto_aead_chacha20poly1305_ietf_encrypt !== 'function' ||
    loaded.crypto_aead_chacha20poly1305_ietf_KEYBYTES !== KEY_BYTES ||
    loaded.crypto_aead_chacha20poly1305_ietf_NPUBBYTES !== NONCE_BYTES ||
    loaded.crypto_aead_chacha20poly1305_ietf_ABYTES !== TAG_BYTES
  ) {
    throw new ContainerError('ERR_SODIUM_UNAVAILABLE', 'The installed sodium-native lacks crypto_aead_chacha20poly1305_ietf')
  }
  sodium = loaded
  return sodium
}
