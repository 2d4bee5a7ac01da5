/**
 * Canaries: bytes next to the data that must still hold a per-allocator random
 * pattern when the allocation is freed. The pattern lives in the JS heap, away
 * from the data; writing and checking go straight between it and the mapping.
 */
import { randomFillSync } from 'node:crypto'
import os = require('@tarsjs/os-memlock')
import type { Region } from '@tarsjs/os-memlock'

const SPAN = 64

export class Canary {
  private readonly pattern: Uint8Array

  /** `maxLength`: the longest canary this allocator will write. */
  constructor(maxLength: number) {
    this.pattern = randomFillSync(new Uint8Array(maxLength + SPAN))
  }

  /** Writes the canary over `[offset, offset + length)`; the bytes depend on the offset. */
  write(region: Region, offset: number, length: number): void {
    if (length > 0) os.copy(this.pattern, offset % SPAN, region, offset, length)
  }

  /** True when `[offset, offset + length)` still holds the canary. Constant time. */
  intact(region: Region, offset: number, length: number): boolean {
    return length === 0 || os.equals(region, offset, this.pattern, offset % SPAN, length)
  }
}
