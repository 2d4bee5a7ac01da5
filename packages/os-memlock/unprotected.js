'use strict'
// The unprotected development mode: the os-memlock API in JavaScript, over
// ordinary ArrayBuffers, for developing and testing applications where the
// addon cannot run (macOS, Windows) or where it is not wanted. NOTHING IS
// PROTECTED: memory is not locked, not excluded from dumps or forks, and has
// no guard pages. platform.js chooses it only when asked for.
//
// What it keeps, so that code behaves as in production:
// - arguments are checked as the addon checks them, with the same errors;
// - views are exactly as long as asked, each its own ArrayBuffer, and
//   protect(..., 'none') and unmap() detach every view over the range;
// - page protections are tracked: wipe, fill, copy, equals and view refuse
//   ranges the addon would refuse (ERR_REGION_PROTECTED);
// - wipe zeroes, equals reads every byte;
// - capabilities() are all false, memlockLimit() is 0, and lock() and the
//   protective advices fail as a kernel refusing them would (EPERM, EINVAL), so
//   the layers above report every protection as missing.
//
// A view cannot share memory with the region in JavaScript, so each view is
// a copy kept in step: before the region's bytes are read or written, writes
// made through overlapping views (found by comparing each view with a shadow
// copy) are carried into the region, and afterwards the views are refreshed.
//
// What differs from the addon: a write through one view shows in another view
// of the same bytes only at the next call here that touches them (the
// containers never hold two such views); nothing faults (a view kept across
// 'none' with keepViews stays readable); each call costs time in proportion to
// the live views on the pages it touches.

const { constants } = require('node:os')
const { isArrayBuffer } = require('node:util').types

const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER
const NONE = 0
const READ = 1
const READWRITE = 3
const ACCESS = { none: NONE, read: READ, readwrite: READWRITE }
const REFUSED_ADVICE = new Set(['dontdump', 'wipeonfork', 'dontfork'])
const UNDO_ADVICE = new Set(['dodump', 'keeponfork', 'dofork'])

function fail (Class, code, message) {
  const err = new Class(message)
  err.code = code
  return err
}

/** An OS error as the addon reports one: code, positive errno, syscall. */
function osError (code, syscall, why) {
  const err = new Error(`${syscall} failed: ${code} (${why})`)
  err.code = code
  err.errno = constants.errno[code]
  err.syscall = syscall
  return err
}

/**
 * One mapping: its bytes, one access value per page, and the views handed out,
 * filed under each page they cover (so that an operation looks only at the
 * views of the pages it touches).
 */
class Mapping {
  #tag = true

  constructor (byteLength, pageSize) {
    const pages = byteLength / pageSize
    this.pageSize = pageSize
    this.bytes = new Uint8Array(byteLength)
    this.access = new Uint8Array(pages).fill(READWRITE)
    this.pageViews = Array.from({ length: pages }, () => new Set())
    this.mapped = true
  }

  static is (value) {
    return typeof value === 'object' && value !== null && #tag in value
  }

  /** Index of the first and the last page of a non-empty range. */
  pages (offset, length) {
    return [Math.floor(offset / this.pageSize), Math.floor((offset + length - 1) / this.pageSize)]
  }

  add (view) {
    const [first, last] = this.pages(view.offset, view.length)
    for (let p = first; p <= last; p++) this.pageViews[p].add(view)
  }

  remove (view) {
    const [first, last] = this.pages(view.offset, view.length)
    for (let p = first; p <= last; p++) this.pageViews[p].delete(view)
  }
}

/** A view handed out: its own ArrayBuffer, and a shadow of what the region held when last in step. */
class View {
  constructor (mapping, offset, length) {
    this.mapping = mapping
    this.offset = offset
    this.length = length
    this.buffer = new ArrayBuffer(length)
    this.bytes = new Uint8Array(this.buffer)
    this.shadow = new Uint8Array(length)
  }

  get live () {
    return this.buffer.byteLength === this.length
  }

  overlaps (offset, length) {
    return this.offset < offset + length && offset < this.offset + this.length
  }

  /** Carries the bytes written through this view since the last refresh into the region. */
  flush () {
    const { bytes, shadow } = this
    const region = this.mapping.bytes
    for (let i = 0; i < this.length; i++) {
      if (bytes[i] !== shadow[i]) region[this.offset + i] = bytes[i]
    }
  }

  refresh () {
    const current = this.mapping.bytes.subarray(this.offset, this.offset + this.length)
    this.bytes.set(current)
    this.shadow.set(current)
  }
}

/** Views by their ArrayBuffer, to recognise a typed array over one. */
const viewOf = new WeakMap()

