/**
 * @tarsjs/prot-containers — ProtBuf (a fixed-length protected buffer),
 * ProtKey (a key with no access outside explicit read/write windows) and
 * SealedKey (a key encrypted at rest), with purge() and catchSignals().
 */
export { ProtBuf } from './prot-buf.js'
export type { BufOptions, ReadOptions, TypedArrayConstructor } from './prot-buf.js'
export { ProtKey } from './prot-key.js'
export type { KeyOptions, KeyProtections, KeyReadOptions, Window } from './prot-key.js'
export { ContainerError } from './errors.js'
export type { ContainerErrorCode } from './errors.js'
export { WARN_BACKSTOP_FAILED, WARN_LEAK, reclaimedCount, setLeakWarnings } from './backstop.js'
export { defaultBufAllocator, defaultKeyAllocator } from './default-allocators.js'
export { DEFAULT_MAX_LENGTH } from './options.js'
export { SealedKey, WARN_REKEY_FAILED } from './sealed-key.js'
export type { RekeyResult, SealedOptions, SealedProtections, SealedReadOptions } from './sealed-key.js'
export type { SealingKeyProtections } from './sealing-key.js'
export { CAUGHT_SIGNALS, catchSignals, purge } from './purge.js'
export type { CatchOptions, PurgeResult } from './purge.js'
export type { Delimiter, ReadUntilOptions } from './read-until.js'
export type { PromptOptions } from './password-prompt.js'
export { DEFAULT_WINDOW_TIMEOUT } from './async-window.js'
export type { AsyncWindow, AsyncWindowOptions } from './async-window.js'
export type { SyncResult } from './sync-result.js'
export { hkdfKey, hkdfKeySync, pbkdf2Key, pbkdf2KeySync, scryptKey, scryptKeySync } from './derive.js'
export type { DeriveOptions, Derived, DerivedKind, ScryptKeyOptions } from './derive.js'
export type { SecretInput } from './secret-input.js'
export { importCryptoKey, privateKeyObject, secretKeyObject } from './key-object.js'
export type { CryptoKeyFormat, ImportAlgorithm, PrivateKeyOptions, SecretKeyOptions } from './key-object.js'
