/**
 * A container must never turn into key material by accident. Each way a
 * value becomes bytes or a number goes through one of these hooks, and each
 * of them throws `ERR_SECRET_COERCION` saying what to do instead:
 *
 * - `valueOf()`: `Buffer.from(x)` calls it first, as do `Number(x)` paths
 *   without `Symbol.toPrimitive`;
 * - `Symbol.iterator`: `new Uint8Array(x)`, `Uint8Array.from(x)`,
 *   `Array.from(x)`, `[...x]`, `for (... of x)`;
 * - `length`: the array-like paths (`Array.prototype.slice.call(x)`,
 *   `Buffer.from` on array-likes);
 * - `Symbol.toPrimitive` with hint `'number'` or `'default'` (`+x`, `x * 1`,
 *   `x + ''`, `x == 1`).
 *
 * The hint `'string'` (template literals, `String(x)`, `%s`) keeps giving the
 * redacted description: logging a container must not throw (a throw inside
 * an error handler hides the first error), and the description holds no
 * secret. docs/node-crypto.md says why, and what `${key}` gives a JWT library.
 *
 * The hooks are installed on the prototypes at run time and are not part of
 * the TypeScript types, so TypeScript already refuses `[...key]`,
 * `new Uint8Array(key)` and `key.bytes` on a key.
 */
import { inspect } from 'node:util'
import { ContainerError } from './errors.js'

function ownerName(self: unknown): string {
  return (self as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'container'
}

function howTo(owner: string): string {
  if (owner === 'ProtBuf') return 'use buf.bytes (a view of the protected memory) or buf.byteLength'
  if (owner === 'WindowGuard' || owner === 'TimedWindow') return 'use window.bytes while the window is open'
  return 'use key.read((bytes) => ...), readAsync(fn) or reader(), and pass bytes (a view) to the crypto API'
}

/** The error a coercion throws: what was tried, and what to do instead. */
export function coercionError(self: unknown, what: string): ContainerError {
  const owner = ownerName(self)
  return new ContainerError('ERR_SECRET_COERCION', `A ${owner} cannot be converted by ${what}: that would turn the container, not the secret, into key material. To use the secret, ${howTo(owner)}.`)
}

/** `Symbol.toPrimitive`: the redacted description for hint 'string', an error for 'number' and 'default'. */
export function primitive(self: { toString(): string }, hint: string): string {
  if (hint === 'string') return self.toString()
  throw coercionError(self, hint === 'number' ? 'a numeric conversion' : "'+' or '==' with a primitive")
}

/** Installs throwing `valueOf`, `Symbol.iterator` and `length` on a container prototype. */
export function refuseCoercion(proto: object): void {
  Object.defineProperties(proto, {
    valueOf: {
      value: function valueOf(this: unknown): never {
        throw coercionError(this, 'valueOf() (Buffer.from and the like)')
      },
      writable: true,
      configurable: true
    },
    [Symbol.iterator]: {
      value: function iterator(this: unknown): never {
        throw coercionError(this, 'iteration (new Uint8Array, Array.from, spread)')
      },
      writable: true,
      configurable: true
    },
    length: {
      get(this: unknown): never {
        throw coercionError(this, 'its length as an array-like (the size is byteLength)')
      },
      configurable: true
    }
  })
}

/**
 * Installs on a container prototype what `refuseCoercion` does, and the two
 * redacted descriptions, both from the prototype's `toString()`:
 * `Symbol.toPrimitive` (the description for hint 'string', an error for
 * 'number' and 'default') and `util.inspect.custom`.
 */
export function redactContainer(proto: { toString(): string }): void {
  refuseCoercion(proto)
  Object.defineProperties(proto, {
    [Symbol.toPrimitive]: {
      value: function toPrimitive(this: { toString(): string }, hint: string): string {
        return primitive(this, hint)
      },
      writable: true,
      configurable: true
    },
    [inspect.custom]: {
      value: function inspectCustom(this: { toString(): string }): string {
        return this.toString()
      },
      writable: true,
      configurable: true
    }
  })
}

/** Installs a throwing `bytes` getter on a key prototype, whose bytes exist only inside a window. */
export function refuseBytes(proto: object): void {
  Object.defineProperty(proto, 'bytes', {
    get(this: unknown): never {
      throw coercionError(this, '.bytes (a key has no bytes outside a window)')
    },
    configurable: true
  })
}
