#!/usr/bin/env bash
# Kernel variants side by side on the GPU host: `zinfer bench` on the same benchmark files
# once per measurement switch (the switches pick which kernel computes a product, never its
# bits), one table of tok/s per model × variant × measure in $OUT/variants_table.txt (rewritten
# after every run, so a run cut short keeps what it did), the raw JSON in $OUT/variants_raw.tgz.
# What the defaults should be is read off this table.
#
#   VARIANTS="default ZINFER_MMA_KERNEL=tile ZINFER_ATTN_GROUP=8" bash scripts/bench_variants.sh
#
# A variant is `default` or one or more VAR=value pairs or zinfer flags joined by `+` (e.g.
# `ZINFER_MMA_KERNEL=tile+ZINFER_ATTN_GROUP=8`, `ZINFER_ATTN_FUSE=1+--pad-decode`). Environment:
# MODELS (default "qwen05 qwen7b"; scripts/peer_models.sh), FLAGS (zinfer's numerics, default
# "--q16-act --tensor-cores"), BATCHES (decode batch sizes, default "1 8 32 128"), CONTEXT (tokens
# each sequence holds before the timed steps, default 128), PROMPT (prefill tokens, default 512),
# STEPS (timed decode steps, default 32), DEVICE (default cuda), BUILD (default build-gpu), OUT,
# PEER_WORK (the model files, shared with bench_peer.sh; default /tmp/zinfer-peer), ZINFER_DEPS_LIB.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD=${BUILD:-$ROOT/build-gpu}
OUT=${OUT:-$ROOT/peer-results}
WORK=${PEER_WORK:-/tmp/zinfer-peer}
MODELS=${MODELS:-"qwen05 qwen7b"}
VARIANTS=${VARIANTS:-"default ZINFER_MMA_KERNEL=tile"}
FLAGS=${FLAGS:-"--q16-act --tensor-cores"}
BATCHES=${BATCHES:-"1 8 32 128"}
CONTEXT=${CONTEXT:-128}
PROMPT=${PROMPT:-512}
STEPS=${STEPS:-32}
DEVICE=${DEVICE:-cuda}
ZMODELS=${ZINFER_MODELS:-$ROOT/.models}
ZINFER="$BUILD/bin/zinfer"
RAW="$WORK/variants"
[ -n "${ZINFER_DEPS_LIB:-}" ] && export LD_LIBRARY_PATH="$ZINFER_DEPS_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
. "$ROOT/scripts/peer_models.sh"
mkdir -p "$OUT" "$WORK"
rm -rf "$RAW"
mkdir -p "$RAW"
make_models

write_table() {
  python3 - "$RAW" "$MODELS" "$VARIANTS" "$BATCHES" "$FLAGS" <<'PY'
import json, os, sys
raw, models, variants, batches, flags = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split(), sys.argv[5]
print(f"zinfer bench {flags}; tok/s (decode at the given context)")
head = f"{'model':8} {'variant':44} {'prefill':>9}" + "".join(f" {'b' + b:>9}" for b in batches)
print(head)
for m in models:
    for i, v in enumerate(variants):
        p = os.path.join(raw, f"{m}_{i}.json")
        try:
            with open(p) as f: j = json.load(f)
        except Exception:
            if os.path.exists(p + ".err"): print(f"{m:8} {v:44} failed: " + open(p + ".err").read().strip()[-120:])
            continue
        dec = {str(d["batch"]): d["tokens_per_s"] for d in j.get("decode", [])}
        print(f"{m:8} {v:44} {j['prefill']['tokens_per_s']:9.1f}" + "".join(f" {dec.get(b, 0):9.1f}" for b in batches))
PY
}

zb=""
for b in $BATCHES; do zb="$zb --batch $b"; done
for m in $MODELS; do
  f=$(model_file "$m")
  [ -f "$f" ] || { echo "no $f" >&2; continue; }
  i=0
  for v in $VARIANTS; do
    envs=()
    flags=()
    parts=()
    [ "$v" != default ] && IFS='+' read -r -a parts <<< "$v"
    for x in "${parts[@]}"; do
      case "$x" in --*) flags+=("$x") ;; *) envs+=("$x") ;; esac
    done
    # shellcheck disable=SC2086
    env "${envs[@]}" "$ZINFER" bench --model "$f" --device "$DEVICE" --prompt-tokens "$PROMPT" \
      --decode-tokens "$STEPS" --decode-context "$CONTEXT" $zb --repeats 1 $FLAGS "${flags[@]}" --json \
      > "$RAW/${m}_$i.json" 2> "$RAW/${m}_$i.json.err"
    i=$((i + 1))
    write_table > "$OUT/variants_table.txt" 2>&1
    tar czf "$OUT/variants_raw.tgz" -C "$RAW" .
  done
done
cat "$OUT/variants_table.txt"
