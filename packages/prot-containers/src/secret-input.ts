/**
 * A secret given to a derivation or a bridge: a container, or a view of
 * bytes (typically a window's). Its bytes are read in place, inside a read
 * window for a key, and never copied by this package.
 */
import { ContainerError } from './errors.js'
import { ProtBuf } from './prot-buf.js'
import { ProtKey } from './prot-key.js'
import { SealedKey } from './sealed-key.js'
import type { SyncResult } from './sync-result.js'

/** A secret a derivation or a bridge reads: a container, or a view (of protected memory, typically a window's bytes). */
export type SecretInput = ProtKey | SealedKey | ProtBuf | ArrayBufferView

function refuse(value: unknown, name: string): ContainerError {
  return new ContainerError(
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be a ProtKey, SealedKey, ProtBuf or an ArrayBufferView${typeof value === 'string' ? ' (a string cannot be wiped: read it into a ProtBuf first)' : ''}`
  )
}

function viewBytes(view: ArrayBufferView): Uint8Array {
  return view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
}

/** Runs `fn` on the bytes of `source`, inside a read window for a key. */
export function withSecret<R>(source: SecretInput, name: string, fn: (bytes: Uint8Array) => R): R {
  if (source instanceof ProtKey || source instanceof SealedKey) return source.read(fn as (bytes: Uint8Array) => SyncResult<R>)
  if (source instanceof ProtBuf) return fn(source.bytes)
  if (ArrayBuffer.isView(source)) return fn(viewBytes(source))
  throw refuse(source, name)
}

/** Runs `fn` on the bytes of `source` until its promise settles: an async read window for a key. */
export function withSecretAsync<R>(source: SecretInput, name: string, fn: (bytes: Uint8Array) => Promise<R>): Promise<R> {
  if (source instanceof ProtKey || source instanceof SealedKey) return source.readAsync(fn)
  if (source instanceof ProtBuf) return Promise.resolve(source.bytes).then(fn)
  if (ArrayBuffer.isView(source)) return fn(viewBytes(source))
  return Promise.reject(refuse(source, name))
}
