#!/usr/bin/env bash
# The main job on the embedded default: set up, build, fetch SmolLM2-135M-Instruct and
# stream a chat answer from it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
bash scripts/build.sh
bash scripts/fetch_models.sh
MODEL="${ZINFER_MODELS:-$ROOT/.models}/SmolLM2-135M-Instruct.Q4_1.gguf"
"${ZINFER_BUILD_DIR:-$ROOT/build}/bin/zinfer" generate --model "$MODEL" \
  --chat "${1:-Write a haiku about the sea, then explain it in one sentence.}" -n "${2:-128}"
