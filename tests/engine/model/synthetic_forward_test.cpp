// CPU forward pass of the synthetic tiny models (llama, qwen2, gemma3 — with a sliding window
// shorter than the sequence and one global layer —, phi3, gpt2) in every weight type against
// the independent float64 numpy reference (tests/reference/reference_forward.py via
// scripts/golden/synthetic_logits.py). The model is rewritten here with the C++ writer and
// must hash to the file the reference read, so both sides see the same weights.
//
// Tolerances:
//  - exact_matmul=true: float dot products, so only float32 accumulation separates us from
//    float64: |ours - ref| <= 1e-3 + 1e-3 * |ref|.
//  - exact_matmul=false: activations are quantized to 8 bits per block like llama.cpp
//    (Q8_0/Q8_1 for legacy types, Q8_K for K-quants). The fixture's q8_noise is the max
//    logit change the reference itself shows under that rounding; our rounding differs in
//    detail (scale rounding, block sums), so we allow 3 × q8_noise + 1e-2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/model/llm.h"
#include "engine/sched/sequence_runner.h"
#include "engine/synthetic/synthetic_model.h"
#include "tests/engine/synthetic/synthetic_fixture.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

struct Case {
  testing::SyntheticCase fixture;
  bool exact;
};

std::vector<Case> all_cases() {
  std::vector<Case> v;
  for (bool exact : {true, false}) {
    for (const auto& c : testing::synthetic_cases()) v.push_back({c, exact});
  }
  return v;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return testing::synthetic_case_id(info.param.fixture) + (info.param.exact ? "_exact" : "_q8act");
}

class SyntheticForward : public ::testing::TestWithParam<Case> {};

TEST_P(SyntheticForward, MatchesNumpyReference) {
  const Case& c = GetParam();
  const auto fx = testing::load_synthetic_fixture(c.fixture);
  ASSERT_TRUE(fx.is_object()) << "missing fixture; run scripts/golden/synthetic_logits.py";

  const auto o = testing::synthetic_options(c.fixture, fx.at("seed").get<std::uint64_t>());
  const std::string path = testing::write_synthetic(o, "fwd_" + c.fixture.name() + ".gguf");
  ASSERT_FALSE(path.empty());
  ASSERT_EQ(testing::fnv1a64_file(path), fx.at("file_fnv1a64").get<std::string>())
      << "the C++ writer no longer produces the file the reference logits were computed on";

  LlmOptions lo = testing::llm_options(path, 64, 1);
  lo.exact_matmul = c.exact;
  lo.n_threads = 2;
  auto llm = Llm::load(lo);
  ASSERT_TRUE(llm.ok()) << llm.error().message;

  const auto tokens = fx.at("tokens").get<std::vector<std::int32_t>>();
  sched::SequenceRunner run(**llm);
  auto logits = run.forward(0, tokens, /*all_logits=*/true);
  ASSERT_TRUE(logits.ok()) << logits.error().message;
  const auto ref = testing::fixture_logits(fx);  // [positions][n_vocab]
  const auto positions = fx.at("positions").get<std::vector<std::size_t>>();
  const std::size_t n_vocab = fx.at("n_vocab").get<std::size_t>();
  ASSERT_EQ(ref.size(), positions.size() * n_vocab);
  ASSERT_EQ(logits->size(), tokens.size() * n_vocab);

  const double q8_noise = fx.at("q8_noise").get<double>();
  const double atol = c.exact ? 1e-3 : 3.0 * q8_noise + 1e-2;
  const double rtol = c.exact ? 1e-3 : 0.0;
  double max_diff = 0.0;
  std::size_t n_bad = 0;
  std::size_t first_bad = 0;
  std::size_t first_bad_ref = 0;
  for (std::size_t p = 0; p < positions.size(); ++p) {
    for (std::size_t v = 0; v < n_vocab; ++v) {
      const std::size_t i = positions[p] * n_vocab + v;
      const double got = (*logits)[i];
      const double want = ref[p * n_vocab + v];
      ASSERT_TRUE(std::isfinite(got)) << "logit " << i << " is not finite";
      const double d = std::abs(got - want);
      max_diff = std::max(max_diff, d);
      if (d > atol + rtol * std::abs(want) && n_bad++ == 0) {
        first_bad = i;
        first_bad_ref = p * n_vocab + v;
      }
    }
  }
  std::printf("[ %s %s ] max |logit diff| %.3g (atol %.3g, max |ref| %.3g)\n",
              c.fixture.name().c_str(), c.exact ? "exact" : "q8-activations", max_diff, atol,
              fx.at("max_abs_logit").get<double>());
  EXPECT_EQ(n_bad, 0u) << n_bad << " logits out of tolerance; first at position "
                       << first_bad / n_vocab << " token " << first_bad % n_vocab << ": got "
                       << (*logits)[first_bad] << " want " << ref[first_bad_ref] << "; max diff "
                       << max_diff;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, SyntheticForward, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace zinfer
