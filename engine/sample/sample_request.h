// SampleRequest: what sampling one token of a job needs besides the logits — the job's
// parameters, its history (the penalties' window is its tail) and the token's position (the
// Philox counter). A sampled forward pass (Llm::forward_sample) carries one per sampled
// sequence to the backend, which samples on the host (sample_logits) or on the device.
#pragma once

#include <cstdint>
#include <span>

#include "engine/sample/sampling_params.h"

namespace zinfer::sample {

struct SampleRequest {
  const SamplingParams* params = nullptr;  // validated for the model's vocabulary; null: no sample
  std::span<const std::int32_t> history;   // prompt + generated tokens so far
  std::int64_t position = 0;               // index of the token among the job's generated ones
};

}  // namespace zinfer::sample
