/**
 * Key derivation into protected memory: scrypt, PBKDF2 and HKDF, sync and
 * async, from a password or key held in a container (or a view of protected
 * memory), into a new ProtKey (default), ProtBuf or SealedKey.
 *
 * The secret input is read in place, inside a read window that is open only
 * while Node's call runs synchronously: for the async forms Node copies its
 * inputs into its own job before returning (checked by test/derive.test.mjs
 * on every supported Node.js version), so the key is no access again while
 * the threadpool works.
 *
 * Node writes each result into a fresh heap buffer (none of these APIs takes
 * an output buffer). That buffer is copied into the container and wiped
 * (explicit_bzero) before the function returns or the promise resolves —
 * also when making the container fails.
 */
import { hkdf, hkdfSync, pbkdf2, pbkdf2Sync, scrypt, scryptSync } from 'node:crypto'
import type { BinaryLike, ScryptOptions } from 'node:crypto'
import os = require('@tarsjs/os-memlock')
import type { Allocator } from '@tarsjs/page-alloc'
import { ContainerError } from './errors.js'
import { ProtBuf } from './prot-buf.js'
import { ProtKey } from './prot-key.js'
import { SealedKey } from './sealed-key.js'
import { withSecret } from './secret-input.js'
import type { SecretInput } from './secret-input.js'

/** The container a derivation produces. */
export type DerivedKind = 'ProtKey' | 'ProtBuf' | 'SealedKey'

/** The container type of a {@link DerivedKind}. */
export type Derived<K extends DerivedKind> = K extends 'ProtBuf' ? ProtBuf : K extends 'SealedKey' ? SealedKey : ProtKey

/** Where a derived key goes. */
export interface DeriveOptions<K extends DerivedKind = 'ProtKey'> {
  /** The container to produce. Default `'ProtKey'`. */
  output?: K
  /** The allocator of that container (as its `from` takes it). */
  allocator?: Allocator
}

/** scrypt's cost parameters (as `crypto.scrypt` takes them) plus where the key goes. */
export interface ScryptKeyOptions<K extends DerivedKind = 'ProtKey'> extends DeriveOptions<K>, ScryptOptions {}

const KINDS: readonly DerivedKind[] = ['ProtKey', 'ProtBuf', 'SealedKey']

interface Target {
  output: DerivedKind
  allocator: Allocator | undefined
}

function target(options: DeriveOptions<DerivedKind> | undefined): Target {
  if (options === undefined) return { output: 'ProtKey', allocator: undefined }
  if (typeof options !== 'object' || options === null) {
    throw new ContainerError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be an object')
  }
  const output = options.output ?? 'ProtKey'
  if (!KINDS.includes(output)) {
    throw new ContainerError('ERR_INVALID_ARG_VALUE', `The "options.output" property must be one of ${KINDS.join(', ')}. Received ${String(output)}`)
  }
  return { output, allocator: options.allocator }
}

function scryptParams(options: ScryptOptions | undefined): ScryptOptions {
  const params: ScryptOptions = {}
  if (options === undefined) return params
  for (const name of ['N', 'r', 'p', 'cost', 'blockSize', 'parallelization', 'maxmem'] as const) {
    if (options[name] !== undefined) params[name] = options[name]
  }
  return params
}

/** Copies Node's heap result into the container, then wipes the heap copy whatever happens. */
function intoContainer(heap: Uint8Array, to: Target): ProtKey | ProtBuf | SealedKey {
  try {
    const opts = to.allocator === undefined ? {} : { allocator: to.allocator }
    if (to.output === 'ProtBuf') return ProtBuf.from(heap, opts)
    if (to.output === 'SealedKey') return SealedKey.from(heap, opts)
    return ProtKey.from(heap, opts)
  } finally {
    os.wipe(heap)
  }
}

type Callback = (err: Error | null, key: Uint8Array | ArrayBuffer) => void

