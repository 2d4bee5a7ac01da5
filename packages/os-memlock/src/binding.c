/*
 * os-memlock: checked system calls over memory this addon mapped itself.
 *
 * Every export does one system call (or one memory operation) on a range that
 * is bounds-checked here, in C, against a region this file created. There is
 * no policy in this file: no caching, no size classes, no canaries. Those live
 * in TypeScript above.
 *
 * The one invariant kept here, so that no layer above can forget it: a view
 * (ArrayBuffer) handed to JavaScript never stays attached to memory that is
 * unmapped or PROT_NONE. protect(..., "none") and unmap() detach every view
 * overlapping the range first, and wipe/fill/copy/equals/view refuse ranges
 * whose protection would make the access fault.
 *
 * Threads. Worker threads load this file once per thread (one napi_env each)
 * and share its process-wide state: the region registry. The contract:
 *
 * - A region belongs to the thread that mapped it. Its handle and its views
 *   are JavaScript values of that thread (a clone of a handle is a plain
 *   object; a view is copied or refused by postMessage). Only the memory of
 *   a view can leave: transfer() moves it into a new ArrayBuffer that a
 *   transfer list can send to another thread; the owner's teardown then pins
 *   the region instead of unmapping it (check_teardown). Only the owner changes a region:
 *   counts, views, mapped, and the access bytes (written with the registry
 *   write lock held) are the owner's. The owner reads its own fields without
 *   a lock: no other thread writes them.
 * - Any thread may look a pointer up in the registry (a typed array may lie
 *   in some region's memory). The registry lock is a rwlock: a lookup, the
 *   access decision taken from the region it found, and the memory operation
 *   built on that decision all happen under one read lock, so no region is
 *   freed, unmapped or made less accessible in between. map, unmap, protect
 *   and the release of a region take it for writing.
 * - The registry always equals the set of live mappings: an entry is added
 *   after mmap and removed before munmap, both under the write lock, so an
 *   address the kernel hands out again can never match a stale entry. An
 *   entry missing at removal is an integrity failure: one line on stderr,
 *   then abort().
 * - No Node-API call is made with the lock held: Node-API may run a garbage
 *   collection, whose finalizers release regions and take the write lock.
 *   Arguments are read first; errors are thrown after the lock is released.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#define _GNU_SOURCE

#include <node_api.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __linux__
#error "os-memlock supports Linux only"
#endif

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19
#endif

#define MAX_SAFE_INTEGER 9007199254740991.0

enum { ACCESS_NONE = 0, ACCESS_READ = 1, ACCESS_READWRITE = 3 };

typedef struct {
  napi_ref ref; /* weak: the view may be collected; then the ref is empty */
  size_t offset;
  size_t length;
} view_entry;

/*
 * A region outlives its JavaScript handle while views over it may still be
 * alive: each view's finalizer holds one count, the handle holds one. The
 * mapping is released when the last count goes (if unmap() was not called).
 */
typedef struct {
  uint8_t *base;
  size_t length;
  int secret;
  int mapped;
  size_t counts;
  size_t tokens; /* views whose finalizer has not run (counted in counts too) */
  napi_env env;  /* the thread that mapped it */
  int pinned;    /* a view may outlive this thread: replaced by zeros, never unmapped (see view_finalize) */
  uint8_t *access; /* one ACCESS_* byte per page */
  view_entry *views;
  size_t nviews;
  size_t cap;
} region;

/*
 * Every mapped region, sorted by address, for all threads. A typed array may
 * be a view of a region (made by view(), or over its ArrayBuffer): wipe, copy
 * and equals must then honour the region's page protections, and lock/unlock
 * must refuse it, since munlock would unlock every secret sharing the page.
 */
static pthread_rwlock_t registry_lock = PTHREAD_RWLOCK_INITIALIZER;
static region **registry;
static size_t registry_len, registry_cap;

static const napi_type_tag region_tag = {0x7461727369736d6cULL, 0x6f636b2d72656731ULL};

/* Process-wide, set once by process_init (pthread_once): every thread reads them. */
static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static size_t page_size;
static int test_exports;         /* TARSJS_OS_MEMLOCK_TEST=1: registryCount() for tests */
static int simulate_no_external; /* TARSJS_OS_MEMLOCK_SIMULATE_NO_EXTERNAL_BUFFERS=1 */
static char other_copy[PATH_MAX]; /* another copy of this addon already serves the process */

/* Heap metadata that cannot be trusted any more: say so once and stop. */
static void integrity_failure(const char *what) {
  fprintf(stderr, "os-memlock: integrity failure: %s\n", what);
  abort();
}

/* A rwlock call fails only on misuse (EDEADLK, EAGAIN past 2^31 readers): never go on unlocked. */
static void lock_read(void) {
  if (pthread_rwlock_rdlock(&registry_lock) != 0) integrity_failure("registry read lock failed");
}
static void lock_write(void) {
  if (pthread_rwlock_wrlock(&registry_lock) != 0) integrity_failure("registry write lock failed");
}
static void unlock(void) {
  if (pthread_rwlock_unlock(&registry_lock) != 0) integrity_failure("registry unlock failed");
}

/* ---- errors ------------------------------------------------------------- */

static const char *errno_code(int e) {
  switch (e) {
    case ENOMEM: return "ENOMEM";
    case EAGAIN: return "EAGAIN";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EOVERFLOW: return "EOVERFLOW";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, const char *syscall_name, int e) {
  char msg[160];
  napi_value err, code, message, num, sys;
  snprintf(msg, sizeof msg, "%s failed: %s (%s)", syscall_name, errno_code(e), strerror(e));
  if (napi_create_string_utf8(env, errno_code(e), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok ||
      napi_create_error(env, code, message, &err) != napi_ok ||
      napi_create_int32(env, e, &num) != napi_ok ||
      napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &sys) != napi_ok ||
      napi_set_named_property(env, err, "errno", num) != napi_ok ||
      napi_set_named_property(env, err, "syscall", sys) != napi_ok) {
    napi_throw_error(env, errno_code(e), msg);
    return NULL;
  }
  napi_throw(env, err);
  return NULL;
}

#define THROW_TYPE(code, msg) \
  do { napi_throw_type_error(env, code, msg); return NULL; } while (0)
#define THROW_RANGE(code, msg) \
  do { napi_throw_range_error(env, code, msg); return NULL; } while (0)
#define THROW(code, msg) \
  do { napi_throw_error(env, code, msg); return NULL; } while (0)
/* A failed Node-API call leaves an exception pending or is a bug: stop here. */
#define NAPI_CALL(call) \
  do { if ((call) != napi_ok) { throw_napi(env); return NULL; } } while (0)

static void throw_napi(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  napi_throw_error(env, "ERR_NAPI", "os-memlock: a Node-API call failed");
}

#define ARGS(n) \
  size_t argc = n; \
  napi_value argv[n]; \
  NAPI_CALL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL))

