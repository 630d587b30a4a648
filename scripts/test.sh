#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, the formatting check, build (warnings are
# errors), models, unit + model tests (CPU; GPU tests skip without a device), the Python
# reference checks and the fuzzers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
bash scripts/check_format.sh
bash scripts/build.sh
bash scripts/fetch_models.sh
export ZINFER_REQUIRE_MODELS=1
ctest --test-dir "${ZINFER_BUILD_DIR:-$ROOT/build}" --output-on-failure -j "$(nproc)" --timeout 900 -LE gpu
if [ -x scripts/fuzz.sh ] && [ "${ZINFER_SKIP_FUZZ:-0}" != "1" ]; then
  bash scripts/fuzz.sh gguf_fuzzer "${ZINFER_FUZZ_SECONDS:-60}"
  bash scripts/fuzz.sh protocol_fuzzer "${ZINFER_FUZZ_SECONDS:-60}"
fi
