// validate(): every range check fails with kInvalidParameter and a message naming the field.
#include "engine/sample/sampling_params.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace zinfer::sample {
namespace {

constexpr std::int32_t kVocab = 100;

std::string error_of(const SamplingParams& p, std::int32_t vocab = kVocab) {
  const Status s = validate(p, vocab);
  if (s.ok()) return "ok";
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidParameter);
  return s.error().message;
}

TEST(Validate, DefaultsAndBoundariesAreAccepted) {
  SamplingParams p;
  EXPECT_EQ(error_of(p), "ok");
  p.temperature = 0.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 1.0f;
  p.presence_penalty = -2.0f;
  p.frequency_penalty = 2.0f;
  p.penalty_last_n = -1;
  p.logit_bias = {{0, -100.0f}, {kVocab - 1, 100.0f}};
  p.top_logprobs = 20;
  p.repetition_penalty = 1e-3f;
  EXPECT_EQ(error_of(p), "ok");
}

TEST(Validate, MessagesNameTheField) {
  struct Case {
    void (*edit)(SamplingParams&);
    const char* message;
  };
  const Case cases[] = {
      {[](SamplingParams& p) { p.temperature = -0.5f; },
       "temperature must be finite and >= 0, got -0.5"},
      {[](SamplingParams& p) { p.temperature = std::numeric_limits<float>::infinity(); },
       "temperature must be finite and >= 0, got inf"},
      {[](SamplingParams& p) { p.top_k = -1; }, "top_k must be >= 0 (0 disables), got -1"},
      {[](SamplingParams& p) { p.top_p = 1.5f; }, "top_p must be in (0, 1], got 1.5"},
      {[](SamplingParams& p) { p.top_p = 0.0f; }, "top_p must be in (0, 1], got 0"},
      {[](SamplingParams& p) { p.top_p = std::numeric_limits<float>::quiet_NaN(); },
       "top_p must be in (0, 1], got nan"},
      {[](SamplingParams& p) { p.min_p = -0.25f; }, "min_p must be in [0, 1], got -0.25"},
      {[](SamplingParams& p) { p.min_p = 1.25f; }, "min_p must be in [0, 1], got 1.25"},
      {[](SamplingParams& p) { p.repetition_penalty = 0.0f; },
       "repetition_penalty must be finite and > 0, got 0"},
      {[](SamplingParams& p) { p.presence_penalty = 2.5f; },
       "presence_penalty must be in [-2, 2], got 2.5"},
      {[](SamplingParams& p) { p.frequency_penalty = -3.0f; },
       "frequency_penalty must be in [-2, 2], got -3"},
      {[](SamplingParams& p) { p.penalty_last_n = -2; },
       "penalty_last_n must be >= -1 (-1 = whole history), got -2"},
      {[](SamplingParams& p) {
         p.logit_bias = {{5, 1.0f}, {100, 1.0f}};
       },
       "logit_bias[1] token id 100 out of range [0, 100)"},
      {[](SamplingParams& p) {
         p.logit_bias = {{-1, 1.0f}};
       },
       "logit_bias[0] token id -1 out of range [0, 100)"},
      {[](SamplingParams& p) {
         p.logit_bias = {{1, 0.0f}, {2, 0.0f}, {3, std::numeric_limits<float>::infinity()}};
       },
       "logit_bias[2] bias must be finite, got inf"},
      {[](SamplingParams& p) { p.top_logprobs = 21; }, "top_logprobs must be in [0, 20], got 21"},
      {[](SamplingParams& p) { p.top_logprobs = -1; }, "top_logprobs must be in [0, 20], got -1"},
  };
  for (const Case& c : cases) {
    SamplingParams p;
    c.edit(p);
    EXPECT_EQ(error_of(p), c.message);
  }
}

TEST(Validate, RejectsNonPositiveVocab) {
  EXPECT_EQ(error_of(SamplingParams{}, 0), "vocab_size must be positive, got 0");
}

}  // namespace
}  // namespace zinfer::sample
