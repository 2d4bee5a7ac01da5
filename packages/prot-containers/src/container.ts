/**
 * What ProtBuf and ProtKey share: ownership of one allocation, disposal
 * (idempotent, synchronous wipe), the GC backstop, and redaction — every way
 * of printing a container shows its length and state, never its content.
 */
import { inspect } from 'node:util'
import type { Allocation, Allocator, Protections } from '@tarsjs/page-alloc'
import { track } from './backstop.js'
import { ContainerError } from './errors.js'
import { primitive, refuseCoercion } from './misuse.js'

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

  /** What protections the memory actually has (read back from the allocator). */
  protections(): Protections {
    return this.#allocator.protections(this.live())
  }

  /** Wipes and frees the memory now; every view given out is detached. Idempotent. */
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

  /** A redacted description such as `ProtKey(32 bytes, no access)`. */
  toString(): string {
    const state = this.disposed ? 'disposed' : this.describeState()
    return `${this.constructor.name}(${this.#allocation.byteLength} bytes, ${state})`
  }

  /** JSON shows the redacted description only. */
  toJSON(): string {
    return this.toString()
  }

  /** The redacted description for hint 'string' (template literals, `String()`); `ERR_SECRET_COERCION` for 'number' and 'default'. */
  [Symbol.toPrimitive](hint: string): string {
    return primitive(this, hint)
  }

  [inspect.custom](): string {
    return this.toString()
  }

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

refuseCoercion(Container.prototype)
