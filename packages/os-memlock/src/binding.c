/*
 * os-memlock: checked system calls over memory this addon mapped itself.
 *
 * Every export has one shape: read and validate its arguments (bounds,
 * alignment, the region handle's type tag, registry membership, access
 * rights), make one system call (or one memory operation) on a range that
 * lies inside a region this file created, check its result, return. There is
 * no policy here: no caching, no size classes, no canaries. Those live in
 * TypeScript above.
 *
 * The one invariant kept here, so that no layer above can forget it: a view
 * (ArrayBuffer) handed to JavaScript never stays attached to memory that is
 * unmapped or PROT_NONE. protect(..., "none") and unmap() detach every view
 * overlapping the range first, and wipe/fill/copy/equals/view refuse ranges
 * whose protection would make the access fault.
 *
 * Thread contract. Worker threads load this file once per thread (one
 * napi_env each) and share its process-wide state.
 *
 * - What is shared, and what guards it:
 *   - page_size, simulate_no_external, other_copy: written once
 *     by process_init under pthread_once, read-only afterwards.
 *   - caps, probe_errno: written once by probe_kernel under pthread_once.
 *   - registry_lock (a rwlock) guards registry, registry_len, registry_cap,
 *     every region's `access` bytes and `mapped` flag, and which pages are
 *     mapped with which protection. Anything that changes them (map, unmap,
 *     remap, protect, the release or pinning of a region) holds it for
 *     writing; lock, unlock, wipe, fill, copy, equals and detach hold it for
 *     reading. A lookup of a pointer in the registry, the access
 *     decision taken from the region found, and the memory operation built on
 *     that decision all happen under one read lock, so no region is freed,
 *     unmapped or made less accessible in between.
 *   - creating, creating_finalized, teardown_checked: thread-local (__thread).
 * - A region belongs to the thread that mapped it (r->env). Its handle and
 *   views are JavaScript values of that thread (a clone of a handle is a plain
 *   object; a view is copied or refused by postMessage). Only the memory of a
 *   view can leave: transfer() moves it into a new ArrayBuffer that a transfer
 *   list can send elsewhere; the owner's teardown then pins the region instead
 *   of unmapping it (check_teardown). Only the owner changes a region: counts,
 *   tokens, views, pinned, and (under the write lock) access and mapped. The
 *   owner reads its own fields without a lock: no other thread writes them.
 *   Any thread may look a pointer up (a typed array may lie in some region's
 *   memory) and then reads only base, length and access, under the read lock.
 * - The registry always equals the set of live mappings: an entry is added
 *   after mmap and removed before munmap, both under the write lock, so an
 *   address the kernel hands out again never matches a stale entry.
 * - No Node-API call is made with the lock held: Node-API may run a garbage
 *   collection, whose finalizers release regions and take the write lock (a
 *   deadlock on this thread). Arguments are read first; errors are decided
 *   under the lock and thrown after it is released.
 * - Broken bookkeeping has one policy: must() -> integrity_failure (one
 *   line on stderr, then abort). It covers every rwlock and pthread_once
 *   call (they fail only on misuse; going on unlocked is never an option), a
 *   registry entry missing at removal, a count below zero, munmap failing on
 *   a whole mapping this file made, and a view that cannot be detached.
 * - Which calls run where: every export runs on the JavaScript thread of the
 *   env that called it, and changes only regions of that env; the finalizers
 *   (region_finalize, view_finalize) run on the owner's thread, at garbage
 *   collection or at its teardown. No other thread ever enters this file.
 * - Results ignored on purpose are written (void) with the reason beside
 *   them. The mem* functions' results (their first argument) are not used.
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

/* One byte per page; the values are the PROT_* bits, so protect() hands them to mprotect. */
enum { ACCESS_NONE = PROT_NONE, ACCESS_READ = PROT_READ, ACCESS_RW = PROT_READ | PROT_WRITE };

typedef struct {
  napi_ref ref; /* weak: the view may be collected; then the ref is empty */
  size_t offset, length;
} view_entry;

/*
 * A region outlives its JavaScript handle while views over it may still be
 * alive: each view's finalizer holds one count, the handle holds one. The
 * mapping is released when the last count goes (if unmap() was not called).
 */
