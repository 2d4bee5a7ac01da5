// SlotAllocator's copyOut/copyIn: native copies between a slot and a
// Uint8Array that never make a view (no ArrayBuffer per slot), never touch the
// neighbouring slots or the canary after the slot, and refuse bad arguments
// with typed errors. Large allocations go to the page allocator behind.
import { describe, expect, it } from 'vitest'
import type * as PA from '../src/index.js'
import { expectCode, pa } from './helpers.js'

describe('SlotAllocator copyOut / copyIn', () => {
  it('round-trips every slot size class, and the slot reads back what was copied in', () => {
    const slots = new pa.SlotAllocator()
    for (const n of [1, 15, 16, 17, 31, 32, 33, 60, 127, 128, 500, 1024, 2047, 2048]) {
      const a = slots.alloc(n)
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 255)
      slots.copyIn(a, data)
      const out = new Uint8Array(n)
      slots.copyOut(a, out)
      expect(Array.from(out)).toEqual(Array.from(data))
      expect(Array.from(new Uint8Array(slots.view(a)))).toEqual(Array.from(data))
      slots.free(a)
    }
  })

  it('writes exactly the slot: neighbours keep their bytes and the canary holds (free does not abort)', () => {
    const slots = new pa.SlotAllocator()
    const many = Array.from({ length: 64 }, () => slots.alloc(24))
    for (const [i, a] of many.entries()) new Uint8Array(slots.view(a)).fill(i + 1)
    const target = many[20] as PA.Allocation
    slots.copyIn(target, new Uint8Array(24).fill(0xee))
    for (const [i, a] of many.entries()) {
      const bytes = new Uint8Array(24)
      slots.copyOut(a, bytes)
      expect(bytes.every((b) => b === (a === target ? 0xee : i + 1))).toBe(true)
    }
    for (const a of many) slots.free(a)
  })

  it('refuses bad arguments with typed errors and changes nothing', () => {
    const slots = new pa.SlotAllocator()
    const other = new pa.SlotAllocator()
    const a = slots.alloc(8)
    const b = other.alloc(8)
    slots.copyIn(a, new Uint8Array(8).fill(9))
    for (const bad of [null, undefined, [1, 2], new ArrayBuffer(8), new Uint16Array(4), 'abcdefgh', new DataView(new ArrayBuffer(8))]) {
      expectCode(() => slots.copyOut(a, bad as never), 'ERR_INVALID_ARG_TYPE')
      expectCode(() => slots.copyIn(a, bad as never), 'ERR_INVALID_ARG_TYPE')
    }
    for (const n of [0, 7, 9, 64]) {
      expectCode(() => slots.copyOut(a, new Uint8Array(n)), 'ERR_INVALID_ARG_VALUE')
      expectCode(() => slots.copyIn(a, new Uint8Array(n)), 'ERR_INVALID_ARG_VALUE')
    }
    expectCode(() => slots.copyOut(b, new Uint8Array(8)), 'ERR_FOREIGN_ALLOCATION')
    expectCode(() => slots.copyIn(b, new Uint8Array(8)), 'ERR_FOREIGN_ALLOCATION')
    expectCode(() => slots.copyOut(null as never, new Uint8Array(8)), 'ERR_INVALID_ARG_TYPE')
    // A copy of a handle is not the handle: refused as view() refuses it.
    expectCode(() => slots.copyOut({ ...a } as never, new Uint8Array(8)), 'ERR_FOREIGN_ALLOCATION')
    expectCode(() => slots.view({ ...a } as never), 'ERR_FOREIGN_ALLOCATION')
    const out = new Uint8Array(8)
    slots.copyOut(a, out)
    expect(Array.from(out)).toEqual(new Array(8).fill(9))
    slots.free(a)
    expectCode(() => slots.copyOut(a, new Uint8Array(8)), 'ERR_ALLOCATION_FREED')
    expectCode(() => slots.copyIn(a, new Uint8Array(8)), 'ERR_ALLOCATION_FREED')
    other.free(b)
  })

  it('runs no code of the caller during a copy: overridden set, byteLength and buffer are never called, Proxies are refused', () => {
    for (const allocator of [new pa.SlotAllocator(), new pa.PageAllocator()]) {
      const victim = allocator.alloc(32)
      const a = allocator.alloc(32)
      allocator.copyIn(victim, new Uint8Array(32).fill(0x77))
      allocator.copyIn(a, new Uint8Array(32).fill(0x11))
      const called: string[] = []
      let seen: Uint8Array | null = null
      class Sneaky extends Uint8Array {
        override set(source: ArrayLike<number>, offset?: number): void {
          called.push('set')
          seen = source as Uint8Array
          super.set(source, offset)
        }

        override get byteLength(): number {
          called.push('byteLength')
          allocator.free(a) // would hand the slot to the next secret before the copy
          return 32
        }

        override get buffer(): ArrayBuffer {
          called.push('buffer')
          return super.buffer
        }
      }
      const out = new Sneaky(32)
      allocator.copyOut(a, out)
      expect(called).toEqual([])
      expect(seen).toBeNull()
      expect(Array.from(out)).toEqual(new Array(32).fill(0x11))
      const source = new Sneaky(32).fill(0x22)
      allocator.copyIn(a, source)
      expect(called).toEqual([])
      expect(a.freed).toBe(false)
      const proxy = new Proxy(new Uint8Array(32), {})
      expectCode(() => allocator.copyOut(a, proxy), 'ERR_INVALID_ARG_TYPE')
      expectCode(() => allocator.copyIn(a, proxy), 'ERR_INVALID_ARG_TYPE')
      const back = new Uint8Array(32)
      allocator.copyOut(victim, back)
      expect(back.every((b) => b === 0x77)).toBe(true)
      allocator.copyOut(a, back)
      expect(back.every((b) => b === 0x22)).toBe(true)
      allocator.free(a)
      allocator.free(victim)
    }
  })

  it('uses the intrinsics found at load: replacing TypedArray set, ArrayBuffer byteLength or the Uint8Array global later sees nothing', () => {
    const slots = new pa.SlotAllocator()
    const a = slots.alloc(16)
    const proto = Object.getPrototypeOf(Uint8Array.prototype) as { set: (...args: unknown[]) => void }
    const realSet = proto.set
    const RealUint8Array = globalThis.Uint8Array
    const byteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength') as PropertyDescriptor
    const captured: unknown[] = []
    slots.copyOut(a, new RealUint8Array(16)) // the page's copy view exists: the next copies check it
    try {
      Object.defineProperty(ArrayBuffer.prototype, 'byteLength', {
        configurable: true,
        get(this: ArrayBuffer) {
          captured.push(this)
          return (byteLength.get as () => number).call(this)
        }
      })
      proto.set = function(this: Uint8Array, ...args: unknown[]) {
        captured.push(this, ...args)
        return Reflect.apply(realSet, this, args)
      }
      globalThis.Uint8Array = new Proxy(RealUint8Array, {
        construct(target, args, newTarget) {
          captured.push(...args)
          return Reflect.construct(target, args, newTarget)
        }
      })
      slots.copyIn(a, new RealUint8Array(16).fill(5))
      slots.copyOut(a, new RealUint8Array(16))
    } finally {
      proto.set = realSet
      globalThis.Uint8Array = RealUint8Array
      Object.defineProperty(ArrayBuffer.prototype, 'byteLength', byteLength)
    }
    expect(captured).toEqual([])
    slots.free(a)
  })

  it('a detached target or source is refused by length, never read or written', () => {
    const slots = new pa.SlotAllocator()
    const a = slots.alloc(16)
    const gone = new Uint8Array(16)
    structuredClone(gone.buffer, { transfer: [gone.buffer] })
    expectCode(() => slots.copyOut(a, gone), 'ERR_INVALID_ARG_VALUE')
    expectCode(() => slots.copyIn(a, gone), 'ERR_INVALID_ARG_VALUE')
    slots.free(a)
  })

  it('copies a large allocation (above the slot sizes) through the page allocator behind', () => {
    const slots = new pa.SlotAllocator()
    const n = 3 * 4096 + 5
    const a = slots.alloc(n)
    const data = Uint8Array.from({ length: n }, (_, i) => i & 255)
    slots.copyIn(a, data)
    const out = new Uint8Array(n)
    slots.copyOut(a, out)
    expect(out).toEqual(data)
    expectCode(() => slots.copyOut(a, new Uint8Array(n - 1)), 'ERR_INVALID_ARG_VALUE')
    slots.free(a)
    expectCode(() => slots.copyOut(a, out), 'ERR_ALLOCATION_FREED')
  })

  it('a free after copyIn still wipes the slot: a fresh allocation of it reads zeros', () => {
    const slots = new pa.SlotAllocator({ quarantine: { frees: 0, bytes: 0 } })
    const a = slots.alloc(32)
    slots.copyIn(a, new Uint8Array(32).fill(0x5a))
    slots.free(a)
    const seen: number[] = []
    for (let i = 0; i < 200; i++) {
      const b = slots.alloc(32)
      const out = new Uint8Array(32)
      slots.copyOut(b, out)
      seen.push(...out)
      slots.free(b)
    }
    expect(seen.includes(0x5a)).toBe(false)
  })
})