/* ---- argument readers (return 0 with an exception pending on failure) ---- */

/* One Node-API call per argument: these run right after system calls, where each costs most. */
static int read_size(napi_env env, napi_value v, const char *name, size_t *out) {
  double d;
  char msg[128];
  napi_status st = napi_get_value_double(env, v, &d);
  if (st == napi_number_expected) {
    snprintf(msg, sizeof msg, "The \"%s\" argument must be of type number", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  if (st != napi_ok) return 0;
  if (!(d >= 0) || d > MAX_SAFE_INTEGER || floor(d) != d || d > (double)SIZE_MAX) {
    snprintf(msg, sizeof msg, "The value of \"%s\" is out of range. It must be an integer >= 0 and <= 2^53 - 1", name);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return 0;
  }
  *out = (size_t)d;
  return 1;
}

static int read_enum(napi_env env, napi_value v, const char *name, char *buf, size_t cap) {
  size_t len;
  char msg[128];
  napi_status st = napi_get_value_string_utf8(env, v, buf, cap, &len);
  if (st == napi_string_expected) {
    snprintf(msg, sizeof msg, "The \"%s\" argument must be of type string", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  if (st != napi_ok) return 0;
  /* An embedded NUL ("none\0x") must not pass as "none": match no value. */
  if (strlen(buf) != len) buf[0] = '\0';
  return 1;
}

/* An optional boolean (index.js passes options.x through): undefined is false. */
static int read_flag(napi_env env, napi_value v, const char *name, bool *out) {
  napi_valuetype t;
  char msg[128];
  *out = false;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_undefined) return 1;
  if (t != napi_boolean) {
    snprintf(msg, sizeof msg, "The \"%s\" property must be of type boolean", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  return napi_get_value_bool(env, v, out) == napi_ok;
}

/* A region handle, given the value's type (`t`, from napi_typeof) already. */
static region *region_of(napi_env env, napi_value v, napi_valuetype t, int must_be_mapped) {
  bool tagged = false;
  region *r = NULL;
  if (t == napi_external && napi_check_object_type_tag(env, v, &region_tag, &tagged) != napi_ok) return NULL;
  if (!tagged || napi_get_value_external(env, v, (void **)&r) != napi_ok || r == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "The \"region\" argument must be a Region created by os-memlock");
    return NULL;
  }
  if (must_be_mapped && !r->mapped) {
    napi_throw_error(env, "ERR_REGION_UNMAPPED", "The region has been unmapped");
    return NULL;
  }
  return r;
}

static region *get_region(napi_env env, napi_value v, int must_be_mapped) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return NULL;
  return region_of(env, v, t, must_be_mapped);
}

/* offset + length must lie inside [0, total]; written so that it cannot overflow. */
static int check_bounds(napi_env env, size_t offset, size_t length, size_t total) {
  if (offset > total || length > total - offset) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "The range offset + length is outside the region");
    return 0;
  }
  return 1;
}

static int check_aligned(napi_env env, size_t offset, size_t length) {
  if (offset % page_size != 0 || length % page_size != 0 || length == 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "offset and length must be multiples of the page size, and length > 0");
    return 0;
  }
  return 1;
}

/*
 * Why an operation on a range is refused. Decided with the registry lock held
 * and thrown by throw_fail once it is released (throwing calls into V8).
 */
enum { FAIL_NONE = 0, FAIL_NOT_READABLE, FAIL_NOT_WRITABLE, FAIL_OWNED, FAIL_PAST_REGION };

static napi_value throw_fail(napi_env env, int fail) {
  switch (fail) {
    case FAIL_NOT_READABLE: THROW("ERR_REGION_PROTECTED", "The range is not readable (protected 'none')");
    case FAIL_NOT_WRITABLE: THROW("ERR_REGION_PROTECTED", "The range is not writable (protected 'none' or 'read')");
    case FAIL_OWNED:
      THROW("ERR_REGION_OWNED", "The view's memory belongs to an os-memlock region: lock and unlock it through "
                                "its region (the layers above count locks per page, and munlock is not counted)");
    default: THROW("ERR_OUT_OF_RANGE", "The view extends past the end of the region holding it");
  }
}

/* Every page of [offset, offset + length) must allow `need` (lock held, or the owner thread). */
static int access_fail(const region *r, size_t offset, size_t length, int need) {
  size_t first, last, p;
  if (length == 0) return FAIL_NONE;
  first = offset / page_size;
  last = (offset + length - 1) / page_size;
  for (p = first; p <= last; p++)
    if ((r->access[p] & need) != need) return need == ACCESS_READ ? FAIL_NOT_READABLE : FAIL_NOT_WRITABLE;
  return FAIL_NONE;
}

/* For the owner thread's own checks, outside the lock. */
static int check_access(napi_env env, region *r, size_t offset, size_t length, int need) {
  int fail = access_fail(r, offset, length, need);
  if (fail != FAIL_NONE) {
    throw_fail(env, fail);
    return 0;
  }
  return 1;
}

/*
 * A "target" is a region with (offset, length) or any ArrayBufferView, acting
 * on exactly its own bytes (offset and length then count within the view).
 * read_target reads the arguments (Node-API, no lock); resolve_target then
 * finds the region under the registry lock.
 */
static region *registry_find(const uint8_t *p);

typedef struct {
  uint8_t *ptr;
  size_t length;
  region *r;            /* the region holding the bytes, or NULL (set by resolve_target for views) */
  size_t offset;        /* offset of ptr within r */
  const uint8_t *vbase; /* a view's first byte, and its byte length */
  size_t vlength;
  int is_view;
} span;

/* Bytes per element of each typed array kind; a kind not listed is refused, never guessed. */
#ifndef NODE_API_HAS_FLOAT16_ARRAY
#define napi_float16_array ((napi_typedarray_type)11) /* js_native_api_types.h of Node 24+ */
#endif
static size_t element_size(napi_typedarray_type tt) {
  switch ((int)tt) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: return 1;
    case napi_int16_array: case napi_uint16_array: case napi_float16_array: return 2;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: return 8;
    default: return 0;
  }
}