/** An async derivation: `start(bytes, done)` calls Node's function; the result is moved into the container before resolving. */
function deriveAsync(source: SecretInput, name: string, options: DeriveOptions<DerivedKind> | undefined, start: (bytes: Uint8Array, done: Callback) => void): Promise<ProtKey | ProtBuf | SealedKey> {
  return new Promise((resolve, reject) => {
    const to = target(options)
    const done: Callback = (err, key) => {
      const heap = key instanceof ArrayBuffer ? new Uint8Array(key) : key
      if (err !== null) {
        if (heap !== undefined && heap !== null) os.wipe(heap)
        reject(err)
        return
      }
      try {
        resolve(intoContainer(heap, to))
      } catch (e) {
        reject(e)
      }
    }
    withSecret(source, name, (bytes) => start(bytes, done))
  })
}

/**
 * scrypt of a password held in protected memory, into a new container.
 * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a password that is not a container or a view (a string is refused); `ERR_INVALID_ARG_VALUE` for an unknown `output`; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT` when the password key has a write window open; Node's own codes for bad scrypt parameters (`ERR_OUT_OF_RANGE`, `ERR_CRYPTO_INVALID_SCRYPT_PARAMS`); allocator errors pass through
 * @example
 * ```js
 * import { ProtBuf, scryptKeySync } from '@tarsjs/prot-containers'
 * const password = ProtBuf.from(Buffer.from('correct horse'), { wipeSource: true })
 * const key = scryptKeySync(password, 'per-user salt', 32, { N: 1024 })
 * console.log(String(key)) // ProtKey(32 bytes, no access)
 * key.dispose()
 * password.dispose()
 * ```
 */
export function scryptKeySync<K extends DerivedKind = 'ProtKey'>(password: SecretInput, salt: BinaryLike, keylen: number, options?: ScryptKeyOptions<K>): Derived<K> {
  const to = target(options)
  const params = scryptParams(options)
  const heap = withSecret(password, 'password', (bytes) => scryptSync(bytes, salt, keylen, params))
  return intoContainer(heap, to) as Derived<K>
}

/**
 * scrypt on the threadpool; the password's window is open only while the call starts (Node copies it), and Node's result buffer is wiped before the promise resolves.
 * @throws {ContainerError} (as rejections) the codes of {@link scryptKeySync}: `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`, `ERR_DISPOSED`, `ERR_WINDOW_CONFLICT`, Node's `ERR_CRYPTO_INVALID_SCRYPT_PARAMS`
 * @example
 * ```js
 * import { ProtKey, scryptKey } from '@tarsjs/prot-containers'
 * const password = ProtKey.from(Buffer.from('correct horse'), { wipeSource: true })
 * const key = await scryptKey(password, 'per-user salt', 32, { N: 16384, output: 'SealedKey' })
 * console.log(String(key)) // SealedKey(32 bytes, sealed)
 * key.dispose()
 * password.dispose()
 * ```
 */
export function scryptKey<K extends DerivedKind = 'ProtKey'>(password: SecretInput, salt: BinaryLike, keylen: number, options?: ScryptKeyOptions<K>): Promise<Derived<K>> {
  return deriveAsync(password, 'password', options, (bytes, done) => scrypt(bytes, salt, keylen, scryptParams(options), done)) as Promise<Derived<K>>
}

/**
 * PBKDF2 of a password held in protected memory, into a new container.
 * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a password that is not a container or a view; `ERR_INVALID_ARG_VALUE` for an unknown `output`; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT`; Node's own codes for bad parameters (`ERR_OUT_OF_RANGE`, `ERR_CRYPTO_INVALID_DIGEST`); allocator errors pass through
 * @example
 * ```js
 * import { ProtBuf, pbkdf2KeySync } from '@tarsjs/prot-containers'
 * const password = ProtBuf.from(Buffer.from('correct horse'), { wipeSource: true })
 * const key = pbkdf2KeySync(password, 'salt', 100000, 32, 'sha256', { output: 'ProtBuf' })
 * console.log(key.byteLength) // 32
 * key.dispose()
 * password.dispose()
 * ```
 */