typedef struct {
  uint8_t *base;
  size_t length;
  /* pinned: a view may outlive this thread, so zeros replace it, never unmapped (view_finalize) */
  int mapped, pinned;
  size_t counts, tokens; /* tokens: views whose finalizer has not run (counted in counts too) */
  napi_env env;          /* the thread that mapped it */
  view_entry *views;
  size_t nviews, cap;
  uint8_t access[]; /* one ACCESS_* byte per page */
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
static int simulate_no_external;  /* TARSJS_OS_MEMLOCK_SIMULATE_NO_EXTERNAL_BUFFERS=1 */
static char other_copy[PATH_MAX]; /* another copy of this addon already serves the process */

/* ---- integrity: the one policy for calls that fail only when bookkeeping is broken ---- */

/* Heap metadata that cannot be trusted any more: say so once and stop. */
static void integrity_failure(const char *what) {
  /* Nothing is left to do if stderr is gone: abort() is the report that counts. */
  (void)fprintf(stderr, "os-memlock: integrity failure: %s\n", what);
  abort();
}

/*
 * For calls that fail only on misuse or broken bookkeeping: rwlock and
 * pthread_once calls (EDEADLK, EAGAIN past 2^31 readers; never go on
 * unlocked), munmap of a whole mapping this file made, a handle scope close,
 * and the detach of a view that must not stay attached.
 */
static void must(int rc, const char *what) {
  if (rc != 0) integrity_failure(what);
}
static void lock_read(void) { must(pthread_rwlock_rdlock(&registry_lock), "registry read lock"); }
static void lock_write(void) { must(pthread_rwlock_wrlock(&registry_lock), "registry write lock"); }
static void unlock(void) { must(pthread_rwlock_unlock(&registry_lock), "registry unlock"); }

/* ---- errors -------------------------------------------------------------------------- */

/* napi_throw_error, napi_throw_type_error or napi_throw_range_error. */
typedef napi_status (*thrower)(napi_env, const char *, const char *);
#define ERR_PLAIN napi_throw_error
#define ERR_TYPE napi_throw_type_error
#define ERR_RANGE napi_throw_range_error

/* Throws; returns NULL for an export to return. */
static napi_value fail(napi_env env, thrower kind, const char *code, const char *msg) {
  (void)kind(env, code, msg); /* fails only with an exception pending: that one is thrown */
  return NULL;
}

/* For the readers below, which return 0 with an exception pending: refused(X_ERROR(...)). */
static int refused(napi_value thrown) {
  (void)thrown; /* NULL, always: the exception is what counts */
  return 0;
}

/* ERR_INVALID_ARG_TYPE: `what` ("argument" or "property") `name` must be of `type`. */
static int refuse_type(napi_env env, const char *what, const char *name, const char *type) {
  char msg[160];
  /* All three are short constants of this file: it always fits. */
  (void)snprintf(msg, sizeof msg, "The \"%s\" %s must be of type %s", name, what, type);
  return refused(fail(env, ERR_TYPE, "ERR_INVALID_ARG_TYPE", msg));
}

/* The errno values reported by name (any other is EUNKNOWN); a table, four a line. */
/* clang-format off */
static const struct { int e; const char *code; } errno_codes[] = {
    {ENOMEM, "ENOMEM"}, {EAGAIN, "EAGAIN"}, {EPERM, "EPERM"},   {EINVAL, "EINVAL"},
    {ENOSYS, "ENOSYS"}, {EFAULT, "EFAULT"}, {EBADF, "EBADF"},   {EACCES, "EACCES"},
    {EMFILE, "EMFILE"}, {ENFILE, "ENFILE"}, {EOVERFLOW, "EOVERFLOW"}};
/* clang-format on */

static napi_value throw_errno(napi_env env, const char *syscall_name, int e) {
  const char *c = "EUNKNOWN";
  char msg[160];
  napi_value err, code, message, num, sys;
  for (size_t i = 0; i < sizeof errno_codes / sizeof *errno_codes; i++)
    if (errno_codes[i].e == e) c = errno_codes[i].code;
  /* The call's name is a constant of this file and strerror's text is short: a cut is harmless. */
  (void)snprintf(msg, sizeof msg, "%s failed: %s (%s)", syscall_name, c, strerror(e));
  if (napi_create_string_utf8(env, c, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok ||
      napi_create_error(env, code, message, &err) != napi_ok ||
      napi_create_int32(env, e, &num) != napi_ok ||
      napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &sys) != napi_ok ||
      napi_set_named_property(env, err, "errno", num) != napi_ok ||
      napi_set_named_property(env, err, "syscall", sys) != napi_ok)
    return fail(env, ERR_PLAIN, c, msg);
  (void)napi_throw(env, err); /* fails only with an exception pending: that one is thrown */
  return NULL;
}

/* The errors an export throws most, for `return X_ERROR("...")` (env is the export's). */
#define TYPE_ERROR(msg) fail(env, ERR_TYPE, "ERR_INVALID_ARG_TYPE", msg)
#define VALUE_ERROR(msg) fail(env, ERR_TYPE, "ERR_INVALID_ARG_VALUE", msg)
#define RANGE_ERROR(msg) fail(env, ERR_RANGE, "ERR_OUT_OF_RANGE", msg)

/* A failed Node-API call leaves an exception pending or is a bug: throw if none is. */
static napi_value throw_napi(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return NULL;
  return fail(env, ERR_PLAIN, "ERR_NAPI", "os-memlock: a Node-API call failed");
}

#define NAPI_CALL(call)                            \
  do {                                             \
    if ((call) != napi_ok) return throw_napi(env); \
  } while (0)

#define ARGS(n)       \
  size_t argc = n;    \
  napi_value argv[n]; \
  NAPI_CALL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL))

/*
 * Why an operation on a range is refused. Decided with the registry lock held
 * and thrown by refusal() once it is released (throwing calls into V8).
 */
enum { FAIL_NONE, FAIL_NOT_READABLE, FAIL_NOT_WRITABLE, FAIL_OWNED, FAIL_PAST_REGION };
static const char *const refusals[][2] = {
    [FAIL_NOT_READABLE] = {"ERR_REGION_PROTECTED", "The range is not readable (protected 'none')"},
    [FAIL_NOT_WRITABLE] = {"ERR_REGION_PROTECTED",
                           "The range is not writable (protected 'none' or 'read')"},
    [FAIL_OWNED] = {"ERR_REGION_OWNED",
                    "The view's memory belongs to an os-memlock region: lock and unlock it through "
                    "its region (the layers above count locks per page, and munlock is not "
                    "counted)"},
    [FAIL_PAST_REGION] = {"ERR_OUT_OF_RANGE",
                          "The view extends past the end of the region holding it"},
};

/* Throws the refusal `why`, if any; NULL either way. */
static napi_value refusal(napi_env env, int why) {
  if (why == FAIL_NONE) return NULL;
  return fail(env, ERR_PLAIN, refusals[why][0], refusals[why][1]);
}

/* ---- argument readers (return 0 with an exception pending on failure) ------------------ */

/* One Node-API call per argument: these run right after system calls, where each costs most. */
static int read_size(napi_env env, napi_value v, const char *name, size_t *out) {
  double d;
  napi_status st = napi_get_value_double(env, v, &d);
  if (st == napi_number_expected) return refuse_type(env, "argument", name, "number");
  if (st != napi_ok) return 0;
  if (d >= 0 && d <= MAX_SAFE_INTEGER && floor(d) == d && d <= (double)SIZE_MAX)
    return (*out = (size_t)d), 1;
  char msg[160]; /* names are short constants: it always fits */
  (void)snprintf(msg, sizeof msg, "The value of \"%s\" is out of range. %s", name,
                 "It must be an integer >= 0 and <= 2^53 - 1");
  return refused(RANGE_ERROR(msg));
}

/* A choice among string names (a table ended by a NULL name); `msg` when it is none of them. */
typedef struct {
  const char *name;
  int value;
} choice;