static int read_target(napi_env env, napi_value v, napi_value off_v, napi_value len_v, span *out) {
  bool is_ta = false, is_dv = false;
  napi_valuetype t;
  size_t offset = 0, length, total;
  uint8_t *base;
  /* The type first: a region (an external) then needs no other test. */
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_object && (napi_is_typedarray(env, v, &is_ta) != napi_ok || napi_is_dataview(env, v, &is_dv) != napi_ok))
    return 0;
  if (is_ta || is_dv) {
    napi_typedarray_type tt;
    size_t elems, byte_len, size;
    void *data = NULL;
    napi_value ab;
    size_t boff;
    if (is_ta) {
      if (napi_get_typedarray_info(env, v, &tt, &elems, &data, &ab, &boff) != napi_ok) return 0;
      size = element_size(tt);
      if (size == 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "Typed array kind %d is not supported: its element size is unknown", (int)tt);
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
        return 0;
      }
      byte_len = elems * size;
    } else {
      if (napi_get_dataview_info(env, v, &byte_len, &data, &ab, &boff) != napi_ok) return 0;
    }
    base = data;
    total = byte_len;
    out->is_view = 1;
    out->r = NULL;
    out->vbase = base;
    out->vlength = byte_len;
    out->offset = 0;
  } else {
    region *r;
    if (t != napi_external) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "The target must be a Region or an ArrayBufferView");
      return 0;
    }
    r = region_of(env, v, t, 1);
    if (r == NULL) return 0;
    base = r->base;
    total = r->length;
    out->r = r;
    out->is_view = 0;
    out->vbase = NULL;
    out->vlength = 0;
  }
  if (off_v != NULL && !read_size(env, off_v, "offset", &offset)) return 0;
  if (offset > total) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "The offset is outside the target");
    return 0;
  }
  length = total - offset;
  if (len_v != NULL && !read_size(env, len_v, "length", &length)) return 0;
  if (!check_bounds(env, offset, length, total)) return 0;
  out->ptr = base == NULL ? NULL : base + offset;
  out->length = length;
  if (!out->is_view) out->offset = offset;
  return 1;
}

/*
 * With the registry lock held for reading: a view of a region is that region
 * (its protections apply), then the access `need` is checked. Returns FAIL_*.
 */
static int resolve_target(span *s, int need) {
  if (s->is_view) {
    region *r = s->vlength > 0 ? registry_find(s->vbase) : NULL;
    s->r = r;
    if (r == NULL) return FAIL_NONE;
    /* view() never hands out more than its region; a view that ends past it is refused, not trusted. */
    if (s->vlength > r->length - (size_t)(s->vbase - r->base)) return FAIL_PAST_REGION;
    s->offset = s->length == 0 ? 0 : (size_t)(s->ptr - r->base);
  }
  return s->r == NULL ? FAIL_NONE : access_fail(s->r, s->offset, s->length, need);
}

/* Optional trailing arguments: absent or undefined means "the rest". */
static napi_value opt(napi_env env, size_t argc, napi_value *argv, size_t i) {
  napi_valuetype t;
  if (i >= argc || napi_typeof(env, argv[i], &t) != napi_ok || t == napi_undefined) return NULL;
  return argv[i];
}

/* ---- region lifetime ------------------------------------------------------ */

