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
 * unmapped, PROT_NONE or keyed. protect(..., "none" or "keyed") and unmap()
 * detach every view overlapping the range first, and wipe/fill/copy/equals/view refuse ranges
 * whose protection would make the access fault.
 *
 * Thread contract. Worker threads load this file once per thread (one
 * napi_env each) and share its process-wide state.
 *
 * - What is shared, and what guards it:
 *   - page_size, simulate_no_external, duplicate: written once
 *     by process_init under pthread_once, read-only afterwards.
 *   - caps, probe_errno, process_pkey: written once by probe_kernel under
 *     pthread_once. Each thread's PKRU is its own: only keyedCopy changes it,
 *     and puts it back before it returns.
 *   - registry_lock (a rwlock) guards registry, registry_len, registry_cap,
 *     every region's `access` bytes and `mapped` flag, and which pages are
 *     mapped with which protection. Anything that changes them (map, unmap,
 *     remap, protect, the release or pinning of a region) holds it for
 *     writing; lock, unlock, wipe, fill, copy, equals and detach hold it for
 *     reading. A lookup of a pointer in the registry, the access
 *     decision taken from the region found, and the memory operation built on
 *     that decision all happen under one read lock, so no region is freed,
 *     unmapped or made less accessible in between.
 *   - creating, teardown_checked: thread-local (__thread).
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
#define _GNU_SOURCE

#include <node_api.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
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

/*
 * One byte per page; the values are the PROT_* bits, so protect() hands them to mprotect.
 * ACCESS_KEYED has neither PROT_READ nor PROT_WRITE: every access check refuses it, as 'none'.
 */
enum { ACCESS_NONE = PROT_NONE, ACCESS_READ = PROT_READ, ACCESS_RW = PROT_READ | PROT_WRITE };
enum { ACCESS_KEYED = 8 };

/*
 * Memory protection keys (x86-64 PKU). probe_kernel allocates one key per
 * process, with access disabled. protect(..., 'keyed') maps pages read-write
 * tagged with that key: every thread's PKRU register denies them, so any load
 * or store faults (SEGV_PKUERR), and so does the kernel touching them for a
 * system call of that thread (read(2) into them fails with EFAULT). Changing
 * a thread's PKRU is one unprivileged instruction with no TLB flush, which is
 * why keyedCopy can open the key for one memmove and close it again in tens of
 * nanoseconds, where an mprotect pair costs microseconds. The key is open only
 * inside keyedCopy, on that thread, with no JavaScript running: a thread
 * created by another inherits its PKRU, and every thread is created with the
 * key closed; signal handlers run with the kernel's default PKRU, which denies
 * it. Other protect() calls reset the pages to key 0 (pkey_mprotect), so a
 * page leaves the keyed state by any protect, and munmap forgets the key.
 */
#if defined(__x86_64__) && defined(SYS_pkey_alloc) && defined(SYS_pkey_mprotect)
#define HAVE_PKEYS 1
/* RDPKRU / WRPKRU, spelled as bytes so that no -mpku flag (or assembler support) is needed. */
static inline uint32_t pkru_read(void) {
  uint32_t eax, edx;
  __asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
  (void)edx; /* always 0 */
  return eax;
}
/* The "memory" clobber keeps every load and store on its side of the write. */
static inline void pkru_write(uint32_t value) {
  __asm__ volatile(".byte 0x0f, 0x01, 0xef" : : "a"(value), "c"(0), "d"(0) : "memory");
}
#else
#define pkru_read() 0u        /* never called without HAVE_PKEYS: process_pkey stays -1, */
#define pkru_write(v) (void)v /* so keyedCopy refuses first */
#endif

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
static int simulate_no_external;       /* TARSJS_OS_MEMLOCK_SIMULATE_NO_EXTERNAL_BUFFERS=1 */
static char duplicate[PATH_MAX + 200]; /* why not to load: another copy serves the process */

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

/*
 * Throws; returns NULL for the caller to return: an export's napi_value, or
 * the pointer of a reader or check below (each returns its result, or NULL
 * with an exception pending).
 */
static void *fail(napi_env env, thrower kind, const char *code, const char *msg) {
  (void)kind(env, code, msg); /* fails only with an exception pending: that one is thrown */
  return NULL;
}

/* The errors thrown by code, for `return X_ERROR(...)` (env is the caller's). */
#define ERROR(code, msg) fail(env, napi_throw_error, code, msg)
#define TYPE_ERROR(msg) fail(env, napi_throw_type_error, "ERR_INVALID_ARG_TYPE", msg)
#define VALUE_ERROR(msg) fail(env, napi_throw_type_error, "ERR_INVALID_ARG_VALUE", msg)
#define RANGE_ERROR(msg) fail(env, napi_throw_range_error, "ERR_OUT_OF_RANGE", msg)

/* ERR_INVALID_ARG_TYPE: `what` ("argument" or "property") `name` must be of `type`. */
static void *refuse_type(napi_env env, const char *what, const char *name, const char *type) {
  char msg[160];
  /* All three are short constants of this file: it always fits. */
  (void)snprintf(msg, sizeof msg, "The \"%s\" %s must be of type %s", name, what, type);
  return TYPE_ERROR(msg);
}

