/**
 * The result type of a sync window callback (`read(fn)`, `write(fn)`): a
 * callback that returns a Promise or any other thenable does not type-check,
 * as it is refused at run time (`ERR_ASYNC_CALLBACK`). Use `readAsync` /
 * `writeAsync` for work that awaits.
 *
 * TypeScript infers `R` through both branches of the conditional type, then
 * checks the callback's return type against it: `Promise<X>` meets `never`.
 */
export type SyncResult<R> = R extends PromiseLike<unknown> ? never : R
