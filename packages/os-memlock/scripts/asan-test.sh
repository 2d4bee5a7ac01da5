#!/usr/bin/env bash
# Runs the os-memlock test suite against an AddressSanitizer build of the addon.
#
# Usage:  scripts/asan-test.sh [vitest arguments, e.g. test/views.test.mjs]
#         (pnpm --filter @tarsjs/os-memlock test:asan)
#
# 1. Builds src/binding.c with -fsanitize=address into build-asan/ (build/Release
#    and prebuilds/ are left alone), with the same warnings as binding.gyp.
# 2. Runs vitest with that binary loaded in place of the normal one
#    (TARSJS_OS_MEMLOCK_BINARY, a test-only switch of index.js) and the ASan
#    runtime preloaded (LD_PRELOAD: Node itself is not instrumented, so the
#    runtime must come first). Child processes that the tests start inherit both.
# 3. Fails when any process wrote an ASan report (log_path collects them, so a
#    report from a child whose output a test swallows still counts), when the
#    tests fail, or when the ASan binary was not the one loaded.
#
# Leak detection is off: Node does not free everything at exit, and what the
# addon keeps for the life of the process (the registry) is not a leak.
# allocator_may_return_null: tests ask for absurd sizes on purpose, and the
# addon must see the NULL that malloc returns (ASan would abort instead).
#
# Without arguments every test file runs except three whose subject ASan takes
# away: its runtime replaces mlock/munlock/mlockall with calls that do nothing
# (sanitizer_common), so smaps.test.mjs and unprivileged.test.mjs, which check
# what the kernel locked, cannot pass; dump.test.mjs runs gdb, which does not
# start with the ASan runtime preloaded. Two more are left out because they are
# about the binary itself: runtime.test.mjs checks that the build or prebuild is
# the file loaded (here it is the ASan build, on purpose), and asan.test.mjs
# runs this script. All of them run in the normal suite.
# Needs gcc (or CC) with libasan, and Node's headers (the include/node directory
# next to the running node, or NODE_INCLUDE=...).
set -euo pipefail

PKG="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$PKG"
CC="${CC:-gcc}"
OUT="$PKG/build-asan"
LOGS="$OUT/logs"
NODE_BIN="$(command -v node)"
NODE_INCLUDE="${NODE_INCLUDE:-$(dirname "$(dirname "$(readlink -f "$NODE_BIN")")")/include/node}"
if [ ! -f "$NODE_INCLUDE/node_api.h" ]; then
  echo "asan-test: no node_api.h in $NODE_INCLUDE (set NODE_INCLUDE)" >&2
  exit 2
fi
LIBASAN="$("$CC" -print-file-name=libasan.so)"
if [ ! -e "$LIBASAN" ]; then
  echo "asan-test: $CC has no libasan.so (install libasan for this compiler)" >&2
  exit 2
fi
LIBASAN="$(readlink -f "$LIBASAN")"

mkdir -p "$OUT"
rm -rf "$LOGS"
mkdir -p "$LOGS"
"$CC" -shared -fPIC -g -O1 -fno-omit-frame-pointer -fsanitize=address \
  -std=gnu11 -Wall -Wextra -Werror -DNAPI_VERSION=8 -DNODE_GYP_MODULE_NAME=os_memlock \
  -I"$NODE_INCLUDE" src/binding.c -o "$OUT/os_memlock.node"

export LD_PRELOAD="$LIBASAN${LD_PRELOAD:+:$LD_PRELOAD}"
# halt_on_error: the first report ends the process (and the test that ran it).
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=0:log_path=$LOGS/asan"
export TARSJS_OS_MEMLOCK_BINARY="$OUT/os_memlock.node"

# The binary in use must be the instrumented one, with the ASan runtime mapped.
maps="$(node -e "require('$PKG').capabilities(); process.stdout.write(require('fs').readFileSync('/proc/self/maps', 'utf8'))")"
if ! grep -q "$OUT/os_memlock.node" <<<"$maps" || ! grep -q "libasan" <<<"$maps"; then
  echo "asan-test: the ASan build or the ASan runtime is not loaded" >&2
  exit 1
fi

if [ "$#" -eq 0 ]; then
  set -- --exclude test/smaps.test.mjs --exclude test/unprivileged.test.mjs --exclude test/dump.test.mjs \
    --exclude test/runtime.test.mjs --exclude test/asan.test.mjs
fi
status=0
npx vitest run --reporter=default "$@" || status=$?

if compgen -G "$LOGS/asan*" >/dev/null; then
  echo "asan-test: AddressSanitizer reports:" >&2
  cat "$LOGS"/asan* >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "asan-test: tests failed (exit $status) under the ASan build" >&2
  exit "$status"
fi
echo "asan-test: no AddressSanitizer report; tests passed"