/* First index whose base is above p (registry lock held). */
static size_t registry_upper(const uint8_t *p) {
  size_t lo = 0, hi = registry_len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (registry[mid]->base <= p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Inserts r in address order (write lock held, room for one more). */
static void registry_insert(region *r) {
  size_t i = registry_upper(r->base);
  memmove(registry + i + 1, registry + i, (registry_len - i) * sizeof *registry);
  registry[i] = r;
  registry_len++;
}

/* Room for one more entry (write lock held). Returns 0 when out of memory. */
static int registry_reserve(void) {
  size_t cap;
  region **grown;
  if (registry_len < registry_cap) return 1;
  cap = registry_cap ? registry_cap * 2 : 64;
  grown = realloc(registry, cap * sizeof *grown);
  if (grown == NULL) return 0;
  registry = grown;
  registry_cap = cap;
  return 1;
}

/*
 * Removes r (write lock held). A live region missing from the registry means
 * the bookkeeping no longer matches the mappings: stop rather than guess.
 */
static void registry_remove(region *r) {
  size_t i = registry_upper(r->base);
  if (i == 0 || registry[i - 1] != r) integrity_failure("a mapped region is missing from the region registry");
  memmove(registry + i - 1, registry + i, (registry_len - i) * sizeof *registry);
  registry_len--;
}

/* The mapped region holding p, or NULL (lock held for reading or writing). */
static region *registry_find(const uint8_t *p) {
  size_t i = registry_upper(p);
  if (i > 0 && p < registry[i - 1]->base + registry[i - 1]->length) return registry[i - 1];
  return NULL;
}

/*
 * The last count of a region whose view may live on in another thread. The
 * address range is never given back: a fresh private zero mapping replaces
 * the region in place (MAP_FIXED: one step, no gap another mmap could take),
 * so that view reads and writes zeros, never faults and never meets another
 * secret. The old pages, lock and secretmem go with the replaced mapping; the
 * range is plain memory now, so it leaves the registry.
 */
static void region_pin(region *r) {
  void *p;
  lock_write();
  registry_remove(r);
  p = mmap(r->base, r->length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) {
    /* The old mapping stays in place, untouched (and unreachable for a new mmap). */
    if (mprotect(r->base, r->length, PROT_READ | PROT_WRITE) == 0) explicit_bzero(r->base, r->length);
  }
  r->mapped = 0;
  unlock();
}

/* Drops one count (owner thread). The last one frees the region, and unmaps it if unmap() was not called. */
static void region_release(region *r) {
  if (r->counts == 0) integrity_failure("a region count dropped below zero");
  if (--r->counts > 0) return;
  if (r->mapped && r->pinned) {
    region_pin(r);
  } else if (r->mapped) {
    /* Nothing in JavaScript can reach the memory any more. */
    lock_write();
    registry_remove(r);
    /*
     * Out of the registry first, then unmapped: the address can be handed out
     * again only once no entry names it. munmap of a whole mapping does not
     * fail on Linux; if it did, the pages would stay mapped and unreachable.
     */
    (void)munmap(r->base, r->length);
    r->mapped = 0;
    unlock();
  }
  free(r->access);
  free(r->views);
  free(r);
}

static void region_finalize(napi_env env, void *data, void *hint) {
  region *r = data;
  size_t i;
  (void)hint;
  for (i = 0; i < r->nviews; i++) napi_delete_reference(env, r->views[i].ref);
  r->nviews = 0;
  region_release(r);
}

/*
 * Each view holds one count through a token of its own. Node-API may run a
 * finalizer inside a call that then fails (Node 20 does so for an external
 * ArrayBuffer longer than buffer.constants.MAX_LENGTH, then throws
 * ERR_BUFFER_TOO_LARGE), or not run it at all. js_view marks the token it is
 * creating, so a finalizer run inside the call is recognised and the count is
 * given back exactly once, whatever Node-API did.
 */
typedef struct {
  region *r;
  int returned; /* the count was given back already (a failed creation) */
} view_token;

static __thread view_token *creating;
static __thread int creating_finalized;
static __thread int teardown_checked; /* this thread's regions were checked for views that left */

/*
 * Whether the thread's environment is being torn down: Node-API then refuses
 * to call into JavaScript (checked before the arguments, so the call does
 * nothing either way). It refuses the same way while an exception is
 * pending: then the answer is "maybe" (2), and the caller checks anyway.
 */
static int tearing_down(napi_env env) {
  bool pending = true;
  if (napi_call_function(env, NULL, NULL, 0, NULL, NULL) != napi_pending_exception) return 0;
  return napi_is_exception_pending(env, &pending) == napi_ok && !pending ? 1 : 2;
}

/* Views of r whose ArrayBuffer is alive and attached. */
static size_t attached_views(napi_env env, region *r) {
  size_t i, n = 0;
  for (i = 0; i < r->nviews; i++) {
    napi_value ab = NULL;
    bool detached = true;
    if (napi_get_reference_value(env, r->views[i].ref, &ab) != napi_ok || ab == NULL) continue;
    if (napi_is_detached_arraybuffer(env, ab, &detached) == napi_ok && !detached) n++;
  }
  return n;
}

/*
 * At a thread's teardown Node runs the finalizer of every view still alive
 * (newest first, detaching each just before) without waiting for its memory
 * to be let go. ArrayBuffer.prototype.transfer() and transfer lists can have
 * moved a view's memory into another thread, which would then read unmapped
 * memory, or a new mapping at the same address. So at the first such
 * finalizer every region of the thread is checked: one with more view
 * tokens than views still attached here has a view that left (or one whose
 * finalizer Node had not run yet, or the one being finalized now) and is
 * pinned: region_pin instead of munmap.
 */
static void check_teardown(napi_env env) {
  napi_handle_scope scope = NULL;
  region **mine;
  size_t i, n = 0;
  lock_read();
  mine = malloc((registry_len + 1) * sizeof *mine);
  for (i = 0; i < registry_len; i++) {
    region *r = registry[i];
    if (r->env != env || r->tokens == 0) continue; /* env first: other threads' fields are theirs */
    if (mine != NULL) mine[n++] = r;
    else r->pinned = 1; /* cannot check: pin */
  }
  unlock();
  if (mine == NULL) return;
  /* Only this thread frees its regions, and the calls below run no collection. */
  if (napi_open_handle_scope(env, &scope) != napi_ok) scope = NULL;
  for (i = 0; i < n; i++)
    if (scope == NULL || mine[i]->tokens > attached_views(env, mine[i])) mine[i]->pinned = 1;
  if (scope != NULL && napi_close_handle_scope(env, scope) != napi_ok) integrity_failure("a handle scope did not close");
  free(mine);
}

static void view_finalize(napi_env env, void *data, void *hint) {
  view_token *t = hint;
  (void)data;
  if (t == creating) {
    creating_finalized = 1; /* js_view settles it when the call returns */
    return;
  }
  if (!t->returned) {
    int down = teardown_checked ? 0 : tearing_down(env);
    /* Checked at the first finalizer of a teardown; a "maybe" checks (pinning errs safe) without settling it. */
    if (down != 0) check_teardown(env);
    if (down == 1) teardown_checked = 1;
    t->r->tokens--;
    region_release(t->r);
  }
  free(t);
}

/*
 * Detach views overlapping [offset, offset + length), and drop entries whose
 * view was collected or already detached. Returns 0 with an exception pending.
 */
static int sweep_views(napi_env env, region *r, size_t offset, size_t length) {
  size_t i, kept = 0;
  for (i = 0; i < r->nviews; i++) {
    view_entry *e = &r->views[i];
    napi_value ab = NULL;
    bool detached = true;
    int overlaps = e->offset < offset + length && offset < e->offset + e->length;
    if (napi_get_reference_value(env, e->ref, &ab) != napi_ok) goto fail;
    /* Detaching twice is harmless, so overlapping views need no status check. */
    if (ab != NULL && overlaps) {
      if (napi_detach_arraybuffer(env, ab) != napi_ok) goto fail;
    } else if (ab != NULL && napi_is_detached_arraybuffer(env, ab, &detached) != napi_ok) {
      goto fail;
    }
    if (ab == NULL || detached) {
      if (napi_delete_reference(env, e->ref) != napi_ok) goto fail;
      continue;
    }
    r->views[kept++] = *e;
  }
  r->nviews = kept;
  return 1;
fail:
  /* Keep the list whole: entries from i on are still live and unvisited. */
  memmove(r->views + kept, r->views + i, (r->nviews - i) * sizeof *r->views);
  r->nviews = kept + (r->nviews - i);
  return 0;
}

/* ---- exports ---------------------------------------------------------------- */

static napi_value js_page_size(napi_env env, napi_callback_info info) {
  napi_value out;
  (void)info;
  NAPI_CALL(napi_create_uint32(env, (uint32_t)page_size, &out));
  return out;
}

static int probe_advice(uint8_t *page, int advice) {
  return madvise(page, page_size, advice) == 0;
}

/*
 * The kernel's answers, probed once per process (pthread_once: worker threads
 * may ask at the same time). probe_errno is the errno of a failed probe mmap.
 */
static bool caps[5];
static int probe_errno;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void probe_kernel(void) {
  uint8_t *page = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  long fd;
  if (page == MAP_FAILED) {
    probe_errno = errno;
    return;
  }
  caps[0] = mlock(page, page_size) == 0;
  if (caps[0] && munlock(page, page_size) != 0) caps[0] = false;
  caps[1] = probe_advice(page, MADV_DONTDUMP);
  caps[2] = probe_advice(page, MADV_WIPEONFORK);
  caps[3] = probe_advice(page, MADV_DONTFORK);
  if (munmap(page, page_size) != 0) integrity_failure("munmap of a probe page failed");
  fd = syscall(SYS_memfd_secret, (unsigned int)O_CLOEXEC);
  caps[4] = fd >= 0;
  if (fd >= 0 && close((int)fd) != 0) caps[4] = false;
}

static napi_value throw_no_external(napi_env env) {
  THROW("ERR_EXTERNAL_BUFFERS_UNAVAILABLE",
        "This runtime does not allow external ArrayBuffers (for example Electron's or V8's sandbox); "
        "os-memlock cannot hand out views of protected memory here");
}

/*
 * Whether this runtime hands out external ArrayBuffers: one over a static
 * byte, detached at once (asked on every call; the runtime may differ per
 * embedder, and it costs one allocation).
 */
static int probe_external(napi_env env, bool *out) {
  static uint8_t probe_byte;
  napi_value ab;
  napi_status st;
  *out = false;
  if (simulate_no_external) return 1;
  st = napi_create_external_arraybuffer(env, &probe_byte, 1, NULL, NULL, &ab);
  if (st == napi_no_external_buffers_allowed) return 1;
  if (st != napi_ok || napi_detach_arraybuffer(env, ab) != napi_ok) return 0;
  *out = true;
  return 1;
}

static napi_value js_capabilities(napi_env env, napi_callback_info info) {
  static const char *names[5] = {"mlock", "madviseDontDump", "madviseWipeOnFork", "madviseDontFork", "memfdSecret"};
  napi_value out, b;
  bool external;
  size_t i;
  (void)info;
  if (pthread_once(&probe_once, probe_kernel) != 0) integrity_failure("pthread_once failed");
  if (probe_errno != 0) return throw_errno(env, "mmap", probe_errno);
  NAPI_CALL(napi_create_object(env, &out));
  for (i = 0; i < 5; i++) {
    NAPI_CALL(napi_get_boolean(env, caps[i], &b));
    NAPI_CALL(napi_set_named_property(env, out, names[i], b));
  }
  if (!probe_external(env, &external)) {
    throw_napi(env);
    return NULL;
  }
  NAPI_CALL(napi_get_boolean(env, external, &b));
  NAPI_CALL(napi_set_named_property(env, out, "externalBuffers", b));
  return out;
}

static napi_value limit_value(napi_env env, rlim_t v) {
  napi_value out;
  if (v == RLIM_INFINITY) NAPI_CALL(napi_create_double(env, INFINITY, &out));
  else NAPI_CALL(napi_create_double(env, (double)v, &out));
  return out;
}

static napi_value js_memlock_limit(napi_env env, napi_callback_info info) {
  struct rlimit rl;
  napi_value out, soft, hard;
  (void)info;
  if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0) return throw_errno(env, "getrlimit", errno);
  NAPI_CALL(napi_create_object(env, &out));
  if ((soft = limit_value(env, rl.rlim_cur)) == NULL) return NULL;
  if ((hard = limit_value(env, rl.rlim_max)) == NULL) return NULL;
  NAPI_CALL(napi_set_named_property(env, out, "soft", soft));
  NAPI_CALL(napi_set_named_property(env, out, "hard", hard));
  return out;
}

/* Maps with memfd_secret(2): close-on-exec, and the fd is closed once mapped. */
static uint8_t *map_secret(napi_env env, size_t length) {
  long fd = syscall(SYS_memfd_secret, (unsigned int)O_CLOEXEC);
  uint8_t *p;
  int e;
  if (fd < 0) {
    throw_errno(env, "memfd_secret", errno);
    return NULL;
  }
  if (ftruncate((int)fd, (off_t)length) != 0) {
    e = errno;
    close((int)fd);
    throw_errno(env, "ftruncate", e);
    return NULL;
  }
  p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
  e = errno;
  if (close((int)fd) != 0 && p != MAP_FAILED) {
    e = errno;
    munmap(p, length);
    p = MAP_FAILED;
  }
  if (p == MAP_FAILED) {
    throw_errno(env, "mmap", e);
    return NULL;
  }
  return p;
}

static napi_value js_map(napi_env env, napi_callback_info info) {
  ARGS(2);
  size_t length;
  bool secret = false;
  region *r;
  uint8_t *p;
  napi_value out;
  if (!read_size(env, argv[0], "byteLength", &length)) return NULL;
  if (length == 0 || length % page_size != 0)
    THROW_RANGE("ERR_OUT_OF_RANGE", "byteLength must be a positive multiple of the page size");
  if (!read_flag(env, argv[1], "options.secret", &secret)) return NULL;
  r = calloc(1, sizeof *r);
  if (r == NULL) return throw_errno(env, "malloc", ENOMEM);
  r->access = malloc(length / page_size);
  if (r->access == NULL) {
    free(r);
    return throw_errno(env, "malloc", ENOMEM);
  }
  if (secret) {
    p = map_secret(env, length);
  } else {
    p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      throw_errno(env, "mmap", errno);
      p = NULL;
    }
  }
  if (p == NULL) {
    free(r->access);
    free(r);
    return NULL;
  }
  r->base = p;
  r->length = length;
  r->secret = secret;
  r->mapped = 1;
  r->counts = 1;
  r->env = env;
  memset(r->access, ACCESS_READWRITE, length / page_size);
  lock_write();
  if (!registry_reserve()) {
    unlock();
    if (munmap(p, length) != 0) integrity_failure("munmap of a fresh mapping failed");
    free(r->access);
    free(r);
    return throw_errno(env, "malloc", ENOMEM);
  }
  registry_insert(r);
  unlock();
  /*
   * The handle is a type-tagged external: reading it back is an internal-field
   * load, where an object wrap costs two private-property lookups per call,
   * and those are slow right after an mprotect (measured: ~0.3 us each).
   * index.js wraps it in a frozen Region object with byteLength and secret.
   */
  if (napi_create_external(env, r, region_finalize, NULL, &out) != napi_ok) {
    lock_write();
    registry_remove(r);
    if (munmap(p, length) != 0) integrity_failure("munmap of a fresh mapping failed");
    unlock();
    free(r->access);
    free(r);
    throw_napi(env);
    return NULL;
  }
  /*
   * From here the external owns the region's one count: if tagging fails, the
   * handle is never returned and its finalizer unmaps the region when the
   * garbage collector takes it, as for any dropped handle.
   */
  NAPI_CALL(napi_type_tag_object(env, out, &region_tag));
  return out;
}

