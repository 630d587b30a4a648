#!/usr/bin/env bash
# Splits the fetched real models into parts small enough for one device call each (the device
# tool carries at most 64 MiB per call, working tree included) under <repo>/.dev-models/pNN/
# (git-ignored via .git/info/exclude), with a manifest of each model's parts and sha256.
# On the GPU machine, after each call that carries one part dir,
#   bash tests/kernels/device_models.sh     # moves carried parts into $DEV_MODELS (default
#                                           # /root/zinfer-models), assembles complete models
# Usage: scripts/split_models_for_device.sh [MODEL_FILE_NAME ...]  (default: SmolLM2 + Gemma-3)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="${ZINFER_MODELS:-$ROOT/.models}"
OUTDIR="$ROOT/.dev-models"
PART_BYTES=${PART_BYTES:-45000000}
grep -q '^/.dev-models/$' "$ROOT/.git/info/exclude" 2>/dev/null || echo "/.dev-models/" >> "$ROOT/.git/info/exclude"
rm -rf "$OUTDIR"
mkdir -p "$OUTDIR"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(SmolLM2-135M-Instruct.Q4_1.gguf gemma-3-270m-q4_k_m.gguf)
n=0
for m in "${models[@]}"; do
  f="$SRC/$m"
  [ -f "$f" ] || { echo "missing $f (run scripts/fetch_models.sh)" >&2; exit 1; }
  sha=$(sha256sum "$f" | cut -d' ' -f1)
  tmp=$(mktemp -d)
  split -b "$PART_BYTES" -d -a 2 "$f" "$tmp/$m.part"
  parts=()
  for p in "$tmp"/*; do
    d=$(printf "%s/p%02d" "$OUTDIR" "$n")
    mkdir -p "$d"
    mv "$p" "$d/"
    parts+=("$(basename "$p")")
    n=$((n + 1))
  done
  rmdir "$tmp"
  echo "$m $sha ${parts[*]}" >> "$OUTDIR/manifest.txt"
done
# The manifest travels with every part.
for d in "$OUTDIR"/p*; do cp "$OUTDIR/manifest.txt" "$d/"; done
echo "$n parts under $OUTDIR (carry one pNN per device call, in any order):"
cat "$OUTDIR/manifest.txt"
