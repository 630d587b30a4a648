// validate(): range checks for SamplingParams; messages name the offending field.
#include "engine/sample/sampling_params.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace zinfer::sample {
namespace {

// %g keeps messages short ("1.5", "inf", "nan") while staying exact enough to act on.
std::string fmt(double v) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidParameter, std::move(message));
}

}  // namespace

Status validate(const SamplingParams& p, std::int32_t vocab_size) {
  if (vocab_size <= 0) {
    return invalid("vocab_size must be positive, got " + std::to_string(vocab_size));
  }
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f) {
    return invalid("temperature must be finite and >= 0, got " + fmt(p.temperature));
  }
  if (p.top_k < 0) {
    return invalid("top_k must be >= 0 (0 disables), got " + std::to_string(p.top_k));
  }
  // Written as !(in range) so NaN fails too.
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return invalid("top_p must be in (0, 1], got " + fmt(p.top_p));
  }
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) {
    return invalid("min_p must be in [0, 1], got " + fmt(p.min_p));
  }
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty)) {
    return invalid("repetition_penalty must be finite and > 0, got " + fmt(p.repetition_penalty));
  }
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f)) {
    return invalid("presence_penalty must be in [-2, 2], got " + fmt(p.presence_penalty));
  }
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f)) {
    return invalid("frequency_penalty must be in [-2, 2], got " + fmt(p.frequency_penalty));
  }
  if (p.penalty_last_n < -1) {
    return invalid("penalty_last_n must be >= -1 (-1 = whole history), got " +
                   std::to_string(p.penalty_last_n));
  }
  for (std::size_t i = 0; i < p.logit_bias.size(); ++i) {
    const auto& [token, bias] = p.logit_bias[i];
    const std::string name = "logit_bias[" + std::to_string(i) + "]";
    if (token < 0 || token >= vocab_size) {
      return invalid(name + " token id " + std::to_string(token) + " out of range [0, " +
                     std::to_string(vocab_size) + ")");
    }
    if (!std::isfinite(bias)) {
      return invalid(name + " bias must be finite, got " + fmt(bias));
    }
  }
  if (p.top_logprobs < 0 || p.top_logprobs > 20) {
    return invalid("top_logprobs must be in [0, 20], got " + std::to_string(p.top_logprobs));
  }
  return ok_status();
}

}  // namespace zinfer::sample