static napi_value js_unmap(napi_env env, napi_callback_info info) {
  ARGS(1);
  region *r = get_region(env, argv[0], 1);
  if (r == NULL) return NULL;
  if (!sweep_views(env, r, 0, r->length)) return NULL;
  /* Out of the registry before munmap, under the write lock: no thread may match a freed address. */
  lock_write();
  registry_remove(r);
  if (munmap(r->base, r->length) != 0) {
    int e = errno;
    registry_insert(r); /* the slot just freed: no allocation, cannot fail */
    unlock();
    return throw_errno(env, "munmap", e);
  }
  r->mapped = 0;
  unlock();
  return NULL;
}

/*
 * remap(region, offset, length, kind): fresh memory over a page-aligned range
 * of the region, in place (MAP_FIXED), replacing what was there:
 * - "none": anonymous PROT_NONE memory. Nothing is charged to RLIMIT_MEMLOCK
 *   and neighbouring PROT_NONE pages merge into one kernel mapping again.
 * - "readwrite": anonymous zero pages, read-write and not locked.
 * - "secret": a memfd_secret(2) mapping, read-write; the kernel charges only
 *   this range to RLIMIT_MEMLOCK, so guard pages around it cost nothing.
 * Every view over the range is detached first: the bytes behind it go. The
 * region (and so the registry) is unchanged; only the range's pages are new.
 * If the kernel refuses, the range is recorded as 'none' (no access is made
 * through it until a later remap or protect succeeds).
 */
