// Sampler: one job's logits -> one token, with logprobs; seeded and order-independent.
//
// Determinism: the draw for the token at `position` (its index among the job's generated
// tokens) uses philox_uniform(seed, position). A Sampler holds no RNG state, so a job's
// tokens are a pure function of (params, logits, history, position): independent of
// batch-mates, of how many draws happened before, and of call order.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "engine/sample/sampling_params.h"

namespace zinfer::sample {

struct SampleResult {
  std::int32_t token = 0;
  // Log-probabilities follow vLLM's default ("raw_logprobs"): log-softmax of the logits
  // exactly as the model produced them, before logit bias, penalties and temperature. So
  // they describe the model's distribution (what perplexity and scoring want), not the
  // shaped distribution the token was drawn from.
  float logprob = 0.0f;
  // The top_logprobs most likely tokens under that same raw distribution, sorted by
  // logprob descending, lower id first on ties.
  std::vector<std::pair<std::int32_t, float>> top_logprobs;
};

class Sampler {
 public:
  // params passed validate() against the model's vocabulary (sched::JobSpec::check does it).
  explicit Sampler(SamplingParams params);

  // logits: [vocab] for this position; used as scratch (bias and penalties are applied in
  // place). history: prompt + generated tokens so far (the penalty window is its tail).
  // position: index of the token being generated within the job (0 for the first).
  // Preconditions (asserted): logits not empty, position ≥ 0. Errors: kInvalidParameter
  // (history ids out of range, a logit overflowed by bias/penalties), kInferenceFailed (NaN
  // or +inf logits, or no finite logit).
  Result<SampleResult> sample(std::span<float> logits, std::span<const std::int32_t> history,
                              std::int64_t position);

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
};

// What Sampler::sample does, for callers that keep the parameters elsewhere (the backends'
// sample hook). logits.size() < kMaxFixedWeightVocab (sample_math.h), asserted.
Result<SampleResult> sample_logits(const SamplingParams& params, std::span<float> logits,
                                   std::span<const std::int32_t> history, std::int64_t position);

}  // namespace zinfer::sample
