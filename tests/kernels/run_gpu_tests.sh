#!/usr/bin/env bash
# Builds the engine, the CUDA kernels/backend and every tests/kernels/*_test, runs the test
# binaries and prints a summary last. With carried Debian packages in <repo>/.deb
# (scripts/fetch_device_debs.sh) the service and the zinfer CLI are built too (unpacked by
# device_deps.sh into a private prefix); without them -DZINFER_BUILD_SERVICE=OFF.
# Logs go to $OUT (default <repo>/gpu-test-logs): build.log, tests.log, summary.txt.
# Environment: BUILD (build dir, default <repo>/build-gpu), JOBS (default 16), E2E=1 (then
# run gpu_e2e.sh: zinfer generate/serve/submit/bench on the GPU), PEER_BG=1 (after the build,
# start scripts/bench_peer.sh's llama.cpp build in the background),
# ONLY (space-separated test names, the only ones built and run; "none" builds only the
# libraries and the CLI), GTEST_ARGS (extra flags for every
# binary), SANITIZE (space-separated "test" or "test:gtest_filter" entries to rerun under
# compute-sanitizer memcheck; ZINFER_GPU_GOLDEN_CASES=1 and ZINFER_GPU_SANITIZE_SHORT=1 are
# set for those runs). ZINFER_REQUIRE_GPU (default 1): fail at once when nvidia-smi lists no
# GPU, since the tests would all skip and the run would look green; 0 builds and runs anyway.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/gpu-test-logs}
BUILD=${BUILD:-$ROOT/build-gpu}
JOBS=${JOBS:-16}
mkdir -p "$OUT"
: > "$OUT/summary.txt"
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv,noheader >> "$OUT/summary.txt" 2>&1
gpu_visible() {
  nvidia-smi -L 2>/dev/null | grep -q '^GPU [0-9]' || return 1
  # CUDA_VISIBLE_DEVICES set to nothing (or -1) hides every GPU from CUDA though nvidia-smi lists it.
  [ "${CUDA_VISIBLE_DEVICES-unset}" != "" ] && [ "${CUDA_VISIBLE_DEVICES-unset}" != "-1" ]
}
if [ "${ZINFER_REQUIRE_GPU:-1}" = 1 ] && ! gpu_visible; then
  echo "NO GPU VISIBLE: nvidia-smi lists no GPU (CUDA_VISIBLE_DEVICES='${CUDA_VISIBLE_DEVICES:-}')." \
       "This script is the GPU suite; without a device every test would skip and pass." \
       "Run it on the device, or set ZINFER_REQUIRE_GPU=0 to build and run anyway." | tee -a "$OUT/summary.txt"
  exit 1
fi
TESTS=$(cd "$ROOT/tests/kernels" && ls *_test.cpp | sed 's/\.cpp$//' | tr '\n' ' ')
SERVICE=OFF
# ONLY also limits what is built (fewer links when device time is short).
BUILT=${ONLY:-$TESTS}
[ "$BUILT" = none ] && BUILT=""
TARGETS="$BUILT zinfer_backend_cuda"
if ls "$ROOT"/.deb/*.deb > /dev/null 2>&1; then
  . "$ROOT/tests/kernels/device_deps.sh"
  SERVICE=ON
  TARGETS="$BUILT zinfer copy_bandwidth"
fi
t0=$(date +%s)
if ! cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DZINFER_BUILD_SERVICE=$SERVICE > "$OUT/build.log" 2>&1 ||
   ! cmake --build "$BUILD" -j"$JOBS" --target $TARGETS >> "$OUT/build.log" 2>&1; then
  grep -E -A6 "error|Error" "$OUT/build.log" | head -120
  echo "BUILD FAILED"
  exit 1
fi
echo "build (service $SERVICE): $(( $(date +%s) - t0 )) s" >> "$OUT/summary.txt"
# PEER_BG=1: build llama.cpp for scripts/bench_peer.sh in the background while the tests run
# (its own process session, so it outlives this call on the device; bench_peer waits for it).
if [ "${PEER_BG:-0}" = 1 ] && [ -f "$ROOT/.peer/llama.cpp-src.tar.gz" ]; then
  setsid nohup env BUILD_LLAMA_ONLY=1 JOBS="$JOBS" bash "$ROOT/scripts/bench_peer.sh" \
    > /tmp/zinfer-llama-bg.log 2>&1 < /dev/null &
  echo "llama.cpp build started in the background (PEER_BG=1)" >> "$OUT/summary.txt"
fi
: > "$OUT/tests.log"
for t in ${ONLY:-$TESTS}; do
  [ "$t" = none ] && continue
  s=$(date +%s)
  timeout 240 "$BUILD/tests/$t" ${GTEST_ARGS:-} > "$OUT/current.log" 2>&1
  rc=$?
  cat "$OUT/current.log" >> "$OUT/tests.log"
  line=$(grep -E "^\[  PASSED  \]|^\[  FAILED  \] [0-9]+ test|^\[  SKIPPED \] [0-9]+ test" "$OUT/current.log" | tr '\n' ' ')
  echo "$t rc=$rc $(( $(date +%s) - s ))s $line" >> "$OUT/summary.txt"
done
rm -f "$OUT/current.log"
if [ "${E2E:-0}" = 1 ] && [ -x "$BUILD/bin/zinfer" ]; then
  BUILD="$BUILD" OUT="$OUT" bash "$ROOT/tests/kernels/gpu_e2e.sh"
fi
for entry in ${SANITIZE:-}; do
  t=${entry%%:*}
  filter=""
  [ "$entry" != "$t" ] && filter="--gtest_filter=${entry#*:}"
  ZINFER_GPU_GOLDEN_CASES=1 ZINFER_GPU_SANITIZE_SHORT=1 \
    compute-sanitizer --tool memcheck --leak-check full --error-exitcode 9 "$BUILD/tests/$t" $filter \
    > "$OUT/memcheck_$t.log" 2>&1
  echo "memcheck $entry rc=$? $(grep -E 'ERROR SUMMARY' "$OUT/memcheck_$t.log" | tail -1) $(grep -E '^\[  PASSED  \]|^\[  FAILED  \] [0-9]+ test' "$OUT/memcheck_$t.log" | tr '\n' ' ')" >> "$OUT/summary.txt"
done
grep -E "Failure|FAILED|Expected|Which is|error:|max \|" "$OUT/tests.log" | head -150
cat "$OUT/summary.txt"