/* The errno values reported by name (any other is EUNKNOWN); a table, four a line. */
/* clang-format off */
static const struct { int e; const char *code; } errno_codes[] = {
    {ENOMEM, "ENOMEM"}, {EAGAIN, "EAGAIN"}, {EPERM, "EPERM"},   {EINVAL, "EINVAL"},
    {ENOSYS, "ENOSYS"}, {EFAULT, "EFAULT"}, {EBADF, "EBADF"},   {EACCES, "EACCES"},
    {EMFILE, "EMFILE"}, {ENFILE, "ENFILE"}, {EOVERFLOW, "EOVERFLOW"}};
/* clang-format on */

static void *throw_errno(napi_env env, const char *syscall_name, int e) {
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
    return ERROR(c, msg);
  (void)napi_throw(env, err); /* fails only with an exception pending: that one is thrown */
  return NULL;
}

/* A failed Node-API call leaves an exception pending or is a bug: throw if none is. */
static void *throw_napi(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return NULL;
  return ERROR("ERR_NAPI", "os-memlock: a Node-API call failed");
}

#define NAPI_CALL(call)                            \
  do {                                             \
    if ((call) != napi_ok) return throw_napi(env); \
  } while (0)

#define ARGS(n)       \
  size_t argc = n;    \
  napi_value argv[n]; \
  NAPI_CALL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL))

/* A boolean or a number, for an export to return (NULL with an exception pending). */
static napi_value boolean(napi_env env, bool b) {
  napi_value out;
  return napi_get_boolean(env, b, &out) == napi_ok ? out : throw_napi(env);
}

static napi_value number(napi_env env, double d) {
  napi_value out;
  return napi_create_double(env, d, &out) == napi_ok ? out : throw_napi(env);
}

/*
 * Why an operation on a range is refused. Decided with the registry lock held
 * and thrown by refusal() once it is released (throwing calls into V8).
 */
enum { FAIL_NONE, FAIL_NOT_READABLE, FAIL_NOT_WRITABLE, FAIL_OWNED, FAIL_PAST_REGION };
enum { FAIL_KEY_OPEN = FAIL_PAST_REGION + 1 };
static const char *const refusals[][2] = {
    [FAIL_NOT_READABLE] = {"ERR_REGION_PROTECTED", "The range is not readable (protected 'none')"},
    [FAIL_NOT_WRITABLE] = {"ERR_REGION_PROTECTED", "The range is not writable ('none' or 'read')"},
    [FAIL_OWNED] = {"ERR_REGION_OWNED",
                    "The view's memory belongs to an os-memlock region: lock and unlock it "
                    "through its region (the layers above count locks per page; munlock does not)"},
    [FAIL_PAST_REGION] = {"ERR_OUT_OF_RANGE", "The view extends past the end of its region"},
    [FAIL_KEY_OPEN] = {"ERR_PROTECTION_KEY_OPEN",
                       "This thread's PKRU register already allowed the protection key: something "
                       "other than os-memlock opened it, so keyed memory was readable here"},
};

/* Throws the refusal `why`, if any; NULL either way. */
static napi_value refusal(napi_env env, int why) {
  return why == FAIL_NONE ? NULL : ERROR(refusals[why][0], refusals[why][1]);
}

/* ---- argument readers (return their result, or NULL with an exception pending) ---------- */

/* One Node-API call per argument: these run right after system calls, where each costs most. */
static size_t *read_size(napi_env env, napi_value v, const char *name, size_t *out) {
  double d;
  napi_status st = napi_get_value_double(env, v, &d);
  if (st == napi_number_expected) return refuse_type(env, "argument", name, "number");
  if (st != napi_ok) return NULL;
  /* An integer in [0, 2^53 - 1] (the cast is evaluated only then), that a size_t holds. */
  if (d >= 0 && d <= 9007199254740991.0 && (double)(uint64_t)d == d && d <= (double)SIZE_MAX)
    return (*out = (size_t)d), out;
  char msg[160]; /* names are short constants: it always fits */
  (void)snprintf(msg, sizeof msg, "The value of \"%s\" is out of range. %s", name,
                 "It must be an integer >= 0 and <= 2^53 - 1");
  return RANGE_ERROR(msg);
}

/* A choice among string names (a table ended by a NULL name); `msg` when it is none of them. */
typedef struct {
  const char *name;
  int value;
} choice;

static int *read_choice(napi_env env, napi_value v, const char *name, const choice *c,
                        const char *msg, int *out) {
  char buf[16];
  size_t len;
  napi_status st = napi_get_value_string_utf8(env, v, buf, sizeof buf, &len);
  if (st == napi_string_expected) return refuse_type(env, "argument", name, "string");
  if (st != napi_ok) return NULL;
  /* An embedded NUL ("none\0x") must not pass as "none": then nothing matches. */
  for (; strlen(buf) == len && c->name != NULL; c++)
    if (strcmp(buf, c->name) == 0) return (*out = c->value), out;
  return VALUE_ERROR(msg);
}

/* An optional boolean (index.js passes options.x through): undefined is false. */
static bool *read_flag(napi_env env, napi_value v, const char *name, bool *out) {
  napi_valuetype t;
  *out = false;
  if (napi_typeof(env, v, &t) != napi_ok) return NULL;
  if (t == napi_undefined) return out;
  if (t != napi_boolean) return refuse_type(env, "property", name, "boolean");
  return napi_get_value_bool(env, v, out) == napi_ok ? out : NULL;
}

/*
 * Every page of [offset, offset + length) must allow `need` (lock held, or the
 * owner thread); with KEYED_OK in need, a keyed page passes too (keyedCopy).
 */