function isDetached (ab) {
  if (typeof ab.detached === 'boolean') return ab.detached // Node 22+
  if (ab.byteLength > 0) return false
  try {
    // Built only to see whether it throws: constructing a view over a detached
    // ArrayBuffer throws, which is how Node 20 tells a detached buffer apart.
    new Uint8Array(ab) // eslint-disable-line no-new
    return false
  } catch {
    return true
  }
}

/** Detaches a plain ArrayBuffer. Throws ERR_INVALID_ARG_VALUE if it cannot be. */
function detachBuffer (ab) {
  const length = ab.byteLength
  if (length === 0 && isDetached(ab)) return
  try {
    if (typeof ab.transfer === 'function') ab.transfer(0)
    else structuredClone(ab, { transfer: [ab] })
  } catch {}
  // A buffer that cannot be detached (WebAssembly memory) throws, or is copied and stays attached.
  const detached = length > 0 ? ab.byteLength === 0 : isDetached(ab)
  if (!detached) throw fail(TypeError, 'ERR_INVALID_ARG_VALUE', 'The ArrayBuffer cannot be detached')
}

function dropView (view) {
  viewOf.delete(view.buffer)
  view.bytes.fill(0)
  view.shadow.fill(0)
  detachBuffer(view.buffer)
}

/** Live views of `mapping` over the range; forgets views detached by anyone else. */
function viewsOver (mapping, offset, length) {
  const found = new Set()
  if (length === 0) return found
  const [first, last] = mapping.pages(offset, length)
  for (let p = first; p <= last; p++) {
    for (const view of mapping.pageViews[p]) {
      if (!view.live) {
        viewOf.delete(view.buffer)
        mapping.remove(view)
      } else if (view.overlaps(offset, length)) {
        found.add(view)
      }
    }
  }
  return found
}

/** Brings the region and its views over the range in step; returns those views. */
function sync (mapping, offset, length) {
  const views = viewsOver(mapping, offset, length)
  for (const view of views) view.flush()
  for (const view of views) view.refresh()
  return views
}

/** Writes the region's bytes over the range with `write`, keeping the views in step. */
function writeRegion (mapping, offset, length, write) {
  const views = sync(mapping, offset, length)
  write(mapping.bytes, offset, length)
  for (const view of views) view.refresh()
}

