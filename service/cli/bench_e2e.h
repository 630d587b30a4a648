// `zinfer bench --e2e --model FILE`: the whole service end to end. It starts a real
// `zinfer serve` (a child process: this binary) on an ipc:// and/or tcp:// endpoint, drives N
// concurrent jobs from real DEALER clients (threads of this process), and reports output tokens
// per second, time to first token and inter-token latency (p50/p99) as the clients saw them —
// beside the engine alone on the same jobs (the same Scheduler on the same model and device,
// in this process, no sockets or threads), and the ratio of the two.
//
// The jobs: `jobs` prompts of `prompt_tokens` pseudo-random token ids (different for every
// job), each generating exactly `tokens` seeded sampled tokens (ignore_eos; seed = --seed + job
// index), all submitted at once, `--max-running` of them running together (default: all).
// With `shared_prefix` > 0 a second workload puts the same `shared_prefix`-token system prompt
// in front of every prompt and runs it twice, prefix cache on and off; a warm-up job with that
// system prompt runs first, as on a worker that has served it before (jobs submitted together
// are admitted in the same step, before any of them has stored a block, so a cold cache would
// show nothing).
//
// Every run (engine alone, each transport, each cache setting) starts with one untimed warm-up
// job. The same jobs give the same tokens in every run (seeded sampling is batch-invariant):
// the report counts the jobs whose tokens differ from the engine-alone run as a correctness
// check. The same code path serves --device cpu and --device cuda.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/model/llm.h"

namespace zinfer::cli {

struct E2eBenchArgs {
  LlmOptions llm;           // model, device, threads, matmul flags (serve gets the same)
  int jobs = 32;            // N concurrent jobs
  int max_running = 0;      // serve --max-running; 0 → jobs
  int prompt_tokens = 130;  // per job (after the shared prefix, if any)
  int tokens = 64;          // sampled tokens per job
  int shared_prefix = 0;    // tokens of the shared system prompt (0: no such workload)
  std::vector<std::string> transports = {"ipc", "tcp"};
  int clients = 1;               // DEALER sockets (threads); jobs are dealt round-robin
  int ctx = 0;                   // serve --ctx; 0 → shared_prefix + prompt + tokens + 1, rounded
  int max_step_tokens = 1024;    // serve --max-step-tokens
  std::int64_t kv_cache_mb = 0;  // serve --kv-cache-mb; 0 → room for every job's whole context
  bool prefix_cache = true;      // for the unique-prompt runs (the shared workload runs both)
  float temperature = 0.8f;
  float top_p = 0.95f;
  std::int32_t top_k = 0;         // the jobs' top-k (0 → off)
  std::int32_t top_logprobs = 0;  // the jobs' top logprobs a token
  std::uint64_t seed = 1;
  bool engine_baseline = true;  // run the engine alone first
  std::string results_path;     // per-job JSONL of what the clients received ("" = none)
  bool json = false;            // one JSON object on stdout
  double timeout_s = 600.0;     // per run: no frame for this long → the run fails
};

// Exit code: 0 when every job of every run ended with its tokens, 1 otherwise, 2 bad flags.
int run_e2e_bench(const E2eBenchArgs& args);

}  // namespace zinfer::cli
