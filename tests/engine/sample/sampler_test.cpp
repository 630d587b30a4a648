// Sampler: greedy, raw logprobs, seeded determinism, distribution, call-order
// independence, the full chain against a plain full-sort reference, and errors.
#include "engine/sample/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "engine/sample/philox.h"

namespace zinfer::sample {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

SampleResult must_sample(Sampler& s, std::vector<float> logits,
                         const std::vector<std::int32_t>& history, std::int64_t position) {
  auto r = s.sample(logits, history, position);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : SampleResult{};
}

std::vector<float> lcg_logits(std::size_t n, std::uint32_t state, float scale) {
  std::vector<float> v(n);
  for (float& x : v) {
    state = state * 1664525u + 1013904223u;
    x = static_cast<float>(state >> 8) / 16777216.0f * scale;
  }
  return v;
}

TEST(Sampler, GreedyTakesArgmaxWithLowestIdOnTies) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.top_k = 1;  // filters are irrelevant to greedy
  p.top_p = 0.1f;
  Sampler s(p);
  EXPECT_EQ(must_sample(s, {0.5f, 2.0f, -1.0f, 2.0f}, {}, 0).token, 1);
  EXPECT_EQ(must_sample(s, {-kInf, -kInf, -5.0f}, {}, 3).token, 2);
}

TEST(Sampler, LogprobIsRawLogSoftmaxEvenWhenBiasPicksTheToken) {
  // numpy: log_softmax([1, 2, 3]) = [-2.40760596, -1.40760596, -0.40760596]
  SamplingParams p;
  p.temperature = 0.0f;
  {
    Sampler s(p);
    const SampleResult r = must_sample(s, {1.0f, 2.0f, 3.0f}, {}, 0);
    EXPECT_EQ(r.token, 2);
    EXPECT_NEAR(r.logprob, -0.40760596, 1e-6);
  }
  {
    p.logit_bias = {{0, 5.0f}};
    Sampler s(p);
    const SampleResult r = must_sample(s, {1.0f, 2.0f, 3.0f}, {}, 0);
    EXPECT_EQ(r.token, 0);  // 1 + 5 beats 3
    EXPECT_NEAR(r.logprob, -2.40760596, 1e-6);
  }
  {
    p.logit_bias.clear();
    p.repetition_penalty = 10.0f;  // 3 / 10 = 0.3 < 2
    Sampler s(p);
    const SampleResult r = must_sample(s, {1.0f, 2.0f, 3.0f}, {2}, 0);
    EXPECT_EQ(r.token, 1);
    EXPECT_NEAR(r.logprob, -1.40760596, 1e-6);
  }
}

TEST(Sampler, TopLogprobsSortedDescendingLowerIdOnTies) {
  // numpy: log_softmax([0, 2, 2, 1, -1]) = [-2.93726984, -0.93726984, -0.93726984,
  //                                          -1.93726984, -3.93726984]
  SamplingParams p;
  p.temperature = 0.7f;
  p.top_logprobs = 3;
  Sampler s(p);
  const SampleResult r = must_sample(s, {0.0f, 2.0f, 2.0f, 1.0f, -1.0f}, {}, 11);
  ASSERT_EQ(r.top_logprobs.size(), 3u);
  EXPECT_EQ(r.top_logprobs[0].first, 1);
  EXPECT_EQ(r.top_logprobs[1].first, 2);
  EXPECT_EQ(r.top_logprobs[2].first, 3);
  EXPECT_NEAR(r.top_logprobs[0].second, -0.93726984, 1e-6);
  EXPECT_NEAR(r.top_logprobs[1].second, -0.93726984, 1e-6);
  EXPECT_NEAR(r.top_logprobs[2].second, -1.93726984, 1e-6);
  const double expected[] = {-2.93726984, -0.93726984, -0.93726984, -1.93726984, -3.93726984};
  EXPECT_NEAR(r.logprob, expected[r.token], 1e-6);

  p.top_logprobs = 20;  // more than the vocabulary
  Sampler all(p);
  EXPECT_EQ(must_sample(all, {0.0f, 2.0f, 2.0f, 1.0f, -1.0f}, {}, 0).top_logprobs.size(), 5u);
}

