/**
 * Where a SealedKey's ciphertext is sealed into and opened from. The at-rest
 * allocator copies a ciphertext to and from this buffer natively (`copyIn` /
 * `copyOut`), so no key keeps a view of its at-rest slot: no ArrayBuffer, no
 * backing store and no detach per key, which is most of what a live key would
 * otherwise cost the JavaScript heap.
 *
 * A ciphertext is no secret (the at-rest slots are not locked either), so this
 * is ordinary memory. It never holds a plaintext or a key: sodium writes the
 * ciphertext straight from the plaintext in window memory, and opens it
 * straight into window memory, after checking the tag.
 *
 * One buffer per thread (each worker loads its own copy of this module),
 * grown to the longest ciphertext seen up to `KEEP` bytes; a longer one gets a
 * buffer of its own for that call. Callers use the stage before any other
 * code can run (no callback, no await in between), so it is never shared.
 */

/** The longest stage kept between calls, in bytes. */
const KEEP = 4096

let kept = new ArrayBuffer(128)
/** The last stage handed out: most keys of a program have one length, so most calls make no new view. */
let last = new Uint8Array(kept, 0, 0)

/** A Uint8Array of exactly `byteLength` bytes for one seal or open. */
export function stage(byteLength: number): Uint8Array {
  if (byteLength === last.byteLength) return last
  if (byteLength > kept.byteLength) {
    if (byteLength > KEEP) return new Uint8Array(byteLength)
    kept = new ArrayBuffer(Math.min(KEEP, Math.max(byteLength, 2 * kept.byteLength)))
  }
  last = new Uint8Array(kept, 0, byteLength)
  return last
}