static int read_choice(napi_env env, napi_value v, const char *name, const choice *c,
                       const char *msg, int *out) {
  char buf[16];
  size_t len;
  napi_status st = napi_get_value_string_utf8(env, v, buf, sizeof buf, &len);
  if (st == napi_string_expected) return refuse_type(env, "argument", name, "string");
  if (st != napi_ok) return 0;
  /* An embedded NUL ("none\0x") must not pass as "none": then nothing matches. */
  for (; strlen(buf) == len && c->name != NULL; c++)
    if (strcmp(buf, c->name) == 0) return (*out = c->value), 1;
  return refused(VALUE_ERROR(msg));
}

/* An optional boolean (index.js passes options.x through): undefined is false. */
static int read_flag(napi_env env, napi_value v, const char *name, bool *out) {
  napi_valuetype t;
  *out = false;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_undefined) return 1;
  if (t != napi_boolean) return refuse_type(env, "property", name, "boolean");
  return napi_get_value_bool(env, v, out) == napi_ok;
}

/* A region handle (`t` is the value's type, from napi_typeof): its type tag is checked. */
static region *region_of(napi_env env, napi_value v, napi_valuetype t, int must_be_mapped) {
  bool tagged = false;
  region *r = NULL;
  if (t == napi_external && napi_check_object_type_tag(env, v, &region_tag, &tagged) != napi_ok)
    return NULL;
  if (!tagged || napi_get_value_external(env, v, (void **)&r) != napi_ok || r == NULL)
    return (void)TYPE_ERROR("The \"region\" argument must be a Region created by os-memlock"), NULL;
  if (must_be_mapped && !r->mapped)
    return (void)fail(env, ERR_PLAIN, "ERR_REGION_UNMAPPED", "The region has been unmapped"), NULL;
  return r;
}

static region *get_region(napi_env env, napi_value v, int must_be_mapped) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok ? region_of(env, v, t, must_be_mapped) : NULL;
}

/* offset + length must lie inside [0, total]; written so that it cannot overflow. */
static int check_bounds(napi_env env, size_t offset, size_t length, size_t total) {
  if (offset <= total && length <= total - offset) return 1;
  return refused(RANGE_ERROR("The range offset + length is outside the region"));
}

static int check_aligned(napi_env env, size_t offset, size_t length) {
  if (offset % page_size == 0 && length % page_size == 0 && length > 0) return 1;
  return refused(
      RANGE_ERROR("offset and length must be multiples of the page size, and length > 0"));
}

/* (region, offset, length): a mapped region and a range inside it, page-aligned if `aligned`. */
static region *read_range(napi_env env, napi_value *argv, size_t *offset, size_t *length,
                          int aligned) {
  region *r = get_region(env, argv[0], 1);
  if (r == NULL || !read_size(env, argv[1], "offset", offset) ||
      !read_size(env, argv[2], "length", length) ||
      !check_bounds(env, *offset, *length, r->length) ||
      (aligned && !check_aligned(env, *offset, *length)))
    return NULL;
  return r;
}

/* Every page of [offset, offset + length) must allow `need` (lock held, or the owner thread). */
static int access_fail(const region *r, size_t offset, size_t length, int need) {
  for (size_t p = offset / page_size; length > 0 && p <= (offset + length - 1) / page_size; p++)
    if ((r->access[p] & need) != need)
      return need == ACCESS_READ ? FAIL_NOT_READABLE : FAIL_NOT_WRITABLE;
  return FAIL_NONE;
}

/*
 * A "target" is a region with (offset, length) or any ArrayBufferView, acting
 * on exactly its own bytes (offset and length then count within the view).
 * read_target reads the arguments (Node-API, no lock); resolve_target then
 * finds the region under the registry lock.
 */
typedef struct {
  uint8_t *ptr;
  size_t length;
  region *r;      /* the region holding the bytes, or NULL (set by resolve_target for views) */
  size_t offset;  /* offset of ptr within r */
  uint8_t *vbase; /* a view's first byte, and its byte length */
  size_t vlength;
  int is_view;
} span;

/* Bytes per element of each typed array kind; a kind not listed is refused, never guessed. */
#ifndef NODE_API_HAS_FLOAT16_ARRAY
#define napi_float16_array ((napi_typedarray_type)11) /* js_native_api_types.h of Node 24+ */
#endif
static const uint8_t element_size[] = {
    [napi_int8_array] = 1,    [napi_uint8_array] = 1,    [napi_uint8_clamped_array] = 1,
    [napi_int16_array] = 2,   [napi_uint16_array] = 2,   [napi_float16_array] = 2,
    [napi_int32_array] = 4,   [napi_uint32_array] = 4,   [napi_float32_array] = 4,
    [napi_float64_array] = 8, [napi_bigint64_array] = 8, [napi_biguint64_array] = 8};

/* The bytes of a typed array or a DataView. */
static int read_view_bytes(napi_env env, napi_value v, bool is_ta, span *s) {
  napi_typedarray_type tt = napi_uint8_array;
  size_t boff;
  napi_value ab;
  void *data = NULL;
  char msg[96];
  if ((is_ta ? napi_get_typedarray_info(env, v, &tt, &s->vlength, &data, &ab, &boff)
             : napi_get_dataview_info(env, v, &s->vlength, &data, &ab, &boff)) != napi_ok)
    return 0;
  if ((unsigned)tt >= sizeof element_size || element_size[tt] == 0) {
    (void)snprintf(msg, sizeof msg, /* both parts are short: it always fits */
                   "Typed array kind %d is not supported: its element size is unknown", (int)tt);
    return refused(TYPE_ERROR(msg));
  }
  s->vlength *= element_size[tt]; /* a typed array's length counts elements; a DataView's bytes */
  s->vbase = data;
  s->is_view = 1;
  return 1;
}

