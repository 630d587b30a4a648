// Sampler: runs the logits-processor chain (logits_processor.h), draws with Philox, and
// reports raw-distribution logprobs.
#include "engine/sample/sampler.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <string>

#include "engine/sample/logits_processor.h"
#include "engine/sample/philox.h"
#include "engine/sample/vec_math.h"

namespace zinfer::sample {
namespace {

// Per-thread scratch, reused across calls: a Sampler lives as long as its job, and
// keeping vocabulary-sized buffers per job would cost megabytes per concurrent job.
struct Scratch {
  Candidates candidates;
  std::vector<float> weights;
  std::vector<std::pair<std::int32_t, float>> originals;  // (id, logit before processing)
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Max and log-sum-exp of the raw logits; rejects NaN and +inf (a broken forward pass),
// allows -inf (masked tokens) as long as one logit is finite. The offending index is
// searched for only on failure, so the common path stays vectorised.
Result<std::pair<float, double>> raw_log_normalizer(std::span<const float> logits,
                                                    std::vector<float>& weights) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (any_nan_or_posinf(logits)) {
    for (std::size_t i = 0; i < logits.size(); ++i) {
      if (!(logits[i] < kInf)) {
        return make_error(
            ErrorCode::kInferenceFailed,
            "logits[" + std::to_string(i) + "] is " + (std::isnan(logits[i]) ? "nan" : "+inf"));
      }
    }
  }
  const float max = max_f32(logits);
  if (max == -kInf) return make_error(ErrorCode::kInferenceFailed, "logits are all -inf");
  weights.resize(logits.size());
  exp_shifted(logits, max, weights.data());
  const double sum = sum_f64(weights);
  return std::pair<float, double>{max, static_cast<double>(max) + std::log(sum)};
}

// Greedy over the processed logits: a vectorisable max, then the first index holding it.
std::int32_t greedy_token(std::span<const float> logits) {
  const float max = max_f32(logits);
  std::size_t i = 0;
  while (logits[i] != max) ++i;
  return static_cast<std::int32_t>(i);
}

// The n largest raw logits in logit_desc order, one pass. n <= 20, so a sorted insert
// into a tiny array beats any heap; equal logits never displace (lower ids came first).
std::vector<TokenLogit> top_n(std::span<const float> logits, std::size_t n) {
  std::vector<TokenLogit> best;
  best.reserve(n + 1);
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const float x = logits[i];
    if (best.size() == n && !(x > best.back().logit)) continue;
    auto pos =
        std::find_if(best.begin(), best.end(), [x](const TokenLogit& t) { return t.logit < x; });
    best.insert(pos, TokenLogit{static_cast<std::int32_t>(i), x});
    if (best.size() > n) best.pop_back();
  }
  return best;
}

// Inverse-CDF draw over the survivors in id order: the first id whose cumulative weight,
// as a double, exceeds u * total. Weights are fixed-point (sample_math.h), so the sums are
// exact and the device sampler's parallel prefix sums give the same cumulative values.
// Tokens of weight 0 can never be chosen.
std::int32_t draw(const Candidates& c, float u, std::vector<float>& weights) {
  const std::span<const TokenLogit> items = c.items();
  c.weights(weights);
  std::int64_t total = 0;
  for (const float w : weights) total += fixed_weight(w);
  const double target = static_cast<double>(u) * static_cast<double>(total);
  std::int64_t cumulative = 0;
  std::size_t last_positive = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::int64_t w = fixed_weight(weights[i]);
    if (w <= 0) continue;
    cumulative += w;
    last_positive = i;
    if (static_cast<double>(cumulative) > target) return items[i].id;
  }
  return items[last_positive].id;  // unreachable for u < 1: total exceeds u * total
}

}  // namespace

Sampler::Sampler(SamplingParams params) : params_(std::move(params)) {}

Result<SampleResult> Sampler::sample(std::span<float> logits, std::span<const std::int32_t> history,
                                     std::int64_t position) {
  return sample_logits(params_, logits, history, position);
}

Result<SampleResult> sample_logits(const SamplingParams& params, std::span<float> logits,
                                   std::span<const std::int32_t> history, std::int64_t position) {
  // Invariants of the caller (Sequence): params passed validate() for this vocabulary when
  // the job was made (sched::JobSpec::check), logits are one row of the model's output.
  assert(!logits.empty() && static_cast<std::int64_t>(logits.size()) < kMaxFixedWeightVocab);
  assert(position >= 0);
  assert(validate(params, static_cast<std::int32_t>(logits.size())).ok());
  const auto vocab = static_cast<std::int32_t>(logits.size());

  // Logprobs come from the untouched model output, so measure it before any stage runs.
  Scratch& s = scratch();
  ZINFER_ASSIGN_OR_RETURN(const auto normalizer, raw_log_normalizer(logits, s.weights));
  const double log_z = normalizer.second;
  SampleResult result;
  if (params.top_logprobs > 0) {
    for (const TokenLogit& t : top_n(logits, static_cast<std::size_t>(params.top_logprobs))) {
      result.top_logprobs.emplace_back(t.id, static_cast<float>(t.logit - log_z));
    }
  }

  // Stages 1-3 edit few entries in place; remember their raw values (first entry per id
  // wins) instead of copying the whole vocabulary.
  s.originals.clear();
  for (const auto& [id, bias] : params.logit_bias) {
    s.originals.emplace_back(id, logits[static_cast<std::size_t>(id)]);
  }
  for (const std::int32_t id : penalty_window(history, params.penalty_last_n)) {
    if (id >= 0 && id < vocab) s.originals.emplace_back(id, logits[static_cast<std::size_t>(id)]);
  }
  apply_logit_bias(logits, params.logit_bias);
  ZINFER_RETURN_IF_ERROR(apply_penalties(logits, history, params));
  for (const auto& [id, raw] : s.originals) {
    const float x = logits[static_cast<std::size_t>(id)];
    if (std::isnan(x) || x == std::numeric_limits<float>::infinity()) {
      return make_error(ErrorCode::kInvalidParameter, "logit of token " + std::to_string(id) +
                                                          " overflowed after logit_bias/penalties");
    }
  }

  if (params.temperature == 0.0f) {
    result.token = greedy_token(logits);
  } else {
    Candidates& c = s.candidates;
    c.assign(logits);
    if (c.max_logit() == -std::numeric_limits<float>::infinity()) {
      return make_error(ErrorCode::kInferenceFailed, "logits are all -inf after penalties");
    }
    apply_temperature(c, params.temperature);
    apply_top_k(c, params.top_k);
    apply_top_p(c, params.top_p);
    apply_min_p(c, params.min_p);
    c.sort_by_id();
    const float u = philox_uniform(params.seed, static_cast<std::uint64_t>(position));
    result.token = draw(c, u, s.weights);
  }

  float raw = logits[static_cast<std::size_t>(result.token)];
  const auto touched = std::find_if(s.originals.begin(), s.originals.end(),
                                    [&](const auto& o) { return o.first == result.token; });
  if (touched != s.originals.end()) raw = touched->second;
  result.logprob = static_cast<float>(static_cast<double>(raw) - log_z);
  return result;
}

}  // namespace zinfer::sample
