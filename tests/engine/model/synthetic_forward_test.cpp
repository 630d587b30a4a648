// CPU forward pass of synthetic tiny-llama / tiny-qwen2 models in every weight type against
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
#include "engine/model/synthetic_model.h"
#include "tests/engine/model/synthetic_fixture.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

struct Case {
  std::string preset;
  std::string type;
  bool exact;
};

std::vector<Case> all_cases() {
  std::vector<Case> v;
  for (bool exact : {true, false}) {
    for (const auto& p : testing::synthetic_presets_under_test()) {
      for (const auto& t : testing::synthetic_types_under_test()) v.push_back({p, t, exact});
    }
  }
  return v;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string s = info.param.preset + "_" + info.param.type + (info.param.exact ? "_exact" : "_q8act");
  for (auto& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

class SyntheticForward : public ::testing::TestWithParam<Case> {};

TEST_P(SyntheticForward, MatchesNumpyReference) {
  const Case& c = GetParam();
  const auto fx = testing::load_synthetic_fixture(c.preset, c.type);
  ASSERT_TRUE(fx.is_object()) << "missing fixture; run scripts/golden/synthetic_logits.py";

  model::SyntheticOptions o;
  o.preset = c.preset;
  o.type = *quant::type_from_name(c.type);
  o.seed = fx.at("seed").get<std::uint64_t>();
  const std::string path = testing::temp_dir() + "/fwd_" + c.preset + "_" + c.type + ".gguf";
  auto written = model::write_synthetic_model(o, path);
  ASSERT_TRUE(written.ok()) << written.error().message;
  ASSERT_EQ(testing::fnv1a64_file(path), fx.at("file_fnv1a64").get<std::string>())
      << "the C++ writer no longer produces the file the reference logits were computed on";

  LlmOptions lo;
  lo.model_path = path;
  lo.exact_matmul = c.exact;
  lo.n_threads = 2;
  lo.n_ctx = 64;
  lo.n_seq_max = 1;
  auto llm = Llm::load(lo);
  ASSERT_TRUE(llm.ok()) << llm.error().message;

  const auto tokens = fx.at("tokens").get<std::vector<std::int32_t>>();
  auto logits = (*llm)->forward(0, tokens, /*all_logits=*/true);
  ASSERT_TRUE(logits.ok()) << logits.error().message;
  const auto ref = testing::fixture_logits(fx);
  const std::size_t n_vocab = fx.at("n_vocab").get<std::size_t>();
  ASSERT_EQ(ref.size(), tokens.size() * n_vocab);
  ASSERT_EQ(logits->size(), ref.size());

  const double q8_noise = fx.at("q8_noise").get<double>();
  const double atol = c.exact ? 1e-3 : 3.0 * q8_noise + 1e-2;
  const double rtol = c.exact ? 1e-3 : 0.0;
  double max_diff = 0.0;
  std::size_t n_bad = 0;
  std::size_t first_bad = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double got = (*logits)[i];
    ASSERT_TRUE(std::isfinite(got)) << "logit " << i << " is not finite";
    const double d = std::abs(got - static_cast<double>(ref[i]));
    max_diff = std::max(max_diff, d);
    if (d > atol + rtol * std::abs(static_cast<double>(ref[i]))) {
      if (n_bad++ == 0) first_bad = i;
    }
  }
  std::printf("[ %s %s %s ] max |logit diff| %.3g (atol %.3g, max |ref| %.3g)\n", c.preset.c_str(),
              c.type.c_str(), c.exact ? "exact" : "q8-activations", max_diff, atol,
              fx.at("max_abs_logit").get<double>());
  EXPECT_EQ(n_bad, 0u) << n_bad << " logits out of tolerance; first at position " << first_bad / n_vocab
                       << " token " << first_bad % n_vocab << ": got " << (*logits)[first_bad] << " want "
                       << ref[first_bad] << "; max diff " << max_diff;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, SyntheticForward, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace zinfer