static int read_target(napi_env env, napi_value v, napi_value off_v, napi_value len_v, span *s) {
  bool is_ta = false, is_dv = false;
  napi_valuetype t;
  size_t offset = 0, total;
  memset(s, 0, sizeof *s);
  /* The type first: a region (an external) then needs no other test. */
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_object && (napi_is_typedarray(env, v, &is_ta) != napi_ok ||
                           napi_is_dataview(env, v, &is_dv) != napi_ok))
    return 0;
  if ((is_ta || is_dv) && !read_view_bytes(env, v, is_ta, s)) return 0;
  if (!is_ta && !is_dv && t != napi_external)
    return refused(TYPE_ERROR("The target must be a Region or an ArrayBufferView"));
  if (!s->is_view && (s->r = region_of(env, v, t, 1)) == NULL) return 0;
  total = s->is_view ? s->vlength : s->r->length;
  if (off_v != NULL && !read_size(env, off_v, "offset", &offset)) return 0;
  if (offset > total) return refused(RANGE_ERROR("The offset is outside the target"));
  s->length = total - offset;
  if (len_v != NULL && !read_size(env, len_v, "length", &s->length)) return 0;
  if (!check_bounds(env, offset, s->length, total)) return 0;
  if (s->is_view) s->ptr = s->vbase == NULL ? NULL : s->vbase + offset;
  else s->ptr = s->r->base + (s->offset = offset);
  return 1;
}

/*
 * An optional trailing argument: undefined (napi_get_cb_info also fills
 * absent ones with it) means "the rest", NULL for read_target.
 */
static napi_value opt(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) != napi_ok || t == napi_undefined ? NULL : v;
}

/* ---- the registry (every function here runs with registry_lock held) ----------------- */