export function pbkdf2KeySync<K extends DerivedKind = 'ProtKey'>(password: SecretInput, salt: BinaryLike, iterations: number, keylen: number, digest: string, options?: DeriveOptions<K>): Derived<K> {
  const to = target(options)
  const heap = withSecret(password, 'password', (bytes) => pbkdf2Sync(bytes, salt, iterations, keylen, digest))
  return intoContainer(heap, to) as Derived<K>
}

/**
 * PBKDF2 on the threadpool, as {@link scryptKey}.
 * @throws {ContainerError} (as rejections) the codes of {@link pbkdf2KeySync}: `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`, `ERR_DISPOSED`, `ERR_WINDOW_CONFLICT`, Node's `ERR_CRYPTO_INVALID_DIGEST`
 * @example
 * ```js
 * import { ProtKey, pbkdf2Key } from '@tarsjs/prot-containers'
 * const password = ProtKey.from(Buffer.from('correct horse'), { wipeSource: true })
 * const key = await pbkdf2Key(password, 'salt', 100000, 32, 'sha512')
 * console.log(String(key)) // ProtKey(32 bytes, no access)
 * key.dispose()
 * password.dispose()
 * ```
 */
export function pbkdf2Key<K extends DerivedKind = 'ProtKey'>(password: SecretInput, salt: BinaryLike, iterations: number, keylen: number, digest: string, options?: DeriveOptions<K>): Promise<Derived<K>> {
  return deriveAsync(password, 'password', options, (bytes, done) => pbkdf2(bytes, salt, iterations, keylen, digest, done)) as Promise<Derived<K>>
}

/**
 * HKDF of a key held in protected memory, into a new container.
 * @throws {ContainerError} `ERR_INVALID_ARG_TYPE` for a key that is not a container or a view; `ERR_INVALID_ARG_VALUE` for an unknown `output`; `ERR_DISPOSED`; `ERR_WINDOW_CONFLICT`; Node's own codes for bad parameters (`ERR_OUT_OF_RANGE`, `ERR_CRYPTO_INVALID_DIGEST`, `ERR_CRYPTO_INVALID_KEYLEN`); allocator errors pass through
 * @example
 * ```js
 * import { ProtKey, hkdfKeySync } from '@tarsjs/prot-containers'
 * const master = ProtKey.random(32)
 * const signing = hkdfKeySync('sha256', master, 'salt', 'signing v1', 32)
 * console.log(String(signing)) // ProtKey(32 bytes, no access)
 * signing.dispose()
 * master.dispose()
 * ```
 */
export function hkdfKeySync<K extends DerivedKind = 'ProtKey'>(digest: string, key: SecretInput, salt: BinaryLike, info: BinaryLike, keylen: number, options?: DeriveOptions<K>): Derived<K> {
  const to = target(options)
  const heap = new Uint8Array(withSecret(key, 'key', (bytes) => hkdfSync(digest, bytes, salt, info, keylen)))
  return intoContainer(heap, to) as Derived<K>
}

/**
 * HKDF on the threadpool, as {@link scryptKey}.
 * @throws {ContainerError} (as rejections) the codes of {@link hkdfKeySync}: `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`, `ERR_DISPOSED`, `ERR_WINDOW_CONFLICT`, Node's `ERR_CRYPTO_INVALID_DIGEST`
 * @example
 * ```js
 * import { ProtKey, hkdfKey } from '@tarsjs/prot-containers'
 * const master = ProtKey.random(32)
 * const enc = await hkdfKey('sha256', master, 'salt', 'encryption v1', 32, { output: 'SealedKey' })
 * console.log(String(enc)) // SealedKey(32 bytes, sealed)
 * enc.dispose()
 * master.dispose()
 * ```
 */
export function hkdfKey<K extends DerivedKind = 'ProtKey'>(digest: string, key: SecretInput, salt: BinaryLike, info: BinaryLike, keylen: number, options?: DeriveOptions<K>): Promise<Derived<K>> {
  return deriveAsync(key, 'key', options, (bytes, done) => hkdf(digest, bytes, salt, info, keylen, done)) as Promise<Derived<K>>
}
