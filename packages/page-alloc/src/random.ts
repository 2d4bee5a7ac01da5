/**
 * Random numbers for slot and page choice, from the CSPRNG in batches so that
 * one allocation costs no system call.
 */
import { randomFillSync } from 'node:crypto'

const BATCH = 1024

export class RandomPool {
  private readonly words = new Uint32Array(BATCH)
  private next = BATCH

  /** A uniformly random integer in [0, bound), bound in [1, 2^32). */
  below(bound: number): number {
    if (bound <= 1) return 0
    // Rejection sampling: no modulo bias.
    const limit = 0x100000000 - (0x100000000 % bound)
    for (;;) {
      if (this.next === BATCH) {
        randomFillSync(this.words)
        this.next = 0
      }
      const word = this.words[this.next++] as number
      if (word < limit) return word % bound
    }
  }
}
