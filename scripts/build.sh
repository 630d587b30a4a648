#!/usr/bin/env bash
# Configures and builds zinfer into build/ (CUDA code is compiled whenever nvcc is found).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ZINFER_BUILD_DIR:-$ROOT/build}"
JOBS="${ZINFER_JOBS:-$(nproc)}"
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD" -j "$JOBS"