/* First index whose base is above p. */
static size_t registry_upper(const uint8_t *p) {
  size_t lo = 0, hi = registry_len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (registry[mid]->base <= p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Inserts r in address order (write lock). Returns 0 when out of memory: r is not in then. */
static int registry_insert(region *r) {
  size_t i = registry_upper(r->base), cap = registry_cap ? registry_cap * 2 : 64;
  region **grown;
  if (registry_len == registry_cap) {
    if ((grown = realloc(registry, cap * sizeof *grown)) == NULL) return 0;
    registry = grown;
    registry_cap = cap;
  }
  memmove(registry + i + 1, registry + i, (registry_len++ - i) * sizeof *registry);
  registry[i] = r;
  return 1;
}

/* Removes r (write lock). A live region missing means the bookkeeping is broken: stop. */
static void registry_remove(region *r) {
  size_t i = registry_upper(r->base);
  if (i == 0 || registry[i - 1] != r)
    integrity_failure("a mapped region is missing from the region registry");
  memmove(registry + i - 1, registry + i, (registry_len-- - i) * sizeof *registry);
}

/* The mapped region holding p, or NULL. */
static region *registry_find(const uint8_t *p) {
  size_t i = registry_upper(p);
  if (i > 0 && p < registry[i - 1]->base + registry[i - 1]->length) return registry[i - 1];
  return NULL;
}

/*
 * With the registry lock held for reading: a view of a region is that region
 * (its protections apply), then the access `need` is checked. Returns FAIL_*.
 */
static int resolve_target(span *s, int need) {
  if (s->is_view && (s->r = s->vlength > 0 ? registry_find(s->vbase) : NULL) != NULL) {
    /* view() never hands out more than its region: one ending past it is refused, not trusted. */
    if (s->vlength > s->r->length - (size_t)(s->vbase - s->r->base)) return FAIL_PAST_REGION;
    s->offset = s->length == 0 ? 0 : (size_t)(s->ptr - s->r->base);
  }
  return s->r == NULL ? FAIL_NONE : access_fail(s->r, s->offset, s->length, need);
}

/* ---- region lifetime (owner thread) ---------------------------------------------------- */

/*
 * The last count of a region whose view may live on in another thread. The
 * address range is never given back: a fresh private zero mapping replaces
 * the region in place (MAP_FIXED: one step, no gap another mmap could take),
 * so that view reads and writes zeros, never faults and never meets another
 * secret. The old pages, lock and secretmem go with the replaced mapping; the
 * range is plain memory now, so it leaves the registry.
 */
static void region_pin(region *r) {
  int rw = PROT_READ | PROT_WRITE;
  lock_write();
  registry_remove(r);
  /* If that fails the old mapping stays, unreachable for a new mmap: make it zeros. */
  if (mmap(r->base, r->length, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED &&
      mprotect(r->base, r->length, rw) == 0)
    explicit_bzero(r->base, r->length);
  r->mapped = 0;
  unlock();
}

/* Drops one count. The last one frees the region, and unmaps it if unmap() was not called. */
static void region_release(region *r) {
  if (r->counts == 0) integrity_failure("a region count dropped below zero");
  if (--r->counts > 0) return;
  if (r->mapped && r->pinned) {
    region_pin(r);
  } else if (r->mapped) {
    /*
     * Nothing in JavaScript can reach the memory any more. Out of the registry
     * first: the address can be handed out again only once no entry names it.
     */
    lock_write();
    registry_remove(r);
    must(munmap(r->base, r->length), "munmap of a released region");
    r->mapped = 0;
    unlock();
  }
  free(r->views);
  free(r);
}

static void region_finalize(napi_env env, void *data, void *hint) {
  region *r = data;
  (void)hint; /* none is passed */
  /* A weak reference that cannot be deleted here goes with the environment. */
  for (size_t i = 0; i < r->nviews; i++) (void)napi_delete_reference(env, r->views[i].ref);
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

/*
 * Detach views overlapping [offset, offset + length), and drop entries whose
 * view was collected or already detached. Returns 0 with an exception pending.
 */
static int sweep_views(napi_env env, region *r, size_t offset, size_t length) {
  size_t i, kept = 0, n = r->nviews;
  for (i = 0; i < n; i++) {
    view_entry *e = &r->views[i];
    napi_value ab = NULL;
    bool detached = true; /* and so it stays for a view detached here */
    int overlaps = e->offset < offset + length && offset < e->offset + e->length;
    if (napi_get_reference_value(env, e->ref, &ab) != napi_ok) break;
    /* Detaching twice is harmless, so overlapping views need no status check. */
    if (ab != NULL && overlaps && napi_detach_arraybuffer(env, ab) != napi_ok) break;
    if (ab != NULL && !overlaps && napi_is_detached_arraybuffer(env, ab, &detached) != napi_ok)
      break;
    if (ab != NULL && !detached) r->views[kept++] = *e;
    else if (napi_delete_reference(env, e->ref) != napi_ok) break;
  }
  /* A failed call stops the sweep: keep the list whole, entries from i on are unvisited. */
  memmove(r->views + kept, r->views + i, (n - i) * sizeof *r->views);
  r->nviews = kept + (n - i);
  return i == n;
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
  size_t i, n = 0;
  lock_read();
  region **mine = malloc((registry_len + 1) * sizeof *mine);
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
  /* A sweep keeps the views alive and attached here; one that fails pins (it errs safe). */
  for (i = 0; i < n; i++)
    if (scope == NULL || !sweep_views(env, mine[i], 0, 0) || mine[i]->tokens > mine[i]->nviews)
      mine[i]->pinned = 1;
  if (scope != NULL) must(napi_close_handle_scope(env, scope), "a handle scope close");
  free(mine);
}

static void view_finalize(napi_env env, void *data, void *hint) {
  view_token *t = hint;
  (void)data; /* the view's bytes: the token names their region */
  if (t == creating) {
    creating_finalized = 1; /* js_view settles it when the call returns */
    return;
  }
  if (!t->returned) {
    /* Checked at a teardown's first finalizer; a "maybe" checks (pinning errs safe) again later. */
    int down = teardown_checked ? 0 : tearing_down(env);
    if (down != 0) check_teardown(env);
    if (down == 1) teardown_checked = 1;
    t->r->tokens--;
    region_release(t->r);
  }
  free(t);
}

/* ---- system calls with more than one step ------------------------------------------------ */

/*
 * A memfd_secret(2) mapping anywhere, read-write; the fd is close-on-exec and
 * closed once mapped (the mapping holds the file). MAP_FAILED on failure, with
 * *e and *sys naming the errno and the call that failed.
 */
static uint8_t *secret_mmap(size_t length, int *e, const char **sys) {
  long fd = syscall(SYS_memfd_secret, (unsigned int)O_CLOEXEC);
  uint8_t *p = MAP_FAILED;
  *sys = fd < 0 ? "memfd_secret" : "ftruncate";
  *e = errno;
  if (fd < 0) return MAP_FAILED;
  if (ftruncate((int)fd, (off_t)length) == 0) {
    *sys = "mmap";
    p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
  }
  *e = errno;
  /* After a failure the first error is the one reported: close then only frees the fd. */
  if (close((int)fd) != 0 && p != MAP_FAILED) {
    *e = errno;
    must(munmap(p, length), "munmap of a fresh secret mapping");
    p = MAP_FAILED;
  }
  return p;
}

/*
 * Fresh memory: KIND_NONE (PROT_NONE), KIND_READWRITE (zero pages) or
 * KIND_SECRET (memfd_secret), anywhere when addr is NULL, else in place over
 * [addr, addr + length). A secret mapping in place is made elsewhere first,
 * then moved over the range: the kernel refuses a secretmem mapping over
 * RLIMIT_MEMLOCK only inside mmap, and a MAP_FIXED mmap refused there leaves
 * a hole where the old pages were. mremap checks its limits before it unmaps
 * the destination, so a refusal leaves the range as it was.
 */
enum { KIND_NONE, KIND_READWRITE, KIND_SECRET };

static uint8_t *fresh_map(uint8_t *addr, size_t length, int kind, int *e, const char **sys) {
  int prot = kind == KIND_READWRITE ? PROT_READ | PROT_WRITE : PROT_NONE;
  int flags = (addr != NULL ? MAP_FIXED : 0) | MAP_PRIVATE | MAP_ANONYMOUS;
  uint8_t *p, *tmp;
  *sys = "mmap";
  if (kind != KIND_SECRET) {
    p = mmap(addr, length, prot, flags, -1, 0);
    *e = errno;
    return p;
  }
  if ((tmp = secret_mmap(length, e, sys)) == MAP_FAILED || addr == NULL) return tmp;
  p = mremap(tmp, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, addr);
  if (p == MAP_FAILED) {
    *e = errno;
    *sys = "mremap";
    must(munmap(tmp, length), "munmap of an unplaced secret mapping");
  }
  return p;
}

/* ---- probes ------------------------------------------------------------------------------ */

/*
 * The kernel's answers, probed once per process (pthread_once: worker threads
 * may ask at the same time). probe_errno is the errno of a failed probe mmap.
 */
static const char *const cap_names[] = {"mlock", "madviseDontDump", "madviseWipeOnFork",
                                        "madviseDontFork", "memfdSecret"};
static bool caps[5];
static int probe_errno;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void probe_kernel(void) {
  int rw = PROT_READ | PROT_WRITE;
  uint8_t *page = mmap(NULL, page_size, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    probe_errno = errno;
    return;
  }
  caps[0] = mlock(page, page_size) == 0 && munlock(page, page_size) == 0;
  caps[1] = madvise(page, page_size, MADV_DONTDUMP) == 0;
  caps[2] = madvise(page, page_size, MADV_WIPEONFORK) == 0;
  caps[3] = madvise(page, page_size, MADV_DONTFORK) == 0;
  must(munmap(page, page_size), "munmap of a probe page");
  long fd = syscall(SYS_memfd_secret, (unsigned int)O_CLOEXEC);
  caps[4] = fd >= 0 && close((int)fd) == 0;
}

static napi_value throw_no_external(napi_env env) {
  return fail(env, ERR_PLAIN, "ERR_EXTERNAL_BUFFERS_UNAVAILABLE",
              "This runtime does not allow external ArrayBuffers (for example Electron's or V8's "
              "sandbox); os-memlock cannot hand out views of protected memory here");
}

/* ---- exports: validate the arguments, one system call, return ------------------------------ */

static napi_value js_page_size(napi_env env, napi_callback_info info) {
  napi_value out;
  (void)info; /* no arguments */
  NAPI_CALL(napi_create_uint32(env, (uint32_t)page_size, &out));
  return out;
}

static napi_value js_capabilities(napi_env env, napi_callback_info info) {
  napi_value out, b;
  (void)info; /* no arguments */
  must(pthread_once(&probe_once, probe_kernel), "pthread_once");
  if (probe_errno != 0) return throw_errno(env, "mmap", probe_errno);
  NAPI_CALL(napi_create_object(env, &out));
  for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) {
    NAPI_CALL(napi_get_boolean(env, caps[i], &b));
    NAPI_CALL(napi_set_named_property(env, out, cap_names[i], b));
  }
  return out;
}

static napi_value js_map(napi_env env, napi_callback_info info) {
  ARGS(2);
  size_t length;
  bool secret = false;
  int e;
  const char *sys;
  region *r;
  napi_value out;
  if (!read_size(env, argv[0], "byteLength", &length)) return NULL;
  if (length == 0 || length % page_size != 0)
    return RANGE_ERROR("byteLength must be a positive multiple of the page size");
  if (!read_flag(env, argv[1], "options.secret", &secret)) return NULL;
  if ((r = calloc(1, sizeof *r + length / page_size)) == NULL)
    return throw_errno(env, "malloc", ENOMEM);
  *r = (region){.length = length, .counts = 1, .env = env}; /* access[] is left as it is */
  /*
   * The handle first: from here its finalizer frees r, mapped or not, when the
   * garbage collector takes it (as for any dropped handle). It is a type-tagged
   * external: reading it back is an internal-field load, where an object wrap
   * costs two private-property lookups per call, and those are slow right
   * after an mprotect (measured: ~0.3 us each). index.js wraps it in a frozen
   * Region object with byteLength and secret.
   */
  if (napi_create_external(env, r, region_finalize, NULL, &out) != napi_ok) {
    free(r);
    return throw_napi(env);
  }
  uint8_t *p = fresh_map(NULL, length, secret ? KIND_SECRET : KIND_READWRITE, &e, &sys);
  if (p == MAP_FAILED) return throw_errno(env, sys, e);
  memset(r->access, ACCESS_RW, length / page_size);
  r->base = p;
  lock_write();
  r->mapped = registry_insert(r);
  unlock();
  if (!r->mapped) {
    must(munmap(p, length), "munmap of a fresh mapping");
    return throw_errno(env, "malloc", ENOMEM);
  }
  NAPI_CALL(napi_type_tag_object(env, out, &region_tag));
  return out;
}

static napi_value js_unmap(napi_env env, napi_callback_info info) {
  ARGS(1);
  region *r = get_region(env, argv[0], 1);
  if (r == NULL || !sweep_views(env, r, 0, r->length)) return NULL;
  /* Out of the registry before munmap, under the write lock: no thread may match a freed address.
   */
  lock_write();
  registry_remove(r);
  int rc = munmap(r->base, r->length), e = errno;
  if (rc != 0) (void)registry_insert(r); /* into the slot just freed: no allocation, no failure */
  r->mapped = rc != 0;
  unlock();
  return rc == 0 ? NULL : throw_errno(env, "munmap", e);
}

static const choice remap_kinds[] = {
    {"none", KIND_NONE}, {"readwrite", KIND_READWRITE}, {"secret", KIND_SECRET}, {0}};

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
static napi_value js_remap(napi_env env, napi_callback_info info) {
  ARGS(4);
  size_t offset, length;
  int kind, e = 0;
  const char *sys = "mmap";
  region *r = read_range(env, argv, &offset, &length, 1);
  if (r == NULL ||
      !read_choice(env, argv[3], "kind", remap_kinds,
                   "The \"kind\" argument must be 'none', 'readwrite' or 'secret'", &kind) ||
      !sweep_views(env, r, offset, length))
    return NULL;
  /* Written lock: the pages change under any thread that looked this region up. */
  lock_write();
  uint8_t *p = fresh_map(r->base + offset, length, kind, &e, &sys);
  if (p != MAP_FAILED && p != r->base + offset)
    integrity_failure("mmap(MAP_FIXED) placed memory elsewhere");
  memset(r->access + offset / page_size,
         p == MAP_FAILED || kind == KIND_NONE ? ACCESS_NONE : ACCESS_RW, length / page_size);
  unlock();
  return p != MAP_FAILED ? NULL : throw_errno(env, sys, e);
}

static napi_value js_is_mapped(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_value out;
  region *r = get_region(env, argv[0], 0);
  if (r == NULL) return NULL;
  NAPI_CALL(napi_get_boolean(env, r->mapped, &out));
  return out;
}

static const choice accesses[] = {
    {"none", ACCESS_NONE}, {"read", ACCESS_READ}, {"readwrite", ACCESS_RW}, {0}};

/*
 * protect(region, offset, length, access[, { keepViews: true }]). keepViews is
 * the one, named, opt-out of the view invariant: libsodium-compatible buffers
 * must survive noaccess -> readwrite, and touching them while no-access faults
 * as it does in libsodium. Nothing else in tarsjs passes it.
 */
static napi_value js_protect(napi_env env, napi_callback_info info) {
  ARGS(5);
  size_t offset, length;
  int access;
  bool keep_views = false;
  region *r = read_range(env, argv, &offset, &length, 1);
  if (r == NULL ||
      !read_choice(env, argv[3], "access", accesses,
                   "The \"access\" argument must be 'none', 'read' or 'readwrite'", &access) ||
      !read_flag(env, argv[4], "options.keepViews", &keep_views))
    return NULL;
  /* Views go first: none may outlive the readability of its memory. */
  if (access == ACCESS_NONE && !keep_views && !sweep_views(env, r, offset, length)) return NULL;
  /* Written lock: no other thread may be between its access decision and its memory operation. */
  lock_write();
  int rc = mprotect(r->base + offset, length, access), e = errno; /* ACCESS_* are PROT_* bits */
  if (rc == 0) memset(r->access + offset / page_size, access, length / page_size);
  unlock();
  return rc == 0 ? NULL : throw_errno(env, "mprotect", e);
}

/* lock / unlock: a region (page-aligned range) or any ArrayBufferView. */
static napi_value lock_range(napi_env env, napi_callback_info info, int lock) {
  ARGS(4);
  span s;
  bool on_fault = false;
  int rc = 0, e = 0;
  if (!read_target(env, argv[0], opt(env, argv[1]), opt(env, argv[2]), &s) ||
      (lock && !read_flag(env, argv[3], "options.onFault", &on_fault)) ||
      (!s.is_view && !check_aligned(env, s.offset, s.length)))
    return NULL;
  lock_read();
  int why = resolve_target(&s, ACCESS_NONE);
  /* A view into a region: munlock would unlock every secret sharing its pages. */
  if (why == FAIL_NONE && s.is_view && s.r != NULL) why = FAIL_OWNED;
  /*
   * MLOCK_ONFAULT locks each page when it is first touched instead of faulting
   * every page in now. It also spares mprotect the populate pass it runs each
   * time a locked range becomes writable again; callers that need every page
   * resident touch the range themselves.
   */
  if (why == FAIL_NONE && s.length > 0) {
    rc = !lock      ? munlock(s.ptr, s.length)
         : on_fault ? mlock2(s.ptr, s.length, MLOCK_ONFAULT)
                    : mlock(s.ptr, s.length);
    e = errno;
  }
  unlock();
  if (why != FAIL_NONE) return refusal(env, why);
  if (rc != 0) return throw_errno(env, !lock ? "munlock" : on_fault ? "mlock2" : "mlock", e);
  return NULL;
}

static napi_value js_lock(napi_env env, napi_callback_info info) {
  return lock_range(env, info, 1);
}

static napi_value js_unlock(napi_env env, napi_callback_info info) {
  return lock_range(env, info, 0);
}

/* One advice per call: MADV_* values are an enum, not flags. */
/* clang-format off */
static const choice advices[] = {
    {"dontdump", MADV_DONTDUMP},     {"dodump", MADV_DODUMP},     {"wipeonfork", MADV_WIPEONFORK},
    {"keeponfork", MADV_KEEPONFORK}, {"dontfork", MADV_DONTFORK}, {"dofork", MADV_DOFORK}, {0}};
/* clang-format on */

static napi_value js_advise(napi_env env, napi_callback_info info) {
  ARGS(4);
  size_t offset, length;
  int advice;
  region *r = read_range(env, argv, &offset, &length, 1);
  if (r == NULL || !read_choice(env, argv[3], "advice", advices,
                                "The \"advice\" argument must be 'dontdump', 'dodump', "
                                "'wipeonfork', 'keeponfork', 'dontfork' or 'dofork'",
                                &advice))
    return NULL;
  if (madvise(r->base + offset, length, advice) != 0) return throw_errno(env, "madvise", errno);
  return NULL;
}

static napi_value js_wipe(napi_env env, napi_callback_info info) {
  ARGS(3);
  span s;
  if (!read_target(env, argv[0], opt(env, argv[1]), opt(env, argv[2]), &s)) return NULL;
  lock_read();
  int why = resolve_target(&s, ACCESS_RW);
  /* explicit_bzero: a store the compiler may not drop as dead. */
  if (why == FAIL_NONE && s.length > 0) explicit_bzero(s.ptr, s.length);
  unlock();
  return refusal(env, why);
}

static napi_value js_fill(napi_env env, napi_callback_info info) {
  ARGS(4);
  size_t offset, length, byte;
  region *r = read_range(env, argv, &offset, &length, 0);
  if (r == NULL || !read_size(env, argv[3], "byte", &byte)) return NULL;
  if (byte > 255)
    return RANGE_ERROR("The value of \"byte\" is out of range. It must be >= 0 and <= 255");
  lock_read();
  int why = access_fail(r, offset, length, ACCESS_RW);
  if (why == FAIL_NONE) memset(r->base + offset, (int)byte, length);
  unlock();
  return refusal(env, why);
}

/* (a, aOffset, b, bOffset, length): two targets of one length, for copy and equals. */
static int read_pair(napi_env env, napi_value *argv, span *a, span *b) {
  size_t length;
  return read_size(env, argv[4], "length", &length) &&
         read_target(env, argv[0], argv[1], argv[4], a) &&
         read_target(env, argv[2], argv[3], argv[4], b);
}

/* copy(src, srcOffset, dst, dstOffset, length): memory to memory, never via the JS heap. */
static napi_value js_copy(napi_env env, napi_callback_info info) {
  ARGS(5);
  span src, dst;
  if (!read_pair(env, argv, &src, &dst)) return NULL;
  lock_read();
  int why = resolve_target(&src, ACCESS_READ);
  if (why == FAIL_NONE) why = resolve_target(&dst, ACCESS_RW);
  if (why == FAIL_NONE && src.length > 0) memmove(dst.ptr, src.ptr, src.length);
  unlock();
  return refusal(env, why);
}

/* Constant time in the length: every byte is read, no early exit. */
static napi_value js_equals(napi_env env, napi_callback_info info) {
  ARGS(5);
  span a, b;
  volatile uint8_t d = 0;
  napi_value out;
  if (!read_pair(env, argv, &a, &b)) return NULL;
  lock_read();
  int why = resolve_target(&a, ACCESS_READ);
  if (why == FAIL_NONE) why = resolve_target(&b, ACCESS_READ);
  for (size_t i = 0; why == FAIL_NONE && i < a.length; i++)
    d |= ((const volatile uint8_t *)a.ptr)[i] ^ ((const volatile uint8_t *)b.ptr)[i];
  unlock();
  if (why != FAIL_NONE) return refusal(env, why);
  NAPI_CALL(napi_get_boolean(env, d == 0, &out));
  return out;
}

/* Room for one more view entry (owner thread). Returns 0 with an exception pending. */
static int views_reserve(napi_env env, region *r) {
  size_t cap = r->cap ? r->cap * 2 : 8;
  view_entry *grown;
  if (r->nviews < r->cap) return 1;
  /* Drop collected and detached entries before growing: amortised O(1). */
  if (!sweep_views(env, r, 0, 0)) return 0;
  if (r->nviews * 2 < r->cap) return 1;
  if ((grown = realloc(r->views, cap * sizeof *grown)) == NULL)
    return refused(throw_errno(env, "malloc", ENOMEM));
  r->views = grown;
  r->cap = cap;
  return 1;
}

static napi_value js_view(napi_env env, napi_callback_info info) {
  ARGS(3);
  size_t offset, length;
  napi_value ab = NULL;
  napi_ref ref;
  region *r = read_range(env, argv, &offset, &length, 0);
  if (r == NULL) return NULL;
  if (length == 0) return RANGE_ERROR("A view must be at least one byte long");
  /* Only this thread changes r->access (see the thread contract): no lock needed to read it. */
  int why = access_fail(r, offset, length, ACCESS_READ);
  if (why != FAIL_NONE) return refusal(env, why);
  if (simulate_no_external) return throw_no_external(env);
  if (!views_reserve(env, r)) return NULL;
  view_token *token = malloc(sizeof *token);
  if (token == NULL) return throw_errno(env, "malloc", ENOMEM);
  *token = (view_token){.r = r, .returned = 0};
  r->counts++; /* the token's; the handle in argv[0] holds another, so r outlives this call */
  r->tokens++;
  creating = token;
  creating_finalized = 0;
  napi_status st =
      napi_create_external_arraybuffer(env, r->base + offset, length, view_finalize, token, &ab);
  creating = NULL;
  /*
   * A finalizer that ran inside the call does not run again: the token is
   * settled here. Node checks for external buffers before creating anything,
   * so then nothing holds the token either. After any other failure a
   * finalizer may or may not come: the count is given back now and the token
   * left to it.
   */
  if (creating_finalized || st != napi_ok) {
    r->tokens--;
    region_release(r);
  }
  if (creating_finalized || st == napi_no_external_buffers_allowed) free(token);
  else if (st != napi_ok) token->returned = 1;
  if (creating_finalized && st == napi_ok) {
    /* A buffer whose finalizer already ran must not stay attached to the memory. */
    must(napi_detach_arraybuffer(env, ab), "a view without a count stayed attached");
    return fail(env, ERR_PLAIN, "ERR_NAPI", "os-memlock: Node-API finalized a view it returned");
  }
  if (!creating_finalized && st == napi_no_external_buffers_allowed) return throw_no_external(env);
  if (st != napi_ok) return throw_napi(env);
  if (napi_create_reference(env, ab, 0, &ref) != napi_ok) {
    /* An untracked view would outlive protect('none'): detach it (its finalizer gives the
     * count back). */
    must(napi_detach_arraybuffer(env, ab), "an untracked view could not be detached");
    return throw_napi(env);
  }
  r->views[r->nviews++] = (view_entry){.ref = ref, .offset = offset, .length = length};
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
  bool is_ab = false, detached = false, pending = false;
  void *data = NULL;
  size_t length = 0;
  region *r = NULL;
  NAPI_CALL(napi_is_arraybuffer(env, argv[0], &is_ab));
  if (!is_ab) return TYPE_ERROR("The \"arrayBuffer\" argument must be an ArrayBuffer");
  NAPI_CALL(napi_is_detached_arraybuffer(env, argv[0], &detached));
  if (detached) return NULL;
  NAPI_CALL(napi_get_arraybuffer_info(env, argv[0], &data, &length));
  lock_read();
  if (length > 0 && (r = registry_find(data)) != NULL &&
      length > r->length - (size_t)((uint8_t *)data - r->base))
    r = NULL;
  unlock();
  /* r is not read after the lock is released: only whether the memory lay in a region. */
  if (r == NULL)
    return VALUE_ERROR(
        "The ArrayBuffer is not a view of an os-memlock region; only those are detached");
  if (napi_detach_arraybuffer(env, argv[0]) == napi_ok) return NULL;
  NAPI_CALL(napi_is_exception_pending(env, &pending));
  if (pending) return NULL;
  return VALUE_ERROR("The ArrayBuffer cannot be detached");
}

/* How many mappings the registry holds: index.js offers it only to tests
 * (TARSJS_OS_MEMLOCK_TEST=1). */
static napi_value js_registry_count(napi_env env, napi_callback_info info) {
  napi_value out;
  (void)info; /* no arguments */
  lock_read();
  size_t n = registry_len;
  unlock();
  NAPI_CALL(napi_create_double(env, (double)n, &out));
  return out;
}

/* ---- loading ----------------------------------------------------------------------------- */

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
  /* Cannot tell which binary this is, or its path is too long to name: no claim. */
  if (dladdr((void *)claim_process, &self) == 0 || self.dli_fname == NULL ||
      snprintf(mine, sizeof mine, "%ld:%s", (long)getpid(), self.dli_fname) >= (int)sizeof mine)
    return;
  if (seen != NULL && (colon = strchr(seen, ':')) != NULL &&
      strtol(seen, NULL, 10) == (long)getpid()) {
    /* other_copy has room for any path: the copy is never cut. */
    if (strcmp(seen, mine) != 0) (void)snprintf(other_copy, sizeof other_copy, "%s", colon + 1);
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
  const char *no_external = getenv("TARSJS_OS_MEMLOCK_SIMULATE_NO_EXTERNAL_BUFFERS");
  simulate_no_external = no_external != NULL && strcmp(no_external, "1") == 0;
  claim_process();
}

#define EXPORT(name, fn) \
  { name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL }

/* Every export; a table, two a line. */
/* clang-format off */
static const napi_property_descriptor props[] = {
    EXPORT("pageSize", js_page_size), EXPORT("capabilities", js_capabilities),
    EXPORT("map", js_map),            EXPORT("unmap", js_unmap),
    EXPORT("isMapped", js_is_mapped), EXPORT("protect", js_protect),
    EXPORT("lock", js_lock),          EXPORT("unlock", js_unlock),
    EXPORT("advise", js_advise),      EXPORT("wipe", js_wipe),
    EXPORT("fill", js_fill),          EXPORT("copy", js_copy),
    EXPORT("equals", js_equals),      EXPORT("view", js_view),
    EXPORT("detach", js_detach),      EXPORT("remap", js_remap),
    EXPORT("registryCount", js_registry_count)};
/* clang-format on */

static napi_value init(napi_env env, napi_value exports) {
  char msg[PATH_MAX + 200];
  must(pthread_once(&process_once, process_init), "pthread_once");
  if (page_size == 0) return throw_errno(env, "sysconf", EINVAL);
  if (other_copy[0] != '\0') {
    /* msg has room for any path: the message is never cut. */
    (void)snprintf(msg, sizeof msg,
                   "Another copy of @tarsjs/os-memlock is loaded in this process (%s): two "
                   "copies would keep two region registries. Install one version (let the "
                   "package manager dedupe it)",
                   other_copy);
    return fail(env, ERR_PLAIN, "ERR_DUPLICATE_NATIVE_INSTANCE", msg);
  }
  NAPI_CALL(napi_define_properties(env, exports, sizeof props / sizeof *props, props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
