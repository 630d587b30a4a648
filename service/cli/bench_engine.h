// `zinfer bench --model FILE`: the engine alone (no sockets) — prompt processing speed,
// batch-1 decode speed and batched decode throughput of one model on one device.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/model/llm.h"

namespace zinfer::cli {

struct EngineBenchArgs {
  LlmOptions llm;
  int prompt_tokens = 512;         // tokens of the prefill measurement
  int decode_tokens = 128;         // decode steps per measurement
  int decode_context = 32;         // tokens each sequence holds before the timed decode steps
  std::vector<int> batches = {1};  // concurrent sequences for the decode measurements
  int repeats = 3;                 // each measurement; the median is reported
  bool logits = false;             // decode steps return logits to the host instead of sampling
                                   // (on the device with CUDA: what serve does)
  float temperature = 0.0f;        // decode steps' sampling: 0 → greedy; else seeded (sequence
  float top_p = 1.0f;              //   b: seed b + 1) with this temperature and top-p (1 → off)
  std::int32_t top_k = 0;          //   and top-k (0 → off)
  std::int32_t top_logprobs = 0;   // each sampled token also reports this many top logprobs
  bool json = false;               // one JSON object on stdout instead of the table
};

// Runs the measurements and prints them with the device and model named; exit code.
int run_engine_bench(const EngineBenchArgs& args);

// The bench's sampling flags (the decode steps' or the e2e jobs'), checked as a job's would be:
// false, with the error printed, when refused.
bool bench_sampling_ok(float temperature, float top_p, std::int32_t top_k,
                       std::int32_t top_logprobs);

}  // namespace zinfer::cli
