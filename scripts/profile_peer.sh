#!/usr/bin/env bash
# Per-kernel GPU time of one batch-1 decode step, llama.cpp beside zinfer, on the same GGUF
# file: where each engine spends a step (ncu gpu__time_duration and DRAM bytes per kernel,
# clocks left alone), so a kernel can be compared with its counterpart at the same shapes.
# Run on the GPU host after scripts/bench_peer.sh (it builds llama-bench into $PEER_WORK and
# writes the model files there) and a zinfer build with the service.
# Usage: scripts/profile_peer.sh MODEL.gguf   (BUILD, OUT, PEER_WORK as in bench_peer.sh;
# ZARGS: more zinfer bench flags, e.g. ZARGS=--q8-act)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD=${BUILD:-$ROOT/build-gpu}
OUT=${OUT:-$ROOT/peer-results}
WORK=${PEER_WORK:-/tmp/zinfer-peer}
MODEL=$1
mkdir -p "$OUT"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2> /dev/null | head -1 || true)
[ -n "$NCU" ] || { echo "ncu not found" >&2; exit 1; }
[ -n "${ZINFER_DEPS_LIB:-}" ] && export LD_LIBRARY_PATH="$ZINFER_DEPS_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
METRICS=gpu__time_duration.sum,dram__bytes_read.sum
name=$(basename "$MODEL" .gguf)
# llama.cpp: 8 generated tokens after no prompt; the last decode steps are the last kernels.
"$NCU" --clock-control none --metrics "$METRICS" --csv --print-units base \
  "$WORK/llama.cpp/build/bin/llama-bench" -m "$MODEL" -p 0 -n 8 -r 1 -fa 1 \
  > "$OUT/ncu_llama_$name.csv" 2> "$OUT/ncu_llama_$name.err"
"$NCU" --clock-control none --metrics "$METRICS" --csv --print-units base \
  "$BUILD/bin/zinfer" bench --model "$MODEL" --device cuda --no-graphs --prompt-tokens 1 \
  --decode-tokens 8 --decode-context 1 --batch 1 --repeats 1 ${ZARGS:-} \
  > "$OUT/ncu_zinfer_$name.csv" 2> "$OUT/ncu_zinfer_$name.err"
python3 - "$OUT/ncu_llama_$name.csv" "$OUT/ncu_zinfer_$name.csv" << 'PY'
import collections, csv, re, sys

def load(path):
    rows = collections.OrderedDict()
    with open(path) as f:
        lines = [l for l in f if l.startswith('"')]
    for r in csv.DictReader(lines):
        d = rows.setdefault(int(r["ID"]), {"name": re.sub(r"\(.*", "", r["Kernel Name"]).strip(),
                                            "grid": r["Grid Size"]})
        d[r["Metric Name"]] = float(r["Metric Value"].replace(",", ""))
    return [rows[i] for i in sorted(rows)]

def step_of(rows, first_kernel):
    # The kernels between the last two launches of the kernel that starts a forward pass.
    starts = [i for i, r in enumerate(rows) if r["name"].startswith(first_kernel)]
    if len(starts) < 2:
        return rows[-200:]
    return rows[starts[-2]:starts[-1]]

for label, path, first in (("llama.cpp", sys.argv[1], "k_get_rows"),
                           ("zinfer", sys.argv[2], "embed_kernel")):
    try:
        sel = step_of(load(path), first)
    except OSError as e:
        print(label, "no profile:", e)
        continue
    agg = collections.OrderedDict()
    for r in sel:
        a = agg.setdefault((r["name"][:64], r["grid"]), [0, 0.0, 0.0])
        a[0] += 1
        a[1] += r.get("gpu__time_duration.sum", 0) / 1e3
        a[2] += r.get("dram__bytes_read.sum", 0)
    total = sum(a[1] for a in agg.values())
    print(f"{label}: {len(sel)} kernels, {total:.1f} us in one step")
    for (n, g), (c, us, by) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:16]:
        tbs = by / us / 1e6 if us else 0.0
        print(f"  {n:64} {g:>14} {c:4d}x {us:8.1f} us {us / c:7.2f} us each {tbs:5.2f} TB/s")
PY
