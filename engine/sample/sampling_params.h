// Per-job sampling parameters (engine-side; the wire protocol maps onto these 1:1).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "engine/core/error.h"

namespace zinfer::sample {

struct SamplingParams {
  float temperature = 1.0f;         // 0 → greedy (argmax)
  std::int32_t top_k = 0;           // 0 → off
  float top_p = 1.0f;               // 1 → off
  float min_p = 0.0f;               // 0 → off
  float repetition_penalty = 1.0f;  // 1 → off (llama.cpp/HF semantics: divide positive logits)
  float presence_penalty = 0.0f;    // OpenAI semantics, over generated+prompt window
  float frequency_penalty = 0.0f;
  std::int32_t penalty_last_n = 64;  // window of recent tokens the penalties see; -1 → all
  std::vector<std::pair<std::int32_t, float>> logit_bias;  // token id → added bias
  std::uint64_t seed = 0;         // per-job RNG key (Philox, counter = position)
  std::int32_t top_logprobs = 0;  // report the n most likely tokens (0..20)
};

// kInvalidParameter naming the field ("temperature", "top_p", "logit_bias[3]", ...).
Status validate(const SamplingParams& params, std::int32_t vocab_size);

}  // namespace zinfer::sample