static uint8_t *remap_fixed(uint8_t *addr, size_t length, int kind, int *e, const char **sys) {
  long fd;
  uint8_t *p, *tmp;
  *sys = "mmap";
  if (kind != 2) {
    p = mmap(addr, length, kind == 1 ? PROT_READ | PROT_WRITE : PROT_NONE,
             MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *e = errno;
    return p;
  }
  fd = syscall(SYS_memfd_secret, (unsigned int)O_CLOEXEC);
  if (fd < 0) {
    *e = errno;
    *sys = "memfd_secret";
    return MAP_FAILED;
  }
  if (ftruncate((int)fd, (off_t)length) != 0) {
    *e = errno;
    *sys = "ftruncate";
    close((int)fd);
    return MAP_FAILED;
  }
  /*
   * Mapped elsewhere first, then moved over the range: the kernel refuses a
   * secretmem mapping over RLIMIT_MEMLOCK only inside mmap, and a MAP_FIXED
   * mmap refused there leaves a hole where the old pages were. mremap checks
   * its limits before it unmaps the destination, so a refusal leaves the range
   * as it was.
   */
  tmp = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
  *e = errno;
  /* The mapping holds the file: a failed close changes nothing about the memory. */
  if (close((int)fd) != 0 && tmp == MAP_FAILED) *e = errno;
  if (tmp == MAP_FAILED) return MAP_FAILED;
  p = mremap(tmp, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, addr);
  if (p == MAP_FAILED) {
    *e = errno;
    *sys = "mremap";
    if (munmap(tmp, length) != 0) integrity_failure("munmap of an unplaced secret mapping failed");
  }
  return p;
}

static napi_value js_remap(napi_env env, napi_callback_info info) {
  ARGS(4);
  region *r = get_region(env, argv[0], 1);
  size_t offset, length;
  char name[16];
  int kind, e = 0;
  const char *sys = "mmap";
  uint8_t *p;
  if (r == NULL || !read_size(env, argv[1], "offset", &offset) || !read_size(env, argv[2], "length", &length) ||
      !check_bounds(env, offset, length, r->length) || !check_aligned(env, offset, length) ||
      !read_enum(env, argv[3], "kind", name, sizeof name))
    return NULL;
  if (strcmp(name, "none") == 0) kind = 0;
  else if (strcmp(name, "readwrite") == 0) kind = 1;
  else if (strcmp(name, "secret") == 0) kind = 2;
  else THROW_TYPE("ERR_INVALID_ARG_VALUE", "The \"kind\" argument must be 'none', 'readwrite' or 'secret'");
  if (!sweep_views(env, r, offset, length)) return NULL;
  /* Written lock: the pages change under any thread that looked this region up. */
  lock_write();
  p = remap_fixed(r->base + offset, length, kind, &e, &sys);
  if (p != MAP_FAILED && p != r->base + offset) integrity_failure("mmap(MAP_FIXED) placed memory elsewhere");
  memset(r->access + offset / page_size, p == MAP_FAILED || kind == 0 ? ACCESS_NONE : ACCESS_READWRITE, length / page_size);
  unlock();
  if (p == MAP_FAILED) return throw_errno(env, sys, e);
  return NULL;
}

static napi_value js_is_mapped(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_value out;
  region *r = get_region(env, argv[0], 0);
  if (r == NULL) return NULL;
  NAPI_CALL(napi_get_boolean(env, r->mapped, &out));
  return out;
}

/*
 * protect(region, offset, length, access[, { keepViews: true }]). keepViews is
 * the one, named, opt-out of the view invariant: libsodium-compatible buffers
 * must survive noaccess -> readwrite, and touching them while no-access faults
 * as it does in libsodium. Nothing else in tarsjs passes it.
 */
static napi_value js_protect(napi_env env, napi_callback_info info) {
  ARGS(5);
  region *r = get_region(env, argv[0], 1);
  size_t offset, length;
  char mode[16];
  int prot, access;
  bool keep_views = false;
  if (r == NULL || !read_size(env, argv[1], "offset", &offset) || !read_size(env, argv[2], "length", &length) ||
      !check_bounds(env, offset, length, r->length) || !check_aligned(env, offset, length) ||
      !read_enum(env, argv[3], "access", mode, sizeof mode))
    return NULL;
  if (strcmp(mode, "none") == 0) {
    prot = PROT_NONE;
    access = ACCESS_NONE;
  } else if (strcmp(mode, "read") == 0) {
    prot = PROT_READ;
    access = ACCESS_READ;
  } else if (strcmp(mode, "readwrite") == 0) {
    prot = PROT_READ | PROT_WRITE;
    access = ACCESS_READWRITE;
  } else {
    THROW_TYPE("ERR_INVALID_ARG_VALUE", "The \"access\" argument must be 'none', 'read' or 'readwrite'");
  }
  if (!read_flag(env, argv[4], "options.keepViews", &keep_views)) return NULL;
  /* Views go first: none may outlive the readability of its memory. */
  if (access == ACCESS_NONE && !keep_views && !sweep_views(env, r, offset, length)) return NULL;
  /* Written lock: no other thread may be between its access decision and its memory operation. */
  lock_write();
  if (mprotect(r->base + offset, length, prot) != 0) {
    int e = errno;
    unlock();
    return throw_errno(env, "mprotect", e);
  }
  memset(r->access + offset / page_size, access, length / page_size);
  unlock();
  return NULL;
}

/* lock / unlock: a region (page-aligned range) or any ArrayBufferView. */
static napi_value lock_common(napi_env env, napi_callback_info info, int lock) {
  ARGS(4);
  span s;
  bool on_fault = false;
  int fail, rc = 0, e = 0;
  if (!read_target(env, argv[0], opt(env, argc, argv, 1), opt(env, argc, argv, 2), &s)) return NULL;
  if (lock && !read_flag(env, argv[3], "options.onFault", &on_fault)) return NULL;
  if (!s.is_view && !check_aligned(env, s.offset, s.length)) return NULL;
  lock_read();
  fail = resolve_target(&s, ACCESS_NONE);
  /* A view into a region: munlock would unlock every secret sharing its pages. */
  if (fail == FAIL_NONE && s.is_view && s.r != NULL) fail = FAIL_OWNED;
  /*
   * MLOCK_ONFAULT locks each page when it is first touched instead of faulting
   * every page in now. It also spares mprotect the populate pass it runs each
   * time a locked range becomes writable again; callers that need every page
   * resident touch the range themselves.
   */
  if (fail == FAIL_NONE && s.length > 0) {
    if (!lock) rc = munlock(s.ptr, s.length);
    else if (on_fault) rc = mlock2(s.ptr, s.length, MLOCK_ONFAULT);
    else rc = mlock(s.ptr, s.length);
    e = errno;
  }
  unlock();
  if (fail != FAIL_NONE) return throw_fail(env, fail);
  if (rc != 0) return throw_errno(env, !lock ? "munlock" : on_fault ? "mlock2" : "mlock", e);
  return NULL;
}

static napi_value js_lock(napi_env env, napi_callback_info info) { return lock_common(env, info, 1); }
static napi_value js_unlock(napi_env env, napi_callback_info info) { return lock_common(env, info, 0); }

static napi_value js_advise(napi_env env, napi_callback_info info) {
  ARGS(4);
  region *r = get_region(env, argv[0], 1);
  size_t offset, length;
  char name[16];
  int advice;
  if (r == NULL || !read_size(env, argv[1], "offset", &offset) || !read_size(env, argv[2], "length", &length) ||
      !check_bounds(env, offset, length, r->length) || !check_aligned(env, offset, length) ||
      !read_enum(env, argv[3], "advice", name, sizeof name))
    return NULL;
  /* One advice per call: MADV_* values are an enum, not flags. */
  if (strcmp(name, "dontdump") == 0) advice = MADV_DONTDUMP;
  else if (strcmp(name, "dodump") == 0) advice = MADV_DODUMP;
  else if (strcmp(name, "wipeonfork") == 0) advice = MADV_WIPEONFORK;
  else if (strcmp(name, "keeponfork") == 0) advice = MADV_KEEPONFORK;
  else if (strcmp(name, "dontfork") == 0) advice = MADV_DONTFORK;
  else if (strcmp(name, "dofork") == 0) advice = MADV_DOFORK;
  else THROW_TYPE("ERR_INVALID_ARG_VALUE",
                  "The \"advice\" argument must be 'dontdump', 'dodump', 'wipeonfork', 'keeponfork', 'dontfork' or 'dofork'");
  if (madvise(r->base + offset, length, advice) != 0) return throw_errno(env, "madvise", errno);
  return NULL;
}

static napi_value js_wipe(napi_env env, napi_callback_info info) {
  ARGS(3);
  span s;
  int fail;
  if (!read_target(env, argv[0], opt(env, argc, argv, 1), opt(env, argc, argv, 2), &s)) return NULL;
  lock_read();
  fail = resolve_target(&s, ACCESS_READWRITE);
  /* explicit_bzero: a store the compiler may not drop as dead. */
  if (fail == FAIL_NONE && s.length > 0) explicit_bzero(s.ptr, s.length);
  unlock();
  if (fail != FAIL_NONE) return throw_fail(env, fail);
  return NULL;
}

static napi_value js_fill(napi_env env, napi_callback_info info) {
  ARGS(4);
  region *r = get_region(env, argv[0], 1);
  size_t offset, length, byte;
  int fail;
  if (r == NULL || !read_size(env, argv[1], "offset", &offset) || !read_size(env, argv[2], "length", &length) ||
      !check_bounds(env, offset, length, r->length) || !read_size(env, argv[3], "byte", &byte))
    return NULL;
  if (byte > 255) THROW_RANGE("ERR_OUT_OF_RANGE", "The value of \"byte\" is out of range. It must be >= 0 and <= 255");
  lock_read();
  fail = access_fail(r, offset, length, ACCESS_READWRITE);
  if (fail == FAIL_NONE) memset(r->base + offset, (int)byte, length);
  unlock();
  if (fail != FAIL_NONE) return throw_fail(env, fail);
  return NULL;
}

/* copy(src, srcOffset, dst, dstOffset, length): memory to memory, never via the JS heap. */
static napi_value js_copy(napi_env env, napi_callback_info info) {
  ARGS(5);
  span src, dst;
  size_t length;
  int fail;
  if (!read_size(env, argv[4], "length", &length) || !read_target(env, argv[0], argv[1], argv[4], &src) || !read_target(env, argv[2], argv[3], argv[4], &dst))
    return NULL;
  lock_read();
  fail = resolve_target(&src, ACCESS_READ);
  if (fail == FAIL_NONE) fail = resolve_target(&dst, ACCESS_READWRITE);
  if (fail == FAIL_NONE && length > 0) memmove(dst.ptr, src.ptr, length);
  unlock();
  if (fail != FAIL_NONE) return throw_fail(env, fail);
  return NULL;
}

/* Constant time in the length: every byte is read, no early exit. */
static napi_value js_equals(napi_env env, napi_callback_info info) {
  ARGS(5);
  span a, b;
  size_t length, i;
  volatile uint8_t d = 0;
  const volatile uint8_t *pa, *pb;
  napi_value out;
  int fail;
  if (!read_size(env, argv[4], "length", &length) || !read_target(env, argv[0], argv[1], argv[4], &a) || !read_target(env, argv[2], argv[3], argv[4], &b)) return NULL;
  lock_read();
  fail = resolve_target(&a, ACCESS_READ);
  if (fail == FAIL_NONE) fail = resolve_target(&b, ACCESS_READ);
  if (fail == FAIL_NONE) {
    pa = a.ptr;
    pb = b.ptr;
    for (i = 0; i < length; i++) d |= pa[i] ^ pb[i];
  }
  unlock();
  if (fail != FAIL_NONE) return throw_fail(env, fail);
  NAPI_CALL(napi_get_boolean(env, d == 0, &out));
  return out;
}

static napi_value js_view(napi_env env, napi_callback_info info) {
  ARGS(3);
  region *r = get_region(env, argv[0], 1);
  size_t offset, length;
  napi_value ab = NULL;
  napi_ref ref;
  napi_status st;
  view_token *token;
  if (r == NULL || !read_size(env, argv[1], "offset", &offset) || !read_size(env, argv[2], "length", &length) ||
      !check_bounds(env, offset, length, r->length))
    return NULL;
  if (length == 0) THROW_RANGE("ERR_OUT_OF_RANGE", "A view must be at least one byte long");
  /* Only this thread changes r->access (see the thread contract): no lock needed to read it. */
  if (!check_access(env, r, offset, length, ACCESS_READ)) return NULL;
  if (simulate_no_external) return throw_no_external(env);
  if (r->nviews == r->cap) {
    /* Drop collected and detached entries before growing: amortised O(1). */
    if (!sweep_views(env, r, 0, 0)) return NULL;
    if (r->nviews * 2 >= r->cap) {
      size_t cap = r->cap ? r->cap * 2 : 8;
      view_entry *grown = realloc(r->views, cap * sizeof *grown);
      if (grown == NULL) return throw_errno(env, "malloc", ENOMEM);
      r->views = grown;
      r->cap = cap;
    }
  }
  token = malloc(sizeof *token);
  if (token == NULL) return throw_errno(env, "malloc", ENOMEM);
  token->r = r;
  token->returned = 0;
  r->counts++; /* the token's; the handle in argv[0] holds another, so r outlives this call */
  r->tokens++;
  creating = token;
  creating_finalized = 0;
  st = napi_create_external_arraybuffer(env, r->base + offset, length, view_finalize, token, &ab);
  creating = NULL;
  if (creating_finalized) {
    /* The finalizer ran inside the call and will not run again: settle the token here. */
    r->tokens--;
    region_release(r);
    free(token);
    if (st == napi_ok) {
      /* A buffer whose finalizer already ran must not stay attached to the memory. */
      if (napi_detach_arraybuffer(env, ab) != napi_ok) integrity_failure("a view without a count stayed attached");
      THROW("ERR_NAPI", "os-memlock: Node-API finalized a view it returned");
    }
  } else if (st != napi_ok) {
    /*
     * Node checks for external buffers before creating anything, so nothing
     * holds the token. After any other failure a finalizer may or may not
     * come: give the count back now and leave the token to it.
     */
    r->tokens--;
    region_release(r);
    if (st == napi_no_external_buffers_allowed) {
      free(token);
      return throw_no_external(env);
    }
    token->returned = 1;
  }
  if (st != napi_ok) {
    throw_napi(env);
    return NULL;
  }
  if (napi_create_reference(env, ab, 0, &ref) != napi_ok) {
    /* An untracked view would survive protect('none'): detach it; its finalizer gives the count back. */
    if (napi_detach_arraybuffer(env, ab) != napi_ok) integrity_failure("an untracked view could not be detached");
    throw_napi(env);
    return NULL;
  }
  r->views[r->nviews].ref = ref;
  r->views[r->nviews].offset = offset;
  r->views[r->nviews].length = length;
  r->nviews++;
  return ab;
}

/*
 * Only a view handed out by view() (or a buffer that took over one's memory,
 * as ArrayBuffer.prototype.transfer() does) may be detached here: detaching
 * Node's shared Buffer pool or a caller's own ArrayBuffer would break every
 * user of it. Detaching a detached buffer changes nothing.
 */
static napi_value js_detach(napi_env env, napi_callback_info info) {
  ARGS(1);
  bool is_ab = false, detached = false;
  void *data = NULL;
  size_t length = 0;
  region *r = NULL;
  NAPI_CALL(napi_is_arraybuffer(env, argv[0], &is_ab));
  if (!is_ab) THROW_TYPE("ERR_INVALID_ARG_TYPE", "The \"arrayBuffer\" argument must be an ArrayBuffer");
  NAPI_CALL(napi_is_detached_arraybuffer(env, argv[0], &detached));
  if (detached) return NULL;
  NAPI_CALL(napi_get_arraybuffer_info(env, argv[0], &data, &length));
  if (length > 0) {
    lock_read();
    r = registry_find(data);
    if (r != NULL && length > r->length - (size_t)((uint8_t *)data - r->base)) r = NULL;
    unlock();
  }
  /* r is not read after the lock is released: only whether the memory lay in a region. */
  if (r == NULL)
    THROW_TYPE("ERR_INVALID_ARG_VALUE", "The ArrayBuffer is not a view of an os-memlock region; only those are detached");
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) {
    bool pending = false;
    NAPI_CALL(napi_is_exception_pending(env, &pending));
    if (!pending) THROW_TYPE("ERR_INVALID_ARG_VALUE", "The ArrayBuffer cannot be detached");
    return NULL;
  }
  return NULL;
}

