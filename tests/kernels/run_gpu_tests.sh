#!/usr/bin/env bash
# Builds the engine, the CUDA kernels/backend and every tests/kernels/*_test without the
# service's dependencies (-DZINFER_BUILD_SERVICE=OFF), runs the test binaries and prints a
# summary last. Logs go to $OUT (default <repo>/gpu-test-logs): build.log, tests.log,
# summary.txt. Environment: BUILD (build dir, default <repo>/build-gpu), JOBS (default 16),
# ONLY (space-separated test names), GTEST_ARGS (extra flags for every binary),
# SANITIZE (space-separated tests to rerun under compute-sanitizer memcheck).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/gpu-test-logs}
BUILD=${BUILD:-$ROOT/build-gpu}
JOBS=${JOBS:-16}
mkdir -p "$OUT"
: > "$OUT/summary.txt"
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv,noheader >> "$OUT/summary.txt" 2>&1
TESTS=$(cd "$ROOT/tests/kernels" && ls *_test.cpp | sed 's/\.cpp$//' | tr '\n' ' ')
t0=$(date +%s)
if ! cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DZINFER_BUILD_SERVICE=OFF > "$OUT/build.log" 2>&1 ||
   ! cmake --build "$BUILD" -j"$JOBS" --target $TESTS >> "$OUT/build.log" 2>&1; then
  grep -E -A6 "error|Error" "$OUT/build.log" | head -120
  echo "BUILD FAILED"
  exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s" >> "$OUT/summary.txt"
: > "$OUT/tests.log"
for t in ${ONLY:-$TESTS}; do
  s=$(date +%s)
  timeout 240 "$BUILD/tests/$t" ${GTEST_ARGS:-} > "$OUT/current.log" 2>&1
  rc=$?
  cat "$OUT/current.log" >> "$OUT/tests.log"
  line=$(grep -E "^\[  PASSED  \]|^\[  FAILED  \] [0-9]+ test|^\[  SKIPPED \] [0-9]+ test" "$OUT/current.log" | tr '\n' ' ')
  echo "$t rc=$rc $(( $(date +%s) - s ))s $line" >> "$OUT/summary.txt"
done
rm -f "$OUT/current.log"
for t in ${SANITIZE:-}; do
  compute-sanitizer --tool memcheck --leak-check no --error-exitcode 9 "$BUILD/tests/$t" ${GTEST_ARGS:-} \
    > "$OUT/memcheck_$t.log" 2>&1
  echo "memcheck $t rc=$? $(grep -E 'ERROR SUMMARY' "$OUT/memcheck_$t.log" | tail -1)" >> "$OUT/summary.txt"
done
grep -E "Failure|FAILED|Expected|Which is|error:|max \|" "$OUT/tests.log" | head -150
cat "$OUT/summary.txt"