TEST(Sampler, SameSeedAndPositionGiveSameToken) {
  SamplingParams p;
  p.seed = 0xDEADBEEFull;
  const std::vector<float> logits = lcg_logits(1000, 7, 4.0f);
  Sampler a(p);
  Sampler b(p);
  int differs_from_other_seed = 0;
  SamplingParams q = p;
  q.seed = p.seed + 1;
  Sampler c(q);
  for (std::int64_t pos = 0; pos < 200; ++pos) {
    const std::int32_t ta = must_sample(a, logits, {}, pos).token;
    EXPECT_EQ(ta, must_sample(b, logits, {}, pos).token);
    EXPECT_EQ(ta, must_sample(a, logits, {}, pos).token);  // re-asking does not advance
    differs_from_other_seed += ta != must_sample(c, logits, {}, pos).token;
  }
  EXPECT_GT(differs_from_other_seed, 150);  // near-flat 1000-way distribution
}

// Pearson chi-square of observed counts against expected probabilities.
double chi_square(const std::vector<int>& counts, const std::vector<double>& probs, int n) {
  double chi = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (probs[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0";
      continue;
    }
    const double e = probs[i] * n;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

TEST(Sampler, DrawsFollowTheSoftmaxOverPositions) {
  // numpy: softmax([0.5, 1.0, -0.3, 2.0, 0.0, 1.5] / 0.8)
  const std::vector<float> logits = {0.5f, 1.0f, -0.3f, 2.0f, 0.0f, 1.5f};
  const std::vector<double> probs = {0.07255552, 0.13555156, 0.02669168,
                                     0.47312142, 0.03883617, 0.25324365};
  SamplingParams p;
  p.temperature = 0.8f;
  p.seed = 2024;
  Sampler s(p);
  constexpr int kDraws = 20000;
  std::vector<int> counts(6, 0);
  for (int pos = 0; pos < kDraws; ++pos) ++counts[must_sample(s, logits, {}, pos).token];
  // 5 degrees of freedom: P(chi2 > 20.52) = 0.001.
  EXPECT_LT(chi_square(counts, probs, kDraws), 20.52);
}

TEST(Sampler, FilteredDrawsFollowTheRenormalisedSurvivors) {
  // Same distribution; top_k 3 keeps {3, 5, 1} (cum 0.549, 0.843, 1 after renorm),
  // top_p 0.9 keeps all three, min_p 0.3 drops 1 (0.1356 / 0.4731 = 0.2865 < 0.3).
  // Survivors {3, 5}: numpy [0.65135486, 0.34864514].
  const std::vector<float> logits = {0.5f, 1.0f, -0.3f, 2.0f, 0.0f, 1.5f};
  const std::vector<double> probs = {0, 0, 0, 0.65135486, 0, 0.34864514};
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 3;
  p.top_p = 0.9f;
  p.min_p = 0.3f;
  p.seed = 77;
  Sampler s(p);
  constexpr int kDraws = 20000;
  std::vector<int> counts(6, 0);
  for (int pos = 0; pos < kDraws; ++pos) ++counts[must_sample(s, logits, {}, pos).token];
  EXPECT_LT(chi_square(counts, probs, kDraws), 10.83);  // 1 dof, p = 0.001
}

TEST(Sampler, IndependentOfCallOrderAndBatchMates) {
  SamplingParams p;
  p.seed = 5;
  p.temperature = 1.3f;
  p.top_p = 0.95f;
  SamplingParams other = p;
  other.seed = 6;
  other.top_k = 7;
  const std::vector<float> logits = lcg_logits(500, 99, 5.0f);
  const std::vector<float> other_logits = lcg_logits(500, 3, 2.0f);

  Sampler alone(p);
  std::vector<std::int32_t> in_order;
  for (std::int64_t pos = 0; pos < 100; ++pos) {
    in_order.push_back(must_sample(alone, logits, {}, pos).token);
  }
  // Reverse order, with a batch-mate sampling (and a fresh job) between every call.
  Sampler job(p);
  Sampler mate(other);
  for (std::int64_t pos = 99; pos >= 0; --pos) {
    must_sample(mate, other_logits, {}, 1000 - pos);
    Sampler newcomer(other);
    must_sample(newcomer, other_logits, {}, pos);
    EXPECT_EQ(must_sample(job, logits, {}, pos).token, in_order[static_cast<std::size_t>(pos)])
        << "position " << pos;
  }
}

TEST(Sampler, MaskedTokensAreNeverDrawn) {
  std::vector<float> logits = lcg_logits(64, 1, 3.0f);
  for (std::size_t i = 0; i < logits.size(); i += 2) logits[i] = -kInf;
  SamplingParams p;
  p.temperature = 1.5f;
  Sampler s(p);
  for (std::int64_t pos = 0; pos < 2000; ++pos) {
    const SampleResult r = must_sample(s, logits, {}, pos);
    ASSERT_EQ(r.token % 2, 1) << "position " << pos;
    ASSERT_TRUE(std::isfinite(r.logprob));
  }
}

// Plain reference for the whole chain (no penalties): full sort, explicit prefixes, then
// the inverse-CDF walk in id order with the same Philox uniform.
std::int32_t reference_token(const std::vector<float>& logits, const SamplingParams& p,
                             std::int64_t position) {
  const float max = *std::max_element(logits.begin(), logits.end());
  std::vector<float> s(logits.size());
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = (logits[i] - max) / p.temperature;
  std::vector<std::int32_t> order(s.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::int32_t a, std::int32_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
  std::size_t n = order.size();
  if (p.top_k > 0) n = std::min(n, static_cast<std::size_t>(p.top_k));
  if (p.top_p < 1.0f) {
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) total += std::exp(static_cast<double>(s[order[i]]));
    double cum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      cum += std::exp(static_cast<double>(s[order[i]]));
      if (cum >= p.top_p * total) {
        n = i + 1;
        break;
      }
    }
  }
  if (p.min_p > 0.0f) {
    std::size_t m = 0;
    while (m < n && s[order[m]] >= s[order[0]] + std::log(p.min_p)) ++m;
    n = m;
  }
  std::vector<std::int32_t> kept(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n));
  std::sort(kept.begin(), kept.end());
  double total = 0;
  for (const std::int32_t id : kept) total += std::exp(s[id]);
  const double target = philox_uniform(p.seed, static_cast<std::uint64_t>(position)) * total;
  double cum = 0;
  for (const std::int32_t id : kept) {
    cum += std::exp(s[id]);
    if (cum > target) return id;
  }
  return kept.back();
}

