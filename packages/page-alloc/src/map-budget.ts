/**
 * The map-count budget: how many kernel mappings (VMAs) this process may still
 * create for secrets while a reserve is left for everything else.
 *
 * The kernel refuses a new mapping past `vm.max_map_count`; at that point V8,
 * libuv and the C library cannot map either, and the process dies of it (an
 * out-of-memory abort, `std::bad_alloc`, a segfault). So the allocators stop
 * first: a new mapping that would leave fewer than `reserve` mappings free
 * throws `ERR_MAP_LIMIT` before any system call, and the reserve stays for the
 * runtime. The default reserve is 2% of `vm.max_map_count`, at least 1,024.
 *
 * Counting is cheap: `/proc/self/maps` is counted once, then the allocators
 * report the mappings they add and give back (an upper bound: a split counts
 * before the kernel merges anything). Near the limit the count is read again,
 * which also takes in mappings made by others (V8, other threads).
 *
 * Settings come from `TARSJS_MAP_RESERVE` (mappings to keep free) and
 * `TARSJS_MAP_LIMIT` (a lower limit than `vm.max_map_count`, e.g. for tests),
 * read once, or from `configureMapBudget()`.
 */
import { readFileSync } from 'node:fs'
import { AllocError } from './errors.js'
import { intOption } from './policy.js'

/** What `mapBudget()` reports. */
export interface MapBudgetStats {
  /** `vm.max_map_count` as read (65530 when it cannot be read). */
  maxMapCount: number
  /** The limit in force: `maxMapCount`, or a lower one configured. */
  limit: number
  /** Mappings kept free for the runtime: new mappings stop `reserve` short of `limit`. */
  reserve: number
  /** Mappings of the process as last counted, plus those added since (an upper bound). */
  used: number
  /** Mappings the allocators may still create: `limit - reserve - used`, at least 0. */
  available: number
}

/** Options of `configureMapBudget`. */
export interface MapBudgetOptions {
  /** Mappings to keep free, 0 to `limit`. Default: 2% of `vm.max_map_count`, at least 1,024. */
  reserve?: number
  /** A limit below `vm.max_map_count` (never above it). Default: `vm.max_map_count`. */
  limit?: number
}

const FALLBACK_MAX = 65530
/** Near the limit the count is read again at most once per this many new mappings (and always before a refusal). */
const RECOUNT_EVERY = 64

function readMaxMapCount(): number {
  try {
    const n = Number.parseInt(readFileSync('/proc/sys/vm/max_map_count', 'utf8'), 10)
    return Number.isInteger(n) && n > 0 ? n : FALLBACK_MAX
  } catch {
    return FALLBACK_MAX
  }
}

/** Lines of /proc/self/maps: the mappings of this process. 0 where it cannot be read (not Linux). */
export function countMappings(): number {
  let text: string
  try {
    text = readFileSync('/proc/self/maps', 'latin1')
  } catch {
    return 0
  }
  let lines = 0
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++
  return lines
}

function envInt(name: string): number | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0) throw new AllocError('ERR_OUT_OF_RANGE', `${name} must be an integer >= 0`)
  return n
}

class MapBudget {
  readonly maxMapCount = readMaxMapCount()
  limit: number
  reserve: number
  #used = -1
  #sinceCount = 0

  constructor() {
    const limit = envInt('TARSJS_MAP_LIMIT')
    this.limit = limit === undefined ? this.maxMapCount : Math.min(limit, this.maxMapCount)
    this.reserve = envInt('TARSJS_MAP_RESERVE') ?? defaultReserve(this.maxMapCount)
  }

  get used(): number {
    if (this.#used < 0) this.recount()
    return this.#used
  }

  recount(): void {
    this.#used = countMappings()
    this.#sinceCount = 0
  }

  /** Counts `n` new mappings about to be made; throws `ERR_MAP_LIMIT` (nothing counted) when they would eat into the reserve. */
  take(n: number): void {
    const room = this.limit - this.reserve
    if (this.used + n > room - this.reserve / 2 && (this.#sinceCount >= RECOUNT_EVERY || this.#used + n > room)) this.recount()
    if (this.#used + n > room) {
      throw new AllocError(
        'ERR_MAP_LIMIT',
        `No new memory mapping: ${this.#used} of ${this.limit} kernel mappings are in use and ${this.reserve} are kept free ` +
          'for the runtime (vm.max_map_count). Free secrets, or see configureMapBudget()'
      )
    }
    this.#used += n
    this.#sinceCount += n
  }

  /** Counts `n` mappings given back. */
  give(n: number): void {
    if (this.#used >= 0) this.#used = Math.max(0, this.#used - n)
  }
}

function defaultReserve(maxMapCount: number): number {
  return Math.max(1024, Math.ceil(maxMapCount * 0.02))
}

let budget: MapBudget | undefined

/** @internal The budget of this thread's allocators (each worker counts for itself and recounts near the limit). */
export function theMapBudget(): MapBudget {
  budget ??= new MapBudget()
  return budget
}

/**
 * The map-count budget as it stands: the kernel's `vm.max_map_count`, the limit and reserve in force,
 * and the mappings in use. Reading it counts `/proc/self/maps` afresh.
 * @throws {AllocError} `ERR_OUT_OF_RANGE` when `TARSJS_MAP_RESERVE` or `TARSJS_MAP_LIMIT` is not an integer >= 0 (read at first use)
 * @example
 * ```js
 * import { mapBudget } from '@tarsjs/page-alloc'
 * const { used, limit, reserve } = mapBudget()
 * console.log(`${used} of ${limit} mappings in use, ${reserve} kept free`)
 * ```
 */
export function mapBudget(): MapBudgetStats {
  const b = theMapBudget()
  b.recount()
  return snapshot(b)
}

/** @internal The budget without a recount (for `stats()`). */
export function mapBudgetSnapshot(): MapBudgetStats {
  return snapshot(theMapBudget())
}

function snapshot(b: MapBudget): MapBudgetStats {
  const used = b.used
  return { maxMapCount: b.maxMapCount, limit: b.limit, reserve: b.reserve, used, available: Math.max(0, b.limit - b.reserve - used) }
}

/**
 * Sets the reserve of kernel mappings kept free for the runtime, or a limit below `vm.max_map_count`,
 * for the allocators of this thread. Returns the budget now in force.
 * @throws {AllocError} `ERR_INVALID_ARG_TYPE` for options that are not an object; `ERR_OUT_OF_RANGE` for a reserve or limit that is not an integer in range
 * @example
 * ```js
 * import { configureMapBudget } from '@tarsjs/page-alloc'
 * configureMapBudget({ reserve: 4096 }) // leave 4,096 mappings to V8 and native modules
 * ```
 */
export function configureMapBudget(options: MapBudgetOptions): MapBudgetStats {
  if (options === null || typeof options !== 'object') {
    throw new AllocError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object')
  }
  const b = theMapBudget()
  const limit = intOption('limit', options.limit, 1, b.maxMapCount, b.limit)
  const reserve = intOption('reserve', options.reserve, 0, limit, Math.min(b.reserve, limit))
  b.limit = limit
  b.reserve = reserve
  b.recount()
  return snapshot(b)
}
