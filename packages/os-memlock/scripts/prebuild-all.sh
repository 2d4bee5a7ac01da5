#!/usr/bin/env bash
# Builds the four release prebuilds of @tarsjs/os-memlock on one Debian or
# Ubuntu x86_64 host, with cross compilers instead of containers or emulated
# builds:
#
#   prebuilds/linux-x64/@tarsjs+os-memlock.glibc.node     gcc
#   prebuilds/linux-x64/@tarsjs+os-memlock.musl.node      x86_64-linux-musl-gcc   (musl-tools)
#   prebuilds/linux-arm64/@tarsjs+os-memlock.glibc.node   aarch64-linux-gnu-gcc   (gcc-aarch64-linux-gnu)
#   prebuilds/linux-arm64/@tarsjs+os-memlock.musl.node    aarch64-linux-musl-gcc  (musl-dev:arm64)
#
# The names carry the libc tag (prebuildify --tag-libc), which node-gyp-build
# matches against the libc of the process that loads the addon.
#
# Usage:  scripts/prebuild-all.sh [--verify]
#   --verify   then run scripts/verify-prebuilds.sh on the result
#   PREBUILDS_OUT=dir  write linux-x64/ and linux-arm64/ there instead of prebuilds/
#
# Packages (Debian 12; on Ubuntu the arm64 one comes from the ports archive):
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install gcc-aarch64-linux-gnu musl-tools musl-dev:arm64
#   (and for --verify: libstdc++6-arm64-cross qemu-user-static)
#
# Each target runs the package's own `build:prebuilds` npm script (prebuildify
# --napi --strip --tag-libc -t <version>) with --arch, --libc and --strip-bin added,
# so every binary is made with the same flags as the one the tests build.
set -euo pipefail

PKG="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# PREBUILDS_OUT: another directory for the result (the tests build into a
# temporary one, so that nothing reading prebuilds/ meanwhile sees it change).
OUT="${PREBUILDS_OUT:-$PKG/prebuilds}"

verify=0
for arg in "$@"; do
  case "$arg" in
    --verify) verify=1 ;;
    *) echo "usage: $0 [--verify]" >&2; exit 2 ;;
  esac
done

if [[ "$(uname -s)/$(uname -m)" != Linux/x86_64 ]]; then
  echo "prebuild-all: needs a Linux x86_64 host (this is $(uname -s)/$(uname -m))" >&2
  exit 1
fi

# arch  libc  compiler  strip
TARGETS=(
  "x64   glibc gcc                    strip"
  "x64   musl  x86_64-linux-musl-gcc  strip"
  "arm64 glibc aarch64-linux-gnu-gcc  aarch64-linux-gnu-strip"
  "arm64 musl  aarch64-linux-musl-gcc aarch64-linux-gnu-strip"
)

missing=()
for t in "${TARGETS[@]}"; do
  read -r _ _ cc strip <<<"$t"
  for tool in "$cc" "$strip"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
done
if ((${#missing[@]})); then
  echo "prebuild-all: missing $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')" >&2
  echo "  apt-get install gcc-aarch64-linux-gnu musl-tools musl-dev:arm64 (after dpkg --add-architecture arm64)" >&2
  exit 1
fi
[[ -x "$PKG/node_modules/.bin/prebuildify" ]] || { echo "prebuild-all: run pnpm install first" >&2; exit 1; }

# Node headers: node-gyp must not download them. Unless a nodedir is already
# given, use the headers installed beside the running node (its prefix holds
# include/node/node_api.h for the official tarballs, setup-node and Debian's
# /usr alike). Node-API 8 headers are the same across Node 20.x.
if [[ -z "${npm_config_nodedir:-}" ]]; then
  prefix="$(node -p 'require("node:path").resolve(process.execPath, "..", "..")')"
  if [[ -f "$prefix/include/node/node_api.h" ]]; then
    export npm_config_nodedir="$prefix"
  fi
fi

# Build in a staged copy: `node-gyp rebuild` replaces build/, and the
# package's own build/ is the one its tests load. prebuildify and node-gyp
# are the package's own, found on PATH (pnpm's .bin shims locate their
# targets relative to where they really are, so they are not symlinked).
stage="$(mktemp -d "${TMPDIR:-/tmp}/os-memlock-prebuild.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
cp -R "$PKG/package.json" "$PKG/binding.gyp" "$PKG/index.js" "$PKG/src" "$stage/"
export PATH="$PKG/node_modules/.bin:$PATH"

for t in "${TARGETS[@]}"; do
  read -r arch libc cc strip <<<"$t"
  echo "== linux-$arch $libc ($cc)"
  # LINK is the C compiler too: node-gyp links with the C++ driver by
  # default, and the addon has no reason to see libstdc++.
  (cd "$stage" && CC="$cc" CXX="$cc" LINK="$cc" \
    pnpm run build:prebuilds --arch="$arch" --libc="$libc" --strip-bin="$strip")
done

# The result replaces linux-x64/ and linux-arm64/ whole, so that nothing
# untagged or stale from an earlier build travels with a release.
rm -rf "$OUT/linux-x64" "$OUT/linux-arm64"
mkdir -p "$OUT"
cp -R "$stage/prebuilds/linux-x64" "$stage/prebuilds/linux-arm64" "$OUT/"
ls -l "$OUT"/linux-*/

if ((verify)); then
  # The checks run binaries fetched for the purpose (an arm64 Node from npm,
  # under qemu): the prebuilds must come out of them byte for byte as built.
  sums="$stage/SHA256SUMS"
  (cd "$OUT" && sha256sum linux-x64/* linux-arm64/*) >"$sums"
  bash "$PKG/scripts/verify-prebuilds.sh" "$OUT"
  (cd "$OUT" && sha256sum --quiet --check "$sums") || { echo "prebuild-all: a prebuild changed during verification" >&2; exit 1; }
  sed 's/^/   /' "$sums"
fi