static napi_value js_registry_count(napi_env env, napi_callback_info info) {
  napi_value out;
  size_t n;
  (void)info;
  lock_read();
  n = registry_len;
  unlock();
  NAPI_CALL(napi_create_double(env, (double)n, &out));
  return out;
}

#define EXPORT(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

static int env_is_one(const char *name) {
  const char *v = getenv(name);
  return v != NULL && strcmp(v, "1") == 0;
}

/*
 * One copy of this addon per process. Two copies (a package manager nesting a
 * second os-memlock) would keep two registries, each taking the other's
 * memory for plain memory: munlock through one would unlock the other's
 * secrets. The first copy to load writes "pid:path-of-its-binary" into the
 * environment, which every copy in the process sees; a copy at another path
 * in the same process refuses to load. Worker threads load the same binary
 * (one dlopen, one set of statics) and are not affected; a child process has
 * another pid, so an inherited value is replaced, not obeyed.
 */
#define INSTANCE_VAR "TARSJS_OS_MEMLOCK_INSTANCE"

static void claim_process(void) {
  Dl_info self;
  char mine[PATH_MAX + 32];
  const char *seen = getenv(INSTANCE_VAR), *colon;
  if (dladdr((void *)claim_process, &self) == 0 || self.dli_fname == NULL) return; /* cannot tell: no claim */
  if (snprintf(mine, sizeof mine, "%ld:%s", (long)getpid(), self.dli_fname) >= (int)sizeof mine) return;
  if (seen != NULL && (colon = strchr(seen, ':')) != NULL && strtol(seen, NULL, 10) == (long)getpid()) {
    if (strcmp(seen, mine) != 0) snprintf(other_copy, sizeof other_copy, "%s", colon + 1);
    return;
  }
  /*
   * Runs once, at this copy's first load, before it hands out anything. If the
   * environment cannot take the value (ENOMEM), a later copy cannot see the
   * claim; nothing else depends on it.
   */
  (void)setenv(INSTANCE_VAR, mine, 1);
}

