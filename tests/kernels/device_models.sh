#!/usr/bin/env bash
# On the GPU machine: collects the model parts carried so far (<repo>/.dev-models/pNN, made by
# scripts/split_models_for_device.sh) into $DEV_MODELS (default /root/zinfer-models, which
# survives between calls while the machine stays warm), and assembles every model whose parts
# are all there, checking its sha256. Point the tests at it with ZINFER_MODELS=$DEV_MODELS.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEV_MODELS=${DEV_MODELS:-/root/zinfer-models}
mkdir -p "$DEV_MODELS/parts"
for d in "$ROOT"/.dev-models/p*; do
  [ -d "$d" ] || continue
  cp "$d"/manifest.txt "$DEV_MODELS/manifest.txt"
  for f in "$d"/*.part*; do [ -f "$f" ] && cp "$f" "$DEV_MODELS/parts/"; done
done
[ -f "$DEV_MODELS/manifest.txt" ] || { echo "no parts carried yet"; exit 0; }
while read -r name sha parts; do
  out="$DEV_MODELS/$name"
  if [ -f "$out" ]; then echo "ready: $name"; continue; fi
  missing=0
  for p in $parts; do [ -f "$DEV_MODELS/parts/$p" ] || missing=$((missing + 1)); done
  if [ $missing -gt 0 ]; then echo "waiting: $name ($missing parts missing)"; continue; fi
  (cd "$DEV_MODELS/parts" && cat $parts) > "$out.tmp"
  if [ "$(sha256sum "$out.tmp" | cut -d' ' -f1)" = "$sha" ]; then
    mv "$out.tmp" "$out"
    echo "assembled: $name"
  else
    rm -f "$out.tmp"
    echo "CHECKSUM MISMATCH: $name"
    exit 1
  fi
done < "$DEV_MODELS/manifest.txt"
