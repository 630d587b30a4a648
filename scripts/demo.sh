#!/usr/bin/env bash
# The main job on the embedded default: set up, build, fetch SmolLM2-135M-Instruct, start
# `zinfer serve` in the background, stream a small JSONL batch of jobs through it with
# `zinfer submit --stream`, then stop the worker with SIGTERM (it drains and exits 0).
# Usage: scripts/demo.sh [jobs.jsonl]   (default: scripts/demo_jobs.jsonl)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
ZINFER_TARGETS=zinfer bash scripts/build.sh  # the CLI only; test.sh builds the rest, same configuration
bash scripts/fetch_models.sh smollm2        # 98 MB: the one model the demo runs
MODEL="${ZINFER_MODELS:-$ROOT/.models}/SmolLM2-135M-Instruct.Q4_1.gguf"
ZINFER="${ZINFER_BUILD_DIR:-$ROOT/build}/bin/zinfer"
JOBS="${1:-$ROOT/scripts/demo_jobs.jsonl}"
RUN_DIR="$(mktemp -d)"
ENDPOINT="${ZINFER_DEMO_ENDPOINT:-ipc://$RUN_DIR/worker.sock}"

echo "[demo] starting: zinfer serve --model $(basename "$MODEL") --bind $ENDPOINT"
"$ZINFER" serve --model "$MODEL" --bind "$ENDPOINT" --max-running 8 --ctx 2048 --log-level warn &
SERVE_PID=$!
cleanup() {
  if kill -0 "$SERVE_PID" 2>/dev/null; then kill -KILL "$SERVE_PID" 2>/dev/null || true; fi
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT

# Jobs queue in the client until the worker is up; --format text prints each job's answer a
# line at a time as it streams ("[job_id] ..."), then a summary line per job.
echo "[demo] submitting $(grep -c . "$JOBS") jobs from $JOBS"
submit_rc=0
"$ZINFER" submit --connect "$ENDPOINT" --input "$JOBS" --stream --format text --timeout 300 || submit_rc=$?

echo "[demo] sending SIGTERM: the worker drains and exits"
kill -TERM "$SERVE_PID"
serve_rc=0
wait "$SERVE_PID" || serve_rc=$?
echo "[demo] worker exited with status $serve_rc"
if [ "$submit_rc" -ne 0 ] || [ "$serve_rc" -ne 0 ]; then exit 1; fi