/*
 * Once per process, on the first thread that loads this copy of the addon.
 * The test switches are read here, at load, and never again.
 */
static void process_init(void) {
  long ps = sysconf(_SC_PAGESIZE);
  page_size = ps > 0 ? (size_t)ps : 0;
  test_exports = env_is_one("TARSJS_OS_MEMLOCK_TEST");
  simulate_no_external = env_is_one("TARSJS_OS_MEMLOCK_SIMULATE_NO_EXTERNAL_BUFFERS");
  claim_process();
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      EXPORT("pageSize", js_page_size),   EXPORT("capabilities", js_capabilities),
      EXPORT("memlockLimit", js_memlock_limit), EXPORT("map", js_map),
      EXPORT("unmap", js_unmap),          EXPORT("isMapped", js_is_mapped),
      EXPORT("protect", js_protect),      EXPORT("lock", js_lock),
      EXPORT("unlock", js_unlock),        EXPORT("advise", js_advise),
      EXPORT("wipe", js_wipe),            EXPORT("fill", js_fill),
      EXPORT("copy", js_copy),            EXPORT("equals", js_equals),
      EXPORT("view", js_view),            EXPORT("detach", js_detach),
      EXPORT("remap", js_remap),
      EXPORT("registryCount", js_registry_count),
  };
  size_t n = sizeof props / sizeof props[0];
  if (pthread_once(&process_once, process_init) != 0) integrity_failure("pthread_once failed");
  if (page_size == 0) {
    throw_errno(env, "sysconf", EINVAL);
    return NULL;
  }
  if (other_copy[0] != '\0') {
    char msg[PATH_MAX + 200];
    snprintf(msg, sizeof msg,
             "Another copy of @tarsjs/os-memlock is loaded in this process (%s): two copies would keep two "
             "region registries. Install one version (let the package manager dedupe it)", other_copy);
    napi_throw_error(env, "ERR_DUPLICATE_NATIVE_INSTANCE", msg);
    return NULL;
  }
  /* registryCount is last: exported for tests only. */
  NAPI_CALL(napi_define_properties(env, exports, test_exports ? n : n - 1, props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