function create (pageSize) {
  function readSize (value, name) {
    if (typeof value !== 'number') {
      throw fail(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type number`)
    }
    if (!(value >= 0) || value > MAX_SAFE_INTEGER || Math.floor(value) !== value) {
      throw fail(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be an integer >= 0 and <= 2^53 - 1`)
    }
    return value === 0 ? 0 : value
  }

  function readEnum (value, name) {
    if (typeof value !== 'string') throw fail(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type string`)
    return value
  }

  function readFlag (value, name) {
    if (value === undefined) return false
    if (typeof value !== 'boolean') throw fail(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" property must be of type boolean`)
    return value
  }

  function regionOf (value, mustBeMapped) {
    if (!Mapping.is(value)) {
      throw fail(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "region" argument must be a Region created by os-memlock')
    }
    if (mustBeMapped && !value.mapped) throw fail(Error, 'ERR_REGION_UNMAPPED', 'The region has been unmapped')
    return value
  }

  function checkBounds (offset, length, total) {
    if (offset > total || length > total - offset) {
      throw fail(RangeError, 'ERR_OUT_OF_RANGE', 'The range offset + length is outside the region')
    }
  }

  function checkAligned (offset, length) {
    if (offset % pageSize !== 0 || length % pageSize !== 0 || length === 0) {
      throw fail(RangeError, 'ERR_OUT_OF_RANGE', 'offset and length must be multiples of the page size, and length > 0')
    }
  }

  /** A mapped region and a range inside it. */
  function readRange (region, offset, length) {
    const mapping = regionOf(region, true)
    const start = readSize(offset, 'offset')
    const size = readSize(length, 'length')
    checkBounds(start, size, mapping.bytes.length)
    return { mapping, start, size }
  }

  /** The same, page-aligned and not empty (protect, advise). */
  function readPages (region, offset, length) {
    const range = readRange(region, offset, length)
    checkAligned(range.start, range.size)
    return range
  }

  function checkAccess (mapping, offset, length, need) {
    if (length === 0) return
    const last = Math.floor((offset + length - 1) / pageSize)
    for (let page = Math.floor(offset / pageSize); page <= last; page++) {
      if ((mapping.access[page] & need) !== need) {
        throw fail(Error, 'ERR_REGION_PROTECTED', need === READ
          ? "The range is not readable (protected 'none')"
          : "The range is not writable (protected 'none' or 'read')")
      }
    }
  }

  /**
   * A region with (offset, length), or any ArrayBufferView, acting on exactly
   * its own bytes. A typed array over a view of a region is that region.
   * `offsetArg`/`lengthArg` undefined (and `optional`) mean "from 0" / "the rest".
   */
  function readTarget (value, offsetArg, lengthArg, optional) {
    let mapping = null
    let regionOffset = 0
    let total
    let bytes = null
    const isView = ArrayBuffer.isView(value)
    if (isView) {
      total = value.byteLength
      const view = total > 0 ? viewOf.get(value.buffer) : undefined
      if (view !== undefined && view.live) {
        mapping = view.mapping
        regionOffset = view.offset + value.byteOffset
      }
      if (total > 0) bytes = new Uint8Array(value.buffer, value.byteOffset, total)
    } else {
      if (!Mapping.is(value)) throw fail(TypeError, 'ERR_INVALID_ARG_TYPE', 'The target must be a Region or an ArrayBufferView')
      mapping = regionOf(value, true)
      total = mapping.bytes.length
    }
    let offset = 0
    if (!(optional && offsetArg === undefined)) offset = readSize(offsetArg, 'offset')
    if (offset > total) throw fail(RangeError, 'ERR_OUT_OF_RANGE', 'The offset is outside the target')
    let length = total - offset
    if (!(optional && lengthArg === undefined)) length = readSize(lengthArg, 'length')
    checkBounds(offset, length, total)
    return { mapping, bytes, isView, offset, length, regionOffset: regionOffset + offset }
  }

  /**
   * The two targets of copy/equals, `length` bytes each: the first must be
   * readable, the second allow `secondNeeds`.
   */
  function readPair (first, firstOffset, second, secondOffset, length, secondNeeds) {
    readSize(length, 'length')
    const a = readTarget(first, firstOffset, length, false)
    const b = readTarget(second, secondOffset, length, false)
    if (a.mapping !== null) checkAccess(a.mapping, a.regionOffset, a.length, READ)
    if (b.mapping !== null) checkAccess(b.mapping, b.regionOffset, b.length, secondNeeds)
    return [a, b]
  }

  /** The bytes of a target's range, current: a region's are first brought in step with its views. */
  function read (t) {
    if (t.mapping !== null) {
      sync(t.mapping, t.regionOffset, t.length)
      if (t.bytes === null) return t.mapping.bytes.subarray(t.offset, t.offset + t.length)
    }
    return t.length === 0 ? new Uint8Array(0) : t.bytes.subarray(t.offset, t.offset + t.length)
  }

  /** Writes `source` (or zeroes) over a target's range. */
  function write (t, source) {
    if (t.length === 0) return
    if (t.mapping !== null) {
      // through the region, so that every view over it sees the bytes
      writeRegion(t.mapping, t.regionOffset, t.length, (bytes, offset, length) => {
        if (source === null) bytes.fill(0, offset, offset + length)
        else bytes.set(source, offset)
      })
      return
    }
    const target = t.bytes.subarray(t.offset, t.offset + t.length)
    if (source === null) target.fill(0)
    else target.set(source)
  }

  function lockCommon (target, offset, length, onFault, lock) {
    const t = readTarget(target, offset, length, true)
    const fault = lock ? readFlag(onFault, 'options.onFault') : false
    if (t.isView && t.mapping !== null) {
      throw fail(Error, 'ERR_REGION_OWNED', "The view's memory belongs to an os-memlock region: lock and unlock it through " +
        'its region (the layers above count locks per page, and munlock is not counted)')
    }
    if (t.mapping !== null) checkAligned(t.offset, t.length)
    if (t.length === 0 || !lock) return undefined
    throw osError('EPERM', fault ? 'mlock2' : 'mlock', 'unprotected development mode: memory is never locked')
  }

  return {
    pageSize () {
      return pageSize
    },

    capabilities () {
      return { mlock: false, madviseDontDump: false, madviseWipeOnFork: false, madviseDontFork: false, memfdSecret: false, protectionKeys: false }
    },

    memlockLimit () {
      return { soft: 0, hard: 0 }
    },

    map (byteLength, secret) {
      const length = readSize(byteLength, 'byteLength')
      if (length === 0 || length % pageSize !== 0) {
        throw fail(RangeError, 'ERR_OUT_OF_RANGE', 'byteLength must be a positive multiple of the page size')
      }
      if (readFlag(secret, 'options.secret')) {
        throw osError('ENOSYS', 'memfd_secret', 'unprotected development mode: no secret memory')
      }
      try {
        return new Mapping(length, pageSize)
      } catch {
        throw osError('ENOMEM', 'mmap', 'unprotected development mode: the ArrayBuffer could not be allocated')
      }
    },

    unmap (region) {
      const mapping = regionOf(region, true)
      for (const view of viewsOver(mapping, 0, mapping.bytes.length)) {
        mapping.remove(view)
        dropView(view)
      }
      mapping.bytes.fill(0)
      mapping.mapped = false
    },

    isMapped (region) {
      return regionOf(region, false).mapped
    },

    protect (region, offset, length, access, keepViews) {
      const { mapping, start, size } = readPages(region, offset, length)
      const mode = readEnum(access, 'access')
      if (mode === 'keyed') {
        throw fail(Error, 'ERR_UNSUPPORTED', "unprotected development mode: no memory protection key for 'keyed'")
      }
      if (!Object.hasOwn(ACCESS, mode)) {
        throw fail(TypeError, 'ERR_INVALID_ARG_VALUE', "The \"access\" argument must be 'none', 'read', 'readwrite' or 'keyed'")
      }
      const keep = readFlag(keepViews, 'options.keepViews')
      if (ACCESS[mode] === NONE && !keep) {
        const views = viewsOver(mapping, start, size)
        for (const view of views) view.flush() // the bytes stay; only the views go
        for (const view of views) {
          mapping.remove(view)
          dropView(view)
        }
      }
      mapping.access.fill(ACCESS[mode], start / pageSize, (start + size) / pageSize)
    },

    lock (target, offset, length, onFault) {
      return lockCommon(target, offset, length, onFault, true)
    },

    unlock (target, offset, length) {
      return lockCommon(target, offset, length, undefined, false)
    },

    advise (region, offset, length, advice) {
      readPages(region, offset, length)
      const name = readEnum(advice, 'advice')
      if (UNDO_ADVICE.has(name)) return
      if (REFUSED_ADVICE.has(name)) throw osError('EINVAL', 'madvise', `unprotected development mode: no ${name} advice`)
      throw fail(TypeError, 'ERR_INVALID_ARG_VALUE',
        "The \"advice\" argument must be 'dontdump', 'dodump', 'wipeonfork', 'keeponfork', 'dontfork' or 'dofork'")
    },

    wipe (target, offset, length) {
      const t = readTarget(target, offset, length, true)
      if (t.mapping !== null) checkAccess(t.mapping, t.regionOffset, t.length, READWRITE)
      write(t, null)
    },

    fill (region, offset, length, byte) {
      const { mapping, start, size } = readRange(region, offset, length)
      const value = readSize(byte, 'byte')
      if (value > 255) throw fail(RangeError, 'ERR_OUT_OF_RANGE', 'The value of "byte" is out of range. It must be >= 0 and <= 255')
      checkAccess(mapping, start, size, READWRITE)
      if (size > 0) writeRegion(mapping, start, size, (bytes) => bytes.fill(value, start, start + size))
    },

    keyedCopy () {
      throw fail(Error, 'ERR_UNSUPPORTED', 'unprotected development mode: no memory protection key, no page is keyed: use copy()')
    },

    copy (src, srcOffset, dst, dstOffset, length) {
      const [from, to] = readPair(src, srcOffset, dst, dstOffset, length, READWRITE)
      if (from.length > 0) write(to, read(from).slice())
    },

    equals (a, aOffset, b, bOffset, length) {
      const [left, right] = readPair(a, aOffset, b, bOffset, length, READ)
      const x = read(left)
      const y = read(right)
      let diff = 0
      for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i] // every byte, no early exit
      return diff === 0
    },

    remap (region, offset, length, kind) {
      const { mapping, start, size } = readPages(region, offset, length)
      const name = readEnum(kind, 'kind')
      if (name !== 'none' && name !== 'readwrite' && name !== 'secret') {
        throw fail(TypeError, 'ERR_INVALID_ARG_VALUE', "The \"kind\" argument must be 'none', 'readwrite' or 'secret'")
      }
      for (const view of viewsOver(mapping, start, size)) {
        mapping.remove(view)
        dropView(view)
      }
      mapping.bytes.fill(0, start, start + size)
      const refused = name === 'secret'
      mapping.access.fill(name === 'readwrite' ? READWRITE : NONE, start / pageSize, (start + size) / pageSize)
      if (refused) throw osError('ENOSYS', 'memfd_secret', 'unprotected development mode: no secret memory')
    },

    view (region, offset, length) {
      const { mapping, start, size } = readRange(region, offset, length)
      if (size === 0) throw fail(RangeError, 'ERR_OUT_OF_RANGE', 'A view must be at least one byte long')
      checkAccess(mapping, start, size, READ)
      sync(mapping, start, size)
      const view = new View(mapping, start, size)
      view.refresh()
      mapping.add(view)
      viewOf.set(view.buffer, view)
      return view.buffer
    },

    detach (arrayBuffer) {
      if (!isArrayBuffer(arrayBuffer)) {
        throw fail(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "arrayBuffer" argument must be an ArrayBuffer')
      }
      const view = viewOf.get(arrayBuffer)
      if (view !== undefined && view.live && view.mapping.mapped) {
        view.flush() // what was written through it stays in the region, as with the addon
        view.mapping.remove(view)
        dropView(view)
        return
      }
      detachBuffer(arrayBuffer)
    }
  }
}

module.exports = { create }
