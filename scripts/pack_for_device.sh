#!/usr/bin/env bash
# Packs binaries built on this machine for a GPU host that would otherwise spend minutes
# building them: the zinfer CLI and the named test binaries, stripped and gzipped, and the
# shared libraries they need beyond glibc, libstdc++, CUDA's runtime and cuBLAS (which the GPU
# host has), into <repo>/.carry (git-ignored; ~47 MB for zinfer and its libraries, ~41 MB a test
# binary). On the GPU host, tests/kernels/unpack_carried.sh puts them under /tmp/zb (bin/,
# tests/, lib/). The binaries need glibc ≥ 2.34 there (Debian 12's build asks no newer symbol).
# A device call carries at most 64 MiB: zinfer.gz with lib.tgz in one call, a test binary in the
# next while the machine is still warm (what the first unpacked stays under /tmp/zb).
#
#   bash scripts/pack_for_device.sh f16_mma_test cuda_forward_test   # after scripts/build.sh
#
# Environment: BUILD (default <repo>/build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
OUT=$ROOT/.carry
mkdir -p "$OUT"
rm -f "$OUT"/*.gz "$OUT/lib.tgz"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lib"
pack() {  # pack <binary> <name>
  strip -o "$tmp/$2" "$1"
  gzip -1 -c "$tmp/$2" > "$OUT/$2.gz"
  ldd "$1" | awk '$3 ~ /^\// {print $3}' |
    (grep -vE '/(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^/]*|libdl|libpthread|librt|libresolv|libcudart|libcublas|libcublasLt)\.so' || true) |
    while read -r lib; do cp -L "$lib" "$tmp/lib/"; done
}
pack "$BUILD/bin/zinfer" zinfer
[ -x "$BUILD/bin/copy_bandwidth" ] && pack "$BUILD/bin/copy_bandwidth" copy_bandwidth  # bench_peer.sh
for t in "$@"; do pack "$BUILD/tests/$t" "$t"; done
tar czf "$OUT/lib.tgz" -C "$tmp" lib
du -ch "$OUT"/* | tail -1
