/**
 * What ProtBuf and ProtKey share: ownership of one allocation, disposal
 * (idempotent, synchronous wipe), the GC backstop, and redaction — every way
 * of printing a container shows its length and state, never its content.
 */
import { inspect } from 'node:util'
import type { Allocation, Allocator, Protections } from '@tarsjs/page-alloc'
import { track } from './backstop.js'
import { ContainerError } from './errors.js'
import { redactContainer } from './misuse.js'

/**
 * Passed by this package's static constructors. A container made any other
 * way (`new ProtBuf(...)` from outside) would hold an allocation nobody
 * checked, so the constructor refuses it before anything else happens.
 */
export const CONSTRUCT: unique symbol = Symbol('tarsjs container')

export abstract class Container {
  readonly #allocator: Allocator
  readonly #allocation: Allocation
  #disposed = false

  protected constructor(token: unknown, allocator: Allocator, allocation: Allocation) {
    if (token !== CONSTRUCT) {
      throw new ContainerError('ERR_ILLEGAL_CONSTRUCTOR', `${new.target.name} has no public constructor: use ${new.target.name}.alloc, random, from, fromFd, fromFile or fromStream`)
    }
    this.#allocator = allocator
    this.#allocation = allocation
    track(this, allocation)
  }

  /** Length of the secret in bytes. */
  get byteLength(): number {
    return this.#allocation.byteLength
  }

  /** True once disposed. */
  get disposed(): boolean {
    return this.#disposed || this.#allocation.freed
  }

  /** The allocator that holds the secret. */
  get allocator(): Allocator {
    return this.#allocator
  }

  /**
   * What protections the memory actually has (read back from the allocator).
   * @throws {ContainerError} `ERR_DISPOSED`
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.random(32)
   * const p = key.protections()
   * console.log(p.guardPages, p.access) // true none
   * key.dispose()
   * ```
   */
  protections(): Protections {
    return this.#allocator.protections(this.live())
  }

  /**
   * Wipes and frees the memory now; every view given out is detached. Idempotent.
   * @throws {ContainerError} `ERR_WINDOW_OPEN` for a ProtKey with a window open (nothing is freed; close it and dispose again); a corrupted canary ends the process (or throws the allocator's `ERR_INTEGRITY` under `integrity: 'throw'`)
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.random(32)
   * key.dispose()
   * key.dispose() // idempotent
   * console.log(key.disposed, `${key}`) // true ProtKey(32 bytes, disposed)
   * ```
   */
  dispose(): void {
    // After purge() the allocation is already freed: nothing is left to dispose.
    if (this.#allocation.freed) this.#disposed = true
    if (this.#disposed) return
    this.beforeDispose()
    // Disposed only once the memory is really freed: if free throws, dispose() can be retried.
    this.#allocator.free(this.#allocation)
    this.#disposed = true
  }

  [Symbol.dispose](): void {
    this.dispose()
  }

  /**
   * A redacted description such as `ProtKey(32 bytes, no access)`.
   * @throws nothing, disposed or not
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.random(32)
   * console.log(`${key}`) // ProtKey(32 bytes, no access): never the bytes
   * key.dispose()
   * ```
   */
  toString(): string {
    const state = this.disposed ? 'disposed' : this.describeState()
    return `${this.constructor.name}(${this.#allocation.byteLength} bytes, ${state})`
  }

  /**
   * JSON shows the redacted description only.
   * @throws nothing
   * @example
   * ```js
   * import { ProtKey } from '@tarsjs/prot-containers'
   * const key = ProtKey.random(16)
   * console.log(JSON.stringify({ key })) // {"key":"ProtKey(16 bytes, no access)"}
   * key.dispose()
   * ```
   */
  toJSON(): string {
    return this.toString()
  }

  /** The redacted description for hint 'string' (template literals, `String()`); `ERR_SECRET_COERCION` for 'number' and 'default' (installed by `redactContainer`). */
  declare [Symbol.toPrimitive]: (hint: string) => string
  /** The redacted description (installed by `redactContainer`). */
  declare [inspect.custom]: () => string

  /** The live allocation; throws `ERR_DISPOSED` after dispose. */
  protected live(): Allocation {
    if (this.#disposed || this.#allocation.freed) {
      throw new ContainerError('ERR_DISPOSED', `${this.constructor.name} has been disposed`)
    }
    return this.#allocation
  }

  /** Checks that may refuse disposal (an open window); must not change state. */
  protected beforeDispose(): void {}

  /** The state word shown when printed, e.g. `'read-write'`, `'no access'`. */
  protected abstract describeState(): string
}

redactContainer(Container.prototype)
