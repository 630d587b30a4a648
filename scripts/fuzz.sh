#!/usr/bin/env bash
# Builds one libFuzzer target with clang and runs it for N seconds.
#
#   scripts/fuzz.sh NAME [SECONDS]          e.g. scripts/fuzz.sh gguf_fuzzer 60
#
# Seeds come from tests/data/<module>/corpus (NAME without "_fuzzer"), or $FUZZ_SEEDS.
# New inputs go to $BUILD_DIR/fuzz/NAME/corpus (the committed seeds are never modified);
# a crash, leak, timeout or UB report is written to $BUILD_DIR/fuzz/NAME/artifacts/ and
# makes this script exit non-zero.
# Environment: BUILD_DIR (default build-fuzz), JOBS (build parallelism, default 2),
# FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 NAME [SECONDS]" >&2
  exit 2
fi
name="$1"
seconds="${2:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-fuzz}"
module="${name%_fuzzer}"
seeds="${FUZZ_SEEDS:-$root/tests/data/$module/corpus}"

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DZINFER_FUZZ=ON -DZINFER_ENABLE_CUDA=OFF >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target "$name"

bin="$(find "$build" -type f -name "$name" -perm -u+x | head -n 1)"
if [[ -z "$bin" ]]; then
  echo "fuzz.sh: built $name but cannot find the binary under $build" >&2
  exit 1
fi

work="$build/fuzz/$name"
mkdir -p "$work/corpus" "$work/artifacts"
dirs=("$work/corpus")
if [[ -d "$seeds" ]]; then
  dirs+=("$seeds")
else
  echo "fuzz.sh: no seed corpus at $seeds; starting from scratch" >&2
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
# shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
"$bin" -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" ${FUZZ_ARGS:-} "${dirs[@]}"