enum { KEYED_OK = 0x100 };
static int access_fail(const region *r, size_t offset, size_t length, int need) {
  int keyed_ok = need & KEYED_OK;
  need &= ~KEYED_OK;
  for (size_t p = offset / page_size; length > 0 && p <= (offset + length - 1) / page_size; p++)
    if ((r->access[p] & need) != need && !(keyed_ok && r->access[p] == ACCESS_KEYED))
      return need == ACCESS_READ ? FAIL_NOT_READABLE : FAIL_NOT_WRITABLE;
  return FAIL_NONE;
}

/* The bytes read_target found: in a region, or in an ArrayBufferView (is_view). */
typedef struct {
  uint8_t *ptr, *vbase;           /* the range's first byte; a view's first byte */
  size_t length, offset, vlength; /* the range's; of ptr within r; a view's byte length */
  region *r; /* the region holding the bytes, or NULL (set by resolve_target for views) */
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

/* What read_target accepts (a mapped region, always) and asks for. */
enum { VIEWS = 1, UNMAPPED = 2, PAGES = 4 };

/*
 * A "target": a region with (offset, length), and with VIEWS also any
 * ArrayBufferView, acting on exactly its own bytes (offset and length then
 * count within the view). UNMAPPED: an unmapped region passes. PAGES: a
 * region's range must be whole pages. A NULL offset or length means 0 or "the
 * rest". read_target reads the arguments (Node-API, no lock); resolve_target
 * then finds the region holding a view under the registry lock.
 */
static span *read_target(napi_env env, napi_value v, napi_value off_v, napi_value len_v, int flags,
                         span *s) {
  bool is_ta = false, is_dv = false, tagged = false;
  napi_valuetype t;
  napi_typedarray_type tt = napi_uint8_array;
  napi_value ab;
  void *data = NULL;
  size_t offset = 0, boff, total;
  memset(s, 0, sizeof *s);
  /* The type first: a region (an external) then needs no other test. */
  if (napi_typeof(env, v, &t) != napi_ok || ((flags & VIEWS) && t == napi_object &&
                                             (napi_is_typedarray(env, v, &is_ta) != napi_ok ||
                                              napi_is_dataview(env, v, &is_dv) != napi_ok)))
    return NULL;
  if (is_ta && napi_get_typedarray_info(env, v, &tt, &s->vlength, &data, &ab, &boff) != napi_ok)
    return NULL;
  if (is_dv && napi_get_dataview_info(env, v, &s->vlength, &data, &ab, &boff) != napi_ok)
    return NULL;
  if ((unsigned)tt >= sizeof element_size || element_size[tt] == 0)
    return TYPE_ERROR("This kind of typed array is not supported (element size unknown)");
  s->vlength *= element_size[tt]; /* a typed array's length counts elements; a DataView's bytes */
  s->vbase = data;
  s->is_view = is_ta || is_dv;
  if (!s->is_view) {
    /* Not a view: a region handle, whose type tag is checked. */
    if ((flags & VIEWS) && t != napi_external)
      return TYPE_ERROR("The target must be a Region or an ArrayBufferView");
    if (t == napi_external && napi_check_object_type_tag(env, v, &region_tag, &tagged) != napi_ok)
      return NULL;
    if (!tagged || napi_get_value_external(env, v, (void **)&s->r) != napi_ok || s->r == NULL)
      return TYPE_ERROR("The \"region\" argument must be a Region created by os-memlock");
    if (!(flags & UNMAPPED) && !s->r->mapped)
      return ERROR("ERR_REGION_UNMAPPED", "The region has been unmapped");
  }
  total = s->is_view ? s->vlength : s->r->length;
  if (off_v != NULL && !read_size(env, off_v, "offset", &offset)) return NULL;
  s->length = offset <= total ? total - offset : 0; /* "the rest", unless a length is given */
  if (len_v != NULL && !read_size(env, len_v, "length", &s->length)) return NULL;
  /* offset + length must lie inside [0, total]; written so that it cannot overflow. */
  if (offset > total || s->length > total - offset)
    return RANGE_ERROR("The range offset + length is outside the target");
  if ((flags & PAGES) && !s->is_view &&
      (offset % page_size != 0 || s->length % page_size != 0 || s->length == 0))
    return RANGE_ERROR("offset and length must be page multiples, and length > 0");
  if (s->is_view) s->ptr = s->vbase == NULL ? NULL : s->vbase + offset;
  else s->ptr = s->r->base + (s->offset = offset);
  return s;
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
  if (i == 0 || registry[i - 1] != r) integrity_failure("a mapped region is not in the registry");
  memmove(registry + i - 1, registry + i, (registry_len-- - i) * sizeof *registry);
}

/*
 * With the registry lock held for reading: a view of a region is that region
 * (its protections apply), then the access `need` is checked. Returns FAIL_*.
 */
static int resolve_target(span *s, int need) {
  /* The region holding the view's first byte: the last one starting at or below it. */
  size_t i = s->is_view && s->vlength > 0 ? registry_upper(s->vbase) : 0;
  if (i > 0 && s->vbase < registry[i - 1]->base + registry[i - 1]->length) {
    s->r = registry[i - 1];
    /* view() never hands out more than its region: one ending past it is refused, not trusted. */
    if (s->vlength > s->r->length - (size_t)(s->vbase - s->r->base)) return FAIL_PAST_REGION;
    s->offset = s->length == 0 ? 0 : (size_t)(s->ptr - s->r->base);
  }
  return s->r == NULL ? FAIL_NONE : access_fail(s->r, s->offset, s->length, need);
}

/* ---- region lifetime (owner thread) ---------------------------------------------------- */

/*
 * Takes r out of the registry and gives its address range back, under the
 * write lock: the address can be handed out again only once no entry names
 * it, so no thread matches a freed address. Returns 0, or munmap's errno (r is
 * then back in the registry, still mapped).
 *
 * A pinned region (its last view may live on in another thread) is never
 * unmapped: a fresh private zero mapping replaces it in place (MAP_FIXED: one
 * step, no gap another mmap could take), so that view reads and writes zeros,
 * never faults and never meets another secret. The old pages, lock and
 * secretmem go with the replaced mapping; the range is plain memory now, so
 * it leaves the registry.
 */
static int region_unmap(region *r) {
  int rw = PROT_READ | PROT_WRITE, e = 0;
  lock_write();
  registry_remove(r);
  if (!r->pinned && munmap(r->base, r->length) != 0) e = errno;
  /* If that fails the old mapping stays, unreachable for a new mmap: make it zeros. */
  if (r->pinned &&
      mmap(r->base, r->length, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED &&
      mprotect(r->base, r->length, rw) == 0)
    explicit_bzero(r->base, r->length);
  if (e != 0) (void)registry_insert(r); /* into the slot just freed: no allocation, no failure */
  r->mapped = e != 0;
  unlock();
  return e;
}

/* Drops one count. The last one frees the region, and unmaps it if unmap() was not called. */
static void region_release(region *r) {
  if (r->counts == 0) integrity_failure("a region count dropped below zero");
  if (--r->counts > 0) return;
  /* Nothing in JavaScript can reach the memory any more. */
  if (r->mapped) must(region_unmap(r), "munmap of a released region");
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
  region *r; /* NULL once the count was given back (a failed creation) */
} view_token;

static __thread view_token *creating; /* view_finalize clears it if it runs for that token */
static __thread int teardown_checked; /* this thread's regions were checked for views that left */

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
 * pinned: region_unmap replaces it with zeros instead of unmapping it.
 */
static void check_teardown(napi_env env) {
  napi_handle_scope scope = NULL;
  size_t i, n = 0;
  lock_read();
  region **mine = malloc((registry_len + 1) * sizeof *mine);
  for (i = 0; i < registry_len; i++) {
    /* env first: other threads' fields are theirs. */
    if (registry[i]->env != env || registry[i]->tokens == 0) continue;
    if (mine != NULL) mine[n++] = registry[i];
    else registry[i]->pinned = 1; /* cannot check: pin */
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
  bool pending = true;
  (void)data; /* the view's bytes: the token names their region */
  if (t == creating) {
    creating = NULL; /* js_view settles it when the call returns */
    return;
  }
  /*
   * At the first finalizer of a teardown the thread's regions are checked:
   * Node-API then refuses to call into JavaScript (asked before the arguments,
   * so the call does nothing either way). It refuses the same way while an
   * exception is pending: that is a "maybe", checked (pinning errs safe) now
   * and again at a later finalizer.
   */
  if (t->r != NULL && !teardown_checked &&
      napi_call_function(env, NULL, NULL, 0, NULL, NULL) == napi_pending_exception) {
    teardown_checked = napi_is_exception_pending(env, &pending) == napi_ok && !pending;
    check_teardown(env);
  }
  if (t->r != NULL) {
    t->r->tokens--;
    region_release(t->r);
  }
  free(t);
}

/* ---- system calls with more than one step ------------------------------------------------ */

/* Names the call that failed and its errno, for the caller to report; MAP_FAILED. */
static void *failed(const char *call, int *e, const char **sys) {
  *e = errno;
  *sys = call;
  return MAP_FAILED;
}

/*
 * A memfd_secret(2) mapping anywhere, read-write; the fd is close-on-exec and
 * closed once mapped (the mapping holds the file). MAP_FAILED on failure, with
 * *e and *sys naming the errno and the call that failed.
 */
static uint8_t *secret_mmap(size_t length, int *e, const char **sys) {
  long fd = syscall(SYS_memfd_secret, (unsigned int)O_CLOEXEC);
  uint8_t *p = MAP_FAILED;
  if (fd < 0) return failed("memfd_secret", e, sys);
  if (ftruncate((int)fd, (off_t)length) != 0) p = failed("ftruncate", e, sys);
  else if ((p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0)) == MAP_FAILED)
    (void)failed("mmap", e, sys); /* p is MAP_FAILED already */
  /* After a failure the first error is the one reported: close then only frees the fd. */
  if (close((int)fd) == 0 || p == MAP_FAILED) return p;
  (void)failed("close", e, sys); /* MAP_FAILED is returned once p is unmapped */
  must(munmap(p, length), "munmap of a fresh secret mapping");
  return MAP_FAILED;
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
  if (kind != KIND_SECRET)
    return (p = mmap(addr, length, prot, flags, -1, 0)) != MAP_FAILED ? p : failed("mmap", e, sys);
  if ((tmp = secret_mmap(length, e, sys)) == MAP_FAILED || addr == NULL) return tmp;
  p = mremap(tmp, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, addr);
  if (p != MAP_FAILED) return p;
  (void)failed("mremap", e, sys); /* MAP_FAILED is returned once tmp is unmapped */
  must(munmap(tmp, length), "munmap of an unplaced secret mapping");
  return MAP_FAILED;
}

/* ---- probes ------------------------------------------------------------------------------ */

/*
 * The kernel's answers, probed once per process (pthread_once: worker threads
 * may ask at the same time): CAP_* bits, which index.js names. probe_errno is
 * the errno of a failed probe mmap.
 */
enum { CAP_MLOCK = 1, CAP_DONTDUMP = 2, CAP_WIPEONFORK = 4, CAP_DONTFORK = 8, CAP_SECRET = 16 };
enum { CAP_PKEYS = 32 };
static uint32_t caps;
static int probe_errno;
static int process_pkey = -1; /* the key of 'keyed' pages; -1 when there is none */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void probe_kernel(void) {
  uint8_t *page = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    probe_errno = errno;
    return;
  }
  if (mlock(page, page_size) == 0 && munlock(page, page_size) == 0) caps |= CAP_MLOCK;
  if (madvise(page, page_size, MADV_DONTDUMP) == 0) caps |= CAP_DONTDUMP;
  if (madvise(page, page_size, MADV_WIPEONFORK) == 0) caps |= CAP_WIPEONFORK;
  if (madvise(page, page_size, MADV_DONTFORK) == 0) caps |= CAP_DONTFORK;
  must(munmap(page, page_size), "munmap of a probe page");
  long fd = syscall(SYS_memfd_secret, (unsigned int)O_CLOEXEC);
  if (fd >= 0 && close((int)fd) == 0) caps |= CAP_SECRET;
#ifdef HAVE_PKEYS
  /*
   * Never freed: pages keep it until they are protected again or unmapped.
   * PKEY_DISABLE_ACCESS (1) sets this thread's rights; other threads' PKRU
   * already deny every key but 0 (the kernel's default), and threads created
   * later inherit a PKRU that denies it. Fails (ENOSPC, EINVAL, ENOSYS) on a
   * CPU or kernel without protection keys, or when all 15 are taken.
   */
  const char *no_pkeys = getenv("TARSJS_OS_MEMLOCK_SIMULATE_NO_PKEYS"); /* tests of the fallback */
  long key =
      no_pkeys != NULL && strcmp(no_pkeys, "1") == 0 ? -1 : syscall(SYS_pkey_alloc, 0UL, 1UL);
  if (key > 0 && key < 16) {
    process_pkey = (int)key;
    caps |= CAP_PKEYS;
  }
#endif
}

/* mprotect; or pkey_mprotect when a key exists, which also resets other accesses to key 0. */
static int set_protection(uint8_t *ptr, size_t length, int access) {
#ifdef HAVE_PKEYS
  if (process_pkey > 0)
    return (int)syscall(SYS_pkey_mprotect, ptr, length,
                        access == ACCESS_KEYED ? ACCESS_RW : access, /* ACCESS_* are PROT_* bits */
                        access == ACCESS_KEYED ? process_pkey : 0);
#endif
  return mprotect(ptr, length, access); /* ACCESS_KEYED never gets here: protect refuses it */
}

/* ---- exports: validate the arguments, one system call, return ------------------------------ */

static napi_value js_pageSize(napi_env env, napi_callback_info info) {
  (void)info; /* no arguments */
  return number(env, (double)page_size);
}

static napi_value js_capabilities(napi_env env, napi_callback_info info) {
  (void)info; /* no arguments */
  must(pthread_once(&probe_once, probe_kernel), "pthread_once");
  return probe_errno != 0 ? throw_errno(env, "mmap", probe_errno) : number(env, caps);
}

static napi_value js_map(napi_env env, napi_callback_info info) {
  ARGS(2);
  size_t length;
  bool secret = false;
  int e;
  const char *sys;
  napi_value out;
  if (!read_size(env, argv[0], "byteLength", &length)) return NULL;
  if (length == 0 || length % page_size != 0)
    return RANGE_ERROR("byteLength must be a positive multiple of the page size");
  if (!read_flag(env, argv[1], "options.secret", &secret)) return NULL;
  region *r = calloc(1, sizeof *r + length / page_size);
  if (r == NULL) return throw_errno(env, "malloc", ENOMEM);
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
  span s;
  if (!read_target(env, argv[0], NULL, NULL, 0, &s) || !sweep_views(env, s.r, 0, s.r->length))
    return NULL;
  int e = region_unmap(s.r);
  return e == 0 ? NULL : throw_errno(env, "munmap", e);
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
  span s;
  int kind, e = 0;
  const char *sys = "mmap";
  if (!read_target(env, argv[0], argv[1], argv[2], PAGES, &s) ||
      !read_choice(env, argv[3], "kind", remap_kinds,
                   "The \"kind\" argument must be 'none', 'readwrite' or 'secret'", &kind) ||
      !sweep_views(env, s.r, s.offset, s.length))
    return NULL;
  /* Written lock: the pages change under any thread that looked this region up. */
  lock_write();
  uint8_t *p = fresh_map(s.ptr, s.length, kind, &e, &sys);
  if (p != MAP_FAILED && p != s.ptr) integrity_failure("mmap(MAP_FIXED) placed memory elsewhere");
  memset(s.r->access + s.offset / page_size,
         p == MAP_FAILED || kind == KIND_NONE ? ACCESS_NONE : ACCESS_RW, s.length / page_size);
  unlock();
  return p != MAP_FAILED ? NULL : throw_errno(env, sys, e);
}

static napi_value js_isMapped(napi_env env, napi_callback_info info) {
  ARGS(1);
  span s;
  return read_target(env, argv[0], NULL, NULL, UNMAPPED, &s) ? boolean(env, s.r->mapped) : NULL;
}

static const choice accesses[] = {{"none", ACCESS_NONE},
                                  {"read", ACCESS_READ},
                                  {"readwrite", ACCESS_RW},
                                  {"keyed", ACCESS_KEYED},
                                  {0}};

/*
 * protect(region, offset, length, access[, { keepViews: true }]). keepViews is
 * the one, named, opt-out of the view invariant: libsodium-compatible buffers
 * must survive noaccess -> readwrite, and touching them while no-access faults
 * as it does in libsodium. Nothing else in tarsjs passes it.
 */
static napi_value js_protect(napi_env env, napi_callback_info info) {
  ARGS(5);
  span s;
  int access;
  bool keep_views;
  if (!read_target(env, argv[0], argv[1], argv[2], PAGES, &s) ||
      !read_choice(env, argv[3], "access", accesses,
                   "The \"access\" argument must be 'none', 'read', 'readwrite' or 'keyed'",
                   &access) ||
      !read_flag(env, argv[4], "options.keepViews", &keep_views))
    return NULL;
  must(pthread_once(&probe_once, probe_kernel), "pthread_once");
  if (access == ACCESS_KEYED && process_pkey <= 0)
    return ERROR("ERR_UNSUPPORTED",
                 "No memory protection key: protect(..., 'keyed') needs a CPU "
                 "and kernel with protection keys (capabilities().protectionKeys)");
  /* Views go first: none may outlive the readability of its memory. */
  if ((access == ACCESS_NONE || access == ACCESS_KEYED) && !keep_views &&
      !sweep_views(env, s.r, s.offset, s.length))
    return NULL;
  /* Written lock: no other thread may be between its access decision and its memory operation. */
  lock_write();
  int rc = set_protection(s.ptr, s.length, access), e = errno;
  if (rc == 0) memset(s.r->access + s.offset / page_size, access, s.length / page_size);
  unlock();
  return rc == 0 ? NULL : throw_errno(env, process_pkey > 0 ? "pkey_mprotect" : "mprotect", e);
}

/* lock / unlock: a region (page-aligned range) or any ArrayBufferView. */
static napi_value lock_op(napi_env env, napi_callback_info info, int lock) {
  ARGS(4);
  span s;
  bool on_fault = false;
  int e = 0; /* the errno of a failed call */
  if (!read_target(env, argv[0], opt(env, argv[1]), opt(env, argv[2]), VIEWS | PAGES, &s) ||
      (lock && !read_flag(env, argv[3], "options.onFault", &on_fault)))
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
  if (why == FAIL_NONE && s.length > 0 &&
      (!lock      ? munlock(s.ptr, s.length)
       : on_fault ? mlock2(s.ptr, s.length, MLOCK_ONFAULT)
                  : mlock(s.ptr, s.length)) != 0)
    e = errno;
  unlock();
  if (why != FAIL_NONE) return refusal(env, why);
  return e == 0 ? NULL : throw_errno(env, !lock ? "munlock" : on_fault ? "mlock2" : "mlock", e);
}

static napi_value js_lock(napi_env env, napi_callback_info info) { return lock_op(env, info, 1); }
static napi_value js_unlock(napi_env env, napi_callback_info info) { return lock_op(env, info, 0); }

/* One advice per call: MADV_* values are an enum, not flags. */
/* clang-format off */
static const choice advices[] = {
    {"dontdump", MADV_DONTDUMP},     {"dodump", MADV_DODUMP},     {"wipeonfork", MADV_WIPEONFORK},
    {"keeponfork", MADV_KEEPONFORK}, {"dontfork", MADV_DONTFORK}, {"dofork", MADV_DOFORK}, {0}};
/* clang-format on */

static napi_value js_advise(napi_env env, napi_callback_info info) {
  ARGS(4);
  span s;
  int advice;
  if (!read_target(env, argv[0], argv[1], argv[2], PAGES, &s) ||
      !read_choice(env, argv[3], "advice", advices,
                   "The \"advice\" argument must be 'dontdump', 'dodump', 'wipeonfork', "
                   "'keeponfork', 'dontfork' or 'dofork'",
                   &advice))
    return NULL;
  return madvise(s.ptr, s.length, advice) == 0 ? NULL : throw_errno(env, "madvise", errno);
}

static napi_value js_wipe(napi_env env, napi_callback_info info) {
  ARGS(3);
  span s;
  if (!read_target(env, argv[0], opt(env, argv[1]), opt(env, argv[2]), VIEWS, &s)) return NULL;
  lock_read();
  int why = resolve_target(&s, ACCESS_RW);
  /* explicit_bzero: a store the compiler may not drop as dead. */
  if (why == FAIL_NONE && s.length > 0) explicit_bzero(s.ptr, s.length);
  unlock();
  return refusal(env, why);
}

static napi_value js_fill(napi_env env, napi_callback_info info) {
  ARGS(4);
  span s;
  size_t byte;
  if (!read_target(env, argv[0], argv[1], argv[2], 0, &s) ||
      !read_size(env, argv[3], "byte", &byte))
    return NULL;
  if (byte > 255)
    return RANGE_ERROR("The value of \"byte\" is out of range. It must be >= 0 and <= 255");
  lock_read();
  int why = resolve_target(&s, ACCESS_RW);
  if (why == FAIL_NONE) memset(s.ptr, (int)byte, s.length);
  unlock();
  return refusal(env, why);
}

/* (a, aOffset, b, bOffset, length): two targets of one length, for copy and equals. */
static int read_pair(napi_env env, napi_value *argv, span *a, span *b) {
  size_t length;
  return read_size(env, argv[4], "length", &length) &&
         read_target(env, argv[0], argv[1], argv[4], VIEWS, a) &&
         read_target(env, argv[2], argv[3], argv[4], VIEWS, b);
}

/*
 * copy(src, srcOffset, dst, dstOffset, length): memory to memory, never via
 * the JS heap. keyedCopy: the same, where either side may also be keyed pages;
 * this thread's PKRU opens the key for the memmove alone and is put back as it
 * was. A key found already open was opened by someone else: refused
 * (ERR_PROTECTION_KEY_OPEN), nothing copied; what that means is the caller's
 * policy.
 */
static napi_value copy_op(napi_env env, napi_callback_info info, int keyed) {
  ARGS(5);
  span src, dst;
  uint32_t pkru = 0, bit = 0; /* bit: the key's access-disable bit; the next one is write-disable */
  if (!read_pair(env, argv, &src, &dst)) return NULL;
  if (keyed) {
    must(pthread_once(&probe_once, probe_kernel), "pthread_once");
    if (process_pkey <= 0) return ERROR("ERR_UNSUPPORTED", "No memory protection key: use copy()");
    bit = 1u << (2 * process_pkey);
  }
  lock_read();
  int why = resolve_target(&src, ACCESS_READ | (keyed ? KEYED_OK : 0));
  if (why == FAIL_NONE) why = resolve_target(&dst, ACCESS_RW | (keyed ? KEYED_OK : 0));
  if (why == FAIL_NONE && bit != 0 && ((pkru = pkru_read()) & bit) == 0) why = FAIL_KEY_OPEN;
  if (why == FAIL_NONE && src.length > 0) {
    if (bit != 0) pkru_write(pkru & ~(3 * bit));
    memmove(dst.ptr, src.ptr, src.length);
    if (bit != 0) pkru_write(pkru);
  }
  unlock();
  return refusal(env, why);
}
static napi_value js_copy(napi_env env, napi_callback_info info) { return copy_op(env, info, 0); }
static napi_value js_keyedCopy(napi_env env, napi_callback_info info) {
  return copy_op(env, info, 1);
}

/* Constant time in the length: every byte is read, no early exit. */
static napi_value js_equals(napi_env env, napi_callback_info info) {
  ARGS(5);
  span a, b;
  volatile uint8_t d = 0;
  if (!read_pair(env, argv, &a, &b)) return NULL;
  lock_read();
  int why = resolve_target(&a, ACCESS_READ);
  if (why == FAIL_NONE) why = resolve_target(&b, ACCESS_READ);
  for (size_t i = 0; why == FAIL_NONE && i < a.length; i++)
    d |= ((const volatile uint8_t *)a.ptr)[i] ^ ((const volatile uint8_t *)b.ptr)[i];
  unlock();
  return why != FAIL_NONE ? refusal(env, why) : boolean(env, d == 0);
}

/* Room for one more view entry (owner thread). Returns 0 with an exception pending. */
static region *views_reserve(napi_env env, region *r) {
  size_t cap = r->cap ? r->cap * 2 : 8;
  view_entry *grown;
  if (r->nviews < r->cap) return r;
  /* Drop collected and detached entries before growing: amortised O(1). */
  if (!sweep_views(env, r, 0, 0)) return NULL;
  if (r->nviews * 2 < r->cap) return r;
  if ((grown = realloc(r->views, cap * sizeof *grown)) == NULL)
    return throw_errno(env, "malloc", ENOMEM);
  r->views = grown;
  r->cap = cap;
  return r;
}

static napi_value js_view(napi_env env, napi_callback_info info) {
  ARGS(3);
  span s;
  napi_value ab = NULL;
  napi_ref ref;
  if (!read_target(env, argv[0], argv[1], argv[2], 0, &s)) return NULL;
  if (s.length == 0) return RANGE_ERROR("A view must be at least one byte long");
  region *r = s.r;
  /* Only this thread changes r->access (see the thread contract): no lock needed to read it. */
  int why = access_fail(r, s.offset, s.length, ACCESS_READ);
  if (why != FAIL_NONE) return refusal(env, why);
  if (!views_reserve(env, r)) return NULL;
  view_token *token = malloc(sizeof *token);
  if (token == NULL) return throw_errno(env, "malloc", ENOMEM);
  token->r = r;
  r->counts++; /* the token's; the handle in argv[0] holds another, so r outlives this call */
  r->tokens++;
  creating = token;
  /* The test switch takes the path of a runtime that refuses external buffers. */
  napi_status st = simulate_no_external ? napi_no_external_buffers_allowed
                                        : napi_create_external_arraybuffer(
                                              env, s.ptr, s.length, view_finalize, token, &ab);
  int finalized = creating == NULL; /* view_finalize ran inside the call */
  creating = NULL;
  /*
   * A finalizer that ran inside the call does not run again: the token is
   * settled here. Node checks for external buffers before creating anything,
   * so then nothing holds the token either. After any other failure a
   * finalizer may or may not come: the count is given back now and the token
   * left to it.
   */
  if (finalized || st != napi_ok) {
    r->tokens--;
    region_release(r);
  }
  if (finalized || st == napi_no_external_buffers_allowed) free(token);
  else if (st != napi_ok) token->r = NULL;
  if (st == napi_no_external_buffers_allowed)
    return ERROR("ERR_EXTERNAL_BUFFERS_UNAVAILABLE",
                 "This runtime does not allow external ArrayBuffers (for example Electron's or "
                 "V8's sandbox); os-memlock cannot hand out views of protected memory here");
  if (st != napi_ok || finalized || napi_create_reference(env, ab, 0, &ref) != napi_ok) {
    /*
     * A buffer whose finalizer already ran holds no count, and an untracked one
     * would outlive protect('none') (its finalizer gives the count back):
     * neither may stay attached to the memory.
     */
    if (st == napi_ok) must(napi_detach_arraybuffer(env, ab), "a stray view stayed attached");
    return throw_napi(env);
  }
  r->views[r->nviews++] = (view_entry){.ref = ref, .offset = s.offset, .length = s.length};
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
  NAPI_CALL(napi_is_arraybuffer(env, argv[0], &is_ab));
  if (!is_ab) return TYPE_ERROR("The \"arrayBuffer\" argument must be an ArrayBuffer");
  NAPI_CALL(napi_is_detached_arraybuffer(env, argv[0], &detached));
  if (detached) return NULL;
  NAPI_CALL(napi_get_arraybuffer_info(env, argv[0], &data, &length));
  /* Looked up as any view is: in no region, or past the end of its region, it is refused. */
  span s = {.ptr = data, .length = length, .vbase = data, .vlength = length, .is_view = 1};
  lock_read();
  int why = resolve_target(&s, ACCESS_NONE);
  unlock();
  /* s.r is not read after the lock is released: only whether the memory lay in a region. */
  if (why != FAIL_NONE || s.r == NULL)
    return VALUE_ERROR("Only views of os-memlock regions are detached: this buffer is not one");
  if (napi_detach_arraybuffer(env, argv[0]) == napi_ok) return NULL;
  /* With an exception pending this throws nothing, and that exception is the one thrown. */
  return VALUE_ERROR("The ArrayBuffer cannot be detached");
}

/* How many mappings the registry holds: index.js offers it only to tests
 * (TARSJS_OS_MEMLOCK_TEST=1). */
static napi_value js_registryCount(napi_env env, napi_callback_info info) {
  (void)info; /* no arguments */
  lock_read();
  size_t n = registry_len;
  unlock();
  return number(env, (double)n);
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

/*
 * Once per process, on the first thread that loads this copy of the addon.
 * The test switches are read here, at load, and never again.
 */
static void process_init(void) {
  long ps = sysconf(_SC_PAGESIZE);
  const char *no_external = getenv("TARSJS_OS_MEMLOCK_SIMULATE_NO_EXTERNAL_BUFFERS");
  const char *seen = getenv(INSTANCE_VAR), *colon;
  Dl_info self;
  char mine[PATH_MAX + 32];
  page_size = ps > 0 ? (size_t)ps : 0;
  simulate_no_external = no_external != NULL && strcmp(no_external, "1") == 0;
  /* Cannot tell which binary this is, or its path is too long to name: no claim. */
  if (dladdr((void *)process_init, &self) == 0 || self.dli_fname == NULL ||
      snprintf(mine, sizeof mine, "%ld:%s", (long)getpid(), self.dli_fname) >= (int)sizeof mine)
    return;
  /*
   * No claim in this process yet: this copy makes it, at its first load,
   * before it hands out anything (setenv's result is not used: if the
   * environment cannot take the value, ENOMEM, a later copy cannot see the
   * claim; nothing else depends on it). A claim by another path: this copy
   * refuses to load (snprintf's result is not used: duplicate has room for any
   * path, the message is never cut).
   */
  if (seen == NULL || (colon = strchr(seen, ':')) == NULL ||
      strtol(seen, NULL, 10) != (long)getpid())
    (void)setenv(INSTANCE_VAR, mine, 1);
  else if (strcmp(seen, mine) != 0)
    (void)snprintf(duplicate, sizeof duplicate,
                   "Another copy of @tarsjs/os-memlock is loaded in this process (%s): two "
                   "copies would keep two region registries. Install one version (let the "
                   "package manager dedupe it)",
                   colon + 1);
}

/* Every export: its name in JavaScript, and js_<name> here. */
#define EXPORT(name) \
  { .utf8name = #name, .method = js_##name, .attributes = napi_enumerable }
static const napi_property_descriptor props[] = {
    EXPORT(pageSize), EXPORT(capabilities),  EXPORT(map),      EXPORT(unmap),  EXPORT(isMapped),
    EXPORT(protect),  EXPORT(lock),          EXPORT(unlock),   EXPORT(advise), EXPORT(wipe),
    EXPORT(fill),     EXPORT(copy),          EXPORT(equals),   EXPORT(view),   EXPORT(detach),
    EXPORT(remap),    EXPORT(registryCount), EXPORT(keyedCopy)};

static napi_value init(napi_env env, napi_value exports) {
  must(pthread_once(&process_once, process_init), "pthread_once");
  if (page_size == 0) return throw_errno(env, "sysconf", EINVAL);
  if (duplicate[0] != '\0') return ERROR("ERR_DUPLICATE_NATIVE_INSTANCE", duplicate);
  NAPI_CALL(napi_define_properties(env, exports, sizeof props / sizeof *props, props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
