/**
 * The guard object of a ProtKey or SealedKey window (`reader()`/`writer()`).
 */
import { inspect } from 'node:util'
import { refuseCoercion } from './misuse.js'
import type { Window } from './prot-key.js'

/**
 * A window of a key. `bytes` is a getter on the prototype, so the window has
 * no enumerable content, and every printing path (inspect, String, JSON)
 * shows a redacted description, as for the key.
 */
export class WindowGuard implements Window {
  readonly #owner: 'ProtKey' | 'SealedKey'
  readonly #bytes: Uint8Array
  readonly #kind: 'read' | 'write'
  readonly #length: number
  readonly #done: () => void
  #closed = false

  constructor(owner: 'ProtKey' | 'SealedKey', bytes: Uint8Array, kind: 'read' | 'write', done: () => void) {
    this.#owner = owner
    this.#bytes = bytes
    this.#kind = kind
    this.#length = bytes.byteLength
    this.#done = done
  }

  get bytes(): Uint8Array {
    return this.#bytes
  }

  get closed(): boolean {
    return this.#closed
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#done()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  toString(): string {
    return `${this.#owner} ${this.#kind} window(${this.#length} bytes, ${this.#closed ? 'closed' : 'open'})`
  }

  toJSON(): string {
    return this.toString()
  }

  [inspect.custom](): string {
    return this.toString()
  }
}

refuseCoercion(WindowGuard.prototype)
