#!/usr/bin/env bash
# Configures and builds zinfer into build/ (CUDA code is compiled whenever nvcc is found).
# Every script (demo.sh, test.sh) configures through here with the same flags, so running one
# after the other never rebuilds what is already built. Warnings in the project's own C++ and
# CUDA code are errors (ZINFER_WERROR; the tree builds warning-free with GCC 12 and nvcc 13).
# ZINFER_TARGETS: what to build (default: everything; demo.sh builds just the CLI);
# ZINFER_CONFIGURE_ONLY=1: configure only (.ci/run starts clang-tidy from there).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ZINFER_BUILD_DIR:-$ROOT/build}"
JOBS="${ZINFER_JOBS:-$(nproc)}"
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DZINFER_WERROR=ON "$@" >/dev/null
# ZINFER_CONFIGURE_ONLY=1: configure (compile_commands.json for clang-tidy) and stop.
[ "${ZINFER_CONFIGURE_ONLY:-0}" = "1" ] && exit 0
targets=()
for t in ${ZINFER_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$BUILD" -j "$JOBS" "${targets[@]}"
