#!/usr/bin/env bash
# End-to-end checks of the zinfer CLI on a GPU, run by run_gpu_tests.sh when E2E=1 and the
# CLI was built (needs the service's packages: scripts/fetch_device_debs.sh). Writes to $OUT:
#  e2e_generate.txt  `zinfer generate --device cuda` on SmolLM2 (greedy, 48 tokens)
#  e2e_serve.txt     `zinfer serve` (device auto → cuda:0) + `zinfer submit` of the demo jobs,
#                    a health reply (Python client, if pyzmq is importable), SIGTERM drain
#  e2e_bench.txt     `zinfer bench` on the synthetic Qwen2.5-0.5B-shape Q4_K model (24 layers)
#                    and on SmolLM2: prefill, batch-1 decode, batched decode; then
#                    --fast-prefill (cuBLAS prompt matmuls) for comparison
#  e2e_bench_serve.txt / .json  `zinfer bench --e2e` on the 0.5B-shape file: the throughput
#                    acceptance shape (256 jobs of ~130 prompt + 256 sampled tokens through a
#                    real `zinfer serve` over ipc, beside the engine alone), then 64 jobs behind a
#                    shared 512-token system prompt, prefix cache on and off, over ipc and tcp
# Environment: BUILD, OUT, ZINFER_MODELS (where SmolLM2-135M-Instruct.Q4_1.gguf is),
# E2E_FLAGS (more model flags for the `bench --e2e` runs, e.g. "--tensor-cores --pad-decode").
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-gpu}
OUT=${OUT:-$ROOT/gpu-test-logs}
Z="$BUILD/bin/zinfer"
MODELS=${ZINFER_MODELS:-$ROOT/.models}
SMOL="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -n "${ZINFER_DEPS_LIB:-}" ] && export LD_LIBRARY_PATH="$ZINFER_DEPS_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
rc=0

if [ -f "$SMOL" ]; then
  "$Z" generate --model "$SMOL" --device cuda -p "The capital of France is" -n 48 --ignore-eos \
    > "$OUT/e2e_generate.txt" 2>&1
  g=$?
  echo "generate rc=$g" >> "$OUT/e2e_generate.txt"
  [ $g -eq 0 ] || rc=1

  SOCK=/tmp/zinfer-e2e.sock
  rm -f "$SOCK"
  "$Z" serve --model "$SMOL" --bind "ipc://$SOCK" --max-running 8 --ctx 2048 --log-level info \
    > "$OUT/e2e_serve.txt" 2>&1 &
  pid=$!
  "$Z" submit --connect "ipc://$SOCK" --input "$ROOT/scripts/demo_jobs.jsonl" --stream --format text \
    --timeout 120 >> "$OUT/e2e_serve.txt" 2>&1 || rc=1
  if [ -d "$ROOT/.whl" ]; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/zinfer-site "$ROOT"/.whl/*.whl > /dev/null 2>&1
  fi
  if ! PYTHONPATH="/tmp/zinfer-site" python3 -c "import zmq" 2> /dev/null; then
    echo "health check skipped: pyzmq is not importable here (carry its wheel in .whl/)" >> "$OUT/e2e_serve.txt"
  else
  PYTHONPATH="/tmp/zinfer-site:$ROOT/clients/python" python3 - "ipc://$SOCK" >> "$OUT/e2e_serve.txt" 2>&1 <<'PY' || rc=1
import json, sys
from zinfer_client import Client
with Client(sys.argv[1], timeout_s=10) as c:
    h = c.health()
    print("health:", json.dumps(h))
    assert h["vram_resident"] is True and h["device"].startswith("cuda:0"), h
PY
  fi
  kill -TERM "$pid"
  wait "$pid"
  g=$?
  echo "serve rc=$g" >> "$OUT/e2e_serve.txt"
  [ $g -eq 0 ] || rc=1
fi

Q="/tmp/zinfer-qwen2.5-0.5b-q4_k.gguf"
[ -f "$Q" ] || "$Z" mkmodel --preset qwen2.5-0.5b --type Q4_K --mix --out "$Q" > /dev/null || rc=1
{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
  "$Z" bench --model "$Q" --device cuda --prompt-tokens 512 --decode-tokens 128 --batch 1 --batch 8 --batch 32
  "$Z" bench --model "$Q" --device cuda --prompt-tokens 512 --decode-tokens 32 --batch 1 --fast-prefill
  if [ -f "$SMOL" ]; then
    "$Z" bench --model "$SMOL" --device cuda --prompt-tokens 512 --decode-tokens 128 --batch 1 --batch 32
  fi
} > "$OUT/e2e_bench.txt" 2>&1 || rc=1
{
  # shellcheck disable=SC2086
  "$Z" bench --e2e --model "$Q" --device cuda --jobs 256 --prompt-tokens 130 --tokens 256 \
    ${E2E_FLAGS:-} --transport ipc --json --results "$OUT/e2e_bench_serve_jobs.jsonl" > "$OUT/e2e_bench_serve.json"
  # shellcheck disable=SC2086
  "$Z" bench --e2e --model "$Q" --device cuda --jobs 64 --prompt-tokens 130 --tokens 64 \
    ${E2E_FLAGS:-} --shared-prefix 512 --transport ipc --transport tcp
} > "$OUT/e2e_bench_serve.txt" 2>&1 || rc=1
echo "e2e rc=$rc" >> "$OUT/summary.txt"
exit $rc
