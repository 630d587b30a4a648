#!/usr/bin/env bash
# Where a decode step's GPU time goes: runs `zinfer bench` under Nsight Compute (ncu, clocks
# left alone) with graphs off, profiles the kernels of STEPS decode steps at batch BATCH, and
# prints per kernel name: launches per step, µs per step and µs per launch. Run on the GPU
# host after a build with the service (tests/kernels/run_gpu_tests.sh builds one).
# Usage: scripts/profile_decode.sh MODEL.gguf [BATCH] [STEPS]   (BUILD, OUT as in bench_peer.sh;
# ZARGS: more zinfer bench flags, e.g. ZARGS=--q16-act, or ZARGS="--temp 0.8 --top-p 0.95"
# (the decode steps' sampling kernels under top-p); PROMPT (default 16) and DECODE (default
# 24): the bench's prompt and decode tokens; PICK=max summarizes instead the one profiled pass
# with the most kernel time — with PROMPT=512, the prompt's pass: where prefill time goes;
# METRICS: more ncu metrics, comma-separated, whose mean per launch is printed for the ten
# costliest kernels (e.g. dram__throughput.avg.pct_of_peak_sustained_elapsed,
# sm__warps_active.avg.pct_of_peak_sustained_active,
# smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct);
# CACHE=none keeps L2 between kernels as in a real step — ncu's default flush makes every
# small kernel's reads DRAM misses and overstates them). SKIP and COUNT (launches skipped and
# profiled, default 2000 and 800) must cover STEPS + 2 whole passes; what worked on an H200
# (2026-12-07): 7B decode `SKIP=4000 COUNT=2200` (~370 kernels a pass), 0.5B decode at 128
# sequences `SKIP=3000 COUNT=1600`, the 0.5B 512-token prompt `SKIP=0 COUNT=2600 PICK=max
# PROMPT=512 DECODE=2` (~410 kernels a prompt pass); each such run took 15-25 s.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD=${BUILD:-$ROOT/build-gpu}
OUT=${OUT:-$ROOT/peer-results}
MODEL=$1
BATCH=${2:-1}
STEPS=${3:-4}
mkdir -p "$OUT"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 || true)
[ -n "$NCU" ] || { echo "ncu not found" >&2; exit 1; }
# About ten forward passes (warm-up, prefill, graph warm-up) precede the timed decode steps:
# skip SKIP launches, profile COUNT, and summarize the last STEPS whole passes among them.
"$NCU" --clock-control none --cache-control "${CACHE:-all}" --metrics "gpu__time_duration.sum${METRICS:+,$METRICS}" --csv --print-units base \
  --launch-skip "${SKIP:-2000}" --launch-count "${COUNT:-800}" "$BUILD/bin/zinfer" bench --model "$MODEL" --device cuda --no-graphs \
  --prompt-tokens "${PROMPT:-16}" --decode-tokens "${DECODE:-24}" --batch "$BATCH" --repeats 1 ${ZARGS:-} > "$OUT/ncu_decode.csv" 2> "$OUT/ncu_decode.err" || true
python3 - "$OUT/ncu_decode.csv" "$STEPS" "${PICK:-last}" "${METRICS:-}" <<'PY'
import csv, sys, collections, re
rows = []
extra = collections.defaultdict(dict)  # launch ID -> {metric: value}
with open(sys.argv[1]) as f:
    lines = [l for l in f if l.startswith('"')]
for r in csv.DictReader(lines):
    if r.get("Metric Name") == "gpu__time_duration.sum":
        rows.append((int(r["ID"]), re.sub(r"^(void )?[^<(]*::", "", re.sub(r"\(.*", "", r["Kernel Name"].replace("(anonymous namespace)::", ""))).strip(), float(r["Metric Value"].replace(",", "")) / 1e3))
    elif r.get("Metric Name"):
        try:
            extra[int(r["ID"])][r["Metric Name"]] = float(r["Metric Value"].replace(",", ""))
        except ValueError:
            pass
rows.sort()
# One decode step ends with the output projection, the largest matvec; find step boundaries
# by the embed kernel that starts every forward pass.
starts = [i for i, (_, n, _) in enumerate(rows) if n.startswith("embed_kernel")]
steps = int(sys.argv[2])
if len(starts) < steps + 2:
    print("too few passes profiled:", len(starts)); sys.exit(0)
sel = rows[starts[-steps - 1]:starts[-1]]
if sys.argv[3] == "max":
    passes = [rows[a:b] for a, b in zip(starts, starts[1:] + [len(rows)])]
    sel = max(passes, key=lambda p: sum(us for _, _, us in p))
    steps = 1
agg = collections.OrderedDict()
for _, n, us in sel:
    a = agg.setdefault(n, [0, 0.0]); a[0] += 1; a[1] += us
total = sum(a[1] for a in agg.values())
print(f"{len(sel)/steps:.0f} kernels per step, {total/steps:.1f} us of kernel time per step")
for n, (c, us) in sorted(agg.items(), key=lambda kv: -kv[1][1]):
    print(f"  {n[:60]:60} {c/steps:6.1f}/step {us/steps:9.1f} us/step {us/c:8.2f} us each")
# METRICS: each extra metric's mean over the launches of the ten costliest kernels.
names = [m for m in sys.argv[4].split(",") if m]
if names:
    print("mean per launch of:", ", ".join(names))
    for n, _ in sorted(agg.items(), key=lambda kv: -kv[1][1])[:10]:
        ids = [i for i, k, _ in sel if k == n]
        vals = []
        for m in names:
            v = [extra[i][m] for i in ids if m in extra[i]]
            vals.append(f"{sum(v) / len(v):.4g}" if v else "-")
        print(f"  {n[:60]:60} " + "  ".join(vals))
PY