TEST(Sampler, FullChainMatchesPlainReference) {
  const std::vector<float> logits = lcg_logits(3001, 4242, 8.0f);
  struct Cfg {
    float temperature;
    std::int32_t top_k;
    float top_p;
    float min_p;
  };
  for (const Cfg cfg :
       {Cfg{1.0f, 0, 1.0f, 0.0f}, Cfg{0.7f, 40, 1.0f, 0.0f}, Cfg{1.2f, 0, 0.9f, 0.0f},
        Cfg{0.9f, 0, 1.0f, 0.05f}, Cfg{1.0f, 200, 0.8f, 0.02f}, Cfg{2.0f, 5000, 0.99f, 0.0f}}) {
    SamplingParams p;
    p.temperature = cfg.temperature;
    p.top_k = cfg.top_k;
    p.top_p = cfg.top_p;
    p.min_p = cfg.min_p;
    p.seed = 31337;
    Sampler s(p);
    for (std::int64_t pos = 0; pos < 200; ++pos) {
      ASSERT_EQ(must_sample(s, logits, {}, pos).token, reference_token(logits, p, pos))
          << "T=" << cfg.temperature << " k=" << cfg.top_k << " p=" << cfg.top_p
          << " min_p=" << cfg.min_p << " position " << pos;
    }
  }
}

TEST(Sampler, Errors) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  SamplingParams p;
  {
    Sampler s(p);
    std::vector<float> logits = {0.0f, 1.0f, nan};
    auto r = s.sample(logits, {}, 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInferenceFailed);
    EXPECT_EQ(r.error().message, "logits[2] is nan");
    logits = {kInf, 0.0f};
    r = s.sample(logits, {}, 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "logits[0] is +inf");
    logits = {-kInf, -kInf};
    r = s.sample(logits, {}, 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "logits are all -inf");
  }
  // Parameters are not checked here: sched::JobSpec::check validated them for the model's
  // vocabulary (sampling_params_test.cpp, job_spec_test.cpp).
  {
    p.frequency_penalty = 0.5f;
    Sampler s(p);
    std::vector<float> logits = {0.0f, 1.0f};
    auto r = s.sample(logits, std::vector<std::int32_t>{1, 9}, 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "history[1] token id 9 out of range [0, 2)");
  }
}

}  // namespace
}  // namespace zinfer::sample
