/**
 * Single data pages for the page allocator, packed into shared reservations
 * whose guard pages serve both neighbours:
 *
 *   [guard][page 0][guard][page 1][guard] ... [page n-1][guard]
 *
 * A reservation is one anonymous PROT_NONE mapping: it costs address space,
 * no memory and no RLIMIT_MEMLOCK charge. A page is brought to life in place
 * (`os.remap`): memfd_secret(2) memory, or anonymous memory made read-write,
 * so only the data page itself is ever charged, and each live page adds two
 * kernel mappings (itself and the guard after it) where a mapping of its own
 * adds three. A page given back is covered with PROT_NONE memory again, which
 * drops its memory and charge and merges it with the guards around it.
 */
import os = require('@tarsjs/os-memlock')
import type { Region } from '@tarsjs/os-memlock'
import { PAGE_SIZE, adviseData, backSecret } from './guarded-mapping.js'
import type { GuardedMapping } from './guarded-mapping.js'
import { theMapBudget } from './map-budget.js'
import type { SecretmemPolicy, Warner } from './policy.js'

/** Data pages per reservation. */
export const SLAB_PAGES = 64
/** Kernel mappings one live page adds to its reservation: the page, and the guard it splits off. */
const PAGE_VMAS = 2

interface Slab {
  readonly region: Region
  /** Slots not in use, taken from the end. */
  readonly free: number[]
  /** Slots in use, or withdrawn (escaped): never back in `free`. */
  held: number
  /** Withdrawn slots: the reservation can then never be unmapped, only let go. */
  withdrawn: number
}

/** Byte offset of slot `i` in its reservation. */
function slotOffset(i: number): number {
  return (2 * i + 1) * PAGE_SIZE
}

export class PageSlabs {
  readonly #secretmem: SecretmemPolicy
  readonly #warner: Warner
  /** Reservations with a free slot, the most recent last. */
  readonly #open: Slab[] = []
  readonly #slabOf = new Map<Region, Slab>()

  constructor(secretmem: SecretmemPolicy, warner: Warner) {
    this.#secretmem = secretmem
    this.#warner = warner
  }

  /** Reservations held. */
  get reservations(): number {
    return this.#slabOf.size
  }

  /**
   * One read-write data page between guard pages, secretmem under the policy (else anonymous, not yet locked).
   * Throws `ERR_MAP_LIMIT` before any system call when the map-count budget is spent; the OS error otherwise.
   */
  take(): GuardedMapping {
    const budget = theMapBudget()
    const slab = this.#open[this.#open.length - 1] ?? this.#reserve()
    budget.take(PAGE_VMAS)
    const slot = slab.free.pop() as number
    const offset = slotOffset(slot)
    try {
      const secret = backSecret(slab.region, offset, PAGE_SIZE, this.#secretmem, this.#warner)
      if (!secret) os.protect(slab.region, offset, PAGE_SIZE, 'readwrite')
      const mapping = adviseData(slab.region, offset, 1, secret, slot)
      slab.held++
      if (slab.free.length === 0) this.#open.pop()
      return mapping
    } catch (err) {
      this.#cover(slab, offset)
      slab.free.push(slot)
      budget.give(PAGE_VMAS)
      if (slab.held === 0 && slab.withdrawn === 0) this.#unmap(slab)
      throw err
    }
  }

  /** Gives a page back: covered with PROT_NONE memory (wiped, uncharged, merged), its slot free again. */
  release(mapping: GuardedMapping): void {
    const slab = this.#slabOf.get(mapping.region) as Slab
    os.remap(mapping.region, mapping.offset, PAGE_SIZE, 'none')
    theMapBudget().give(PAGE_VMAS)
    slab.held--
    slab.free.push(mapping.slot)
    if (slab.free.length === 1) this.#open.push(slab)
    this.#settle(slab)
  }

  /**
   * Withdraws a page for good (an ArrayBuffer over it escaped): it stays mapped and readable; the
   * reservation is never unmapped, only let go once nothing else lives in it (os-memlock unmaps it
   * when every ArrayBuffer over it has been collected).
   */
  withdraw(mapping: GuardedMapping): void {
    const slab = this.#slabOf.get(mapping.region) as Slab
    slab.withdrawn++
    slab.held--
    this.#settle(slab)
  }

  /** Unmaps every reservation with nothing in it (one empty reservation is otherwise kept for the next page). */
  trim(): void {
    for (const slab of [...this.#open]) {
      if (slab.held === 0 && slab.withdrawn === 0) this.#drop(slab)
    }
  }

  /** Unmaps (or lets go) a reservation with nothing live in it, keeping one empty reservation open. */
  #settle(slab: Slab): void {
    if (slab.held > 0) return
    if (slab.withdrawn > 0 || this.#open.length > 1) this.#drop(slab)
  }

  #drop(slab: Slab): void {
    const i = this.#open.indexOf(slab)
    if (i !== -1) this.#open.splice(i, 1)
    if (slab.withdrawn > 0) {
      this.#slabOf.delete(slab.region)
      return
    }
    try {
      this.#unmap(slab)
    } catch {
      // Left mapped (PROT_NONE, nothing in it) and forgotten: os-memlock unmaps it once its handle is collected.
      this.#slabOf.delete(slab.region)
    }
  }

  #reserve(): Slab {
    const budget = theMapBudget()
    budget.take(1)
    const bytes = (2 * SLAB_PAGES + 1) * PAGE_SIZE
    let region: Region
    try {
      region = os.map(bytes)
    } catch (err) {
      budget.give(1)
      throw err
    }
    try {
      // Fresh PROT_NONE memory over all of it, so that pages given back merge with the guards again.
      os.remap(region, 0, bytes, 'none')
    } catch (err) {
      os.unmap(region)
      budget.give(1)
      throw err
    }
    const free: number[] = []
    for (let i = SLAB_PAGES - 1; i >= 0; i--) free.push(i)
    const slab: Slab = { region, free, held: 0, withdrawn: 0 }
    this.#slabOf.set(region, slab)
    this.#open.push(slab)
    return slab
  }

  /** Best effort after a failed take: the slot is PROT_NONE (or recorded so by os-memlock) either way. */
  #cover(slab: Slab, offset: number): void {
    try {
      os.remap(slab.region, offset, PAGE_SIZE, 'none')
    } catch {
      // os-memlock recorded the range as 'none'; nothing reads it.
    }
  }

  #unmap(slab: Slab): void {
    const i = this.#open.indexOf(slab)
    if (i !== -1) this.#open.splice(i, 1)
    os.unmap(slab.region)
    this.#slabOf.delete(slab.region)
    theMapBudget().give(1)
  }
}
