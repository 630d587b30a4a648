// Gemma 3 270M (real GGUF, Q4_K_M) on the CPU backend's exact path against two independent
// references:
//  - NumpyReference: float64 numpy logits of a 16-token chat prompt (tests/reference/
//    reference_forward.py via scripts/golden/gemma3_numpy_logits.py) at each position's
//    top-16 ids and a fixed sample of 256 ids.
//  - GreedyTokenIdentity: 64 greedy tokens for each prompt of tests/data/golden/
//    gemma3_hf_greedy.json (Hugging Face transformers, float32, eager attention, reading the
//    same GGUF; scripts/golden/hf_goldens.py) must be exactly transformers' ids. The prompt
//    ids are llama.cpp's tokenization (scripts/golden/gemma3_goldens.py); one prompt is
//    longer than the 512-token sliding window. Decoding is incremental through the KV cache
//    and teacher-forced with the golden id, so a flip fails the case without turning later
//    comparisons into noise. The max |logit diff| over transformers' top-20 ids is reported.
//  - TokenizerMatchesLlamaCpp: our encoding of each golden prompt text is llama.cpp's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "engine/sched/sequence_runner.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

using nlohmann::json;

constexpr const char* kModel = "gemma-3-270m-q4_k_m.gguf";
// Float32 accumulation against float64 (numpy) or PyTorch float32 (transformers) over 18
// layers, logits up to ~100: measured max |diff| 7e-5 vs numpy and 1.9e-4 vs transformers
// (the 619-token prompt; 3e-5..1e-4 elsewhere). The fixture's two nearest ties are
// transformers margins of 1.1e-4 ("long", step 0) and 6.6e-4 ("one_token", step 8): our
// exact path is deterministic (each dot product and attention row is summed by one thread
// in a fixed order) and picks transformers' ids there, but an implementation with another
// summation order may legitimately flip those two steps.
// For reference, llama.cpp (Q8 activations) is 0.2-0.9 logits away from transformers on
// this model and its greedy ids diverge in 7 of the 9 prompts (gemma3_llamacpp.json).
constexpr double kNumpyTolerance = 2e-3;
constexpr double kHfTolerance = 2e-3;

// The name is a const char* (not std::string) so callers pass no temporary: GCC 13 warns
// (-Wdangling-reference) about a reference returned from a call with a temporary argument.
const json& fixture(const char* file) {
  static std::map<std::string, json> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    const std::string text = testing::read_file(testing::data_path(std::string("golden/") + file));
    it = cache.emplace(file, text.empty() ? json() : json::parse(text)).first;
  }
  return it->second;
}

// The numerics a case runs with: the exact path, the activations on the Q16 grid
// (--q16-act), the matmuls' operands rounded to fp16 (LlmOptions::fp16_matmul), or per-token
// numerics (LlmOptions::fp16_prompts: the prompt as fp16, the fed-back tokens as Q16).
enum class Numerics { kExact, kQ16, kF16, kF16Prompts };

std::unique_ptr<Llm> load_exact(const std::string& path, Numerics numerics = Numerics::kExact) {
  LlmOptions opt = testing::llm_options(path, 1024, 1);
  opt.n_threads = 2;
  opt.q16_act = numerics == Numerics::kQ16;
  opt.fp16_matmul = numerics == Numerics::kF16;
  opt.fp16_prompts = numerics == Numerics::kF16Prompts;
  auto llm = Llm::load(opt);
  if (!llm.ok()) {
    ADD_FAILURE() << "Llm::load(" << path << "): " << llm.error().message;
    return nullptr;
  }
  return std::move(llm).value();
}

TEST(Gemma3Golden, NumpyReferenceLogits) {
  ZINFER_REQUIRE_MODEL(path, kModel);
  const json& fx = fixture("gemma3_numpy_logits.json");
  ASSERT_FALSE(fx.is_null()) << "missing gemma3_numpy_logits.json";
  auto llm = load_exact(path);
  ASSERT_NE(llm, nullptr);
  const std::vector<std::int32_t> tokens = fx["tokens"];
  const auto n_vocab = fx["n_vocab"].get<std::size_t>();
  ASSERT_EQ(static_cast<std::size_t>(llm->hparams().n_vocab), n_vocab);
  sched::SequenceRunner run(*llm);
  auto logits = run.forward(0, tokens, /*all_logits=*/true);
  ASSERT_TRUE(logits.ok()) << logits.error().message;
  const std::vector<std::size_t> sample = fx["sample_ids"];
  double max_diff = 0.0;
  for (std::size_t p = 0; p < tokens.size(); ++p) {
    const float* row = logits->data() + p * n_vocab;
    const json& pos = fx["positions"][p];
    auto check = [&](std::size_t id, double want) {
      ASSERT_TRUE(std::isfinite(row[id])) << "position " << p << " id " << id;
      const double d = std::abs(row[id] - want);
      max_diff = std::max(max_diff, d);
      EXPECT_LE(d, kNumpyTolerance)
          << "position " << p << " id " << id << ": ours " << row[id] << " numpy " << want;
    };
    for (std::size_t i = 0; i < pos["top_ids"].size(); ++i)
      check(pos["top_ids"][i], pos["top_logits"][i]);
    for (std::size_t i = 0; i < sample.size(); ++i) check(sample[i], pos["sample_logits"][i]);
    const auto best = static_cast<std::int32_t>(std::max_element(row, row + n_vocab) - row);
    EXPECT_EQ(best, pos["top_ids"][0].get<std::int32_t>()) << "argmax at position " << p;
  }
  std::printf("[ numpy ] %zu positions, max |logit diff| %.2e (tolerance %.0e, max |logit| %.1f)\n",
              tokens.size(), max_diff, kNumpyTolerance, fx["max_abs_logit"].get<double>());
}

struct CaseParam {
  std::size_t index;
  std::string name;
};

std::vector<CaseParam> hf_cases() {
  std::vector<CaseParam> out;
  const json& fx = fixture("gemma3_hf_greedy.json");
  if (fx.is_null()) return {{0, "missing_fixture"}};
  for (std::size_t i = 0; i < fx["cases"].size(); ++i)
    out.push_back({i, fx["cases"][i]["name"].get<std::string>()});
  return out;
}

class Gemma3HfGolden : public ::testing::TestWithParam<CaseParam> {};

// One golden case, teacher-forced: transformers' ids fed back, ours compared at every step.
struct CaseResult {
  int steps = 0;
  int mismatches = 0;
  double max_diff = 0.0;  // top-k logits against transformers'
  std::string first;      // the first mismatch
};

CaseResult run_case(Llm& llm, const json& c) {
  CaseResult r;
  const std::vector<std::int32_t> prompt = c["prompt_ids"];
  const std::vector<std::int32_t> golden = c["generated_ids"];
  const json& steps = c["steps"];
  EXPECT_EQ(golden.size(), steps.size());
  sched::SequenceRunner run(llm);
  auto logits = run.forward(0, prompt, false);
  EXPECT_TRUE(logits.ok()) << logits.error().message;
  for (std::size_t s = 0; logits.ok() && s < golden.size() && s < steps.size(); ++s) {
    const std::vector<float>& row = *logits;
    const auto best =
        static_cast<std::int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
    const json& ids = steps[s]["top_ids"];
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const double d =
          std::abs(row[ids[i].get<std::size_t>()] - steps[s]["top_logits"][i].get<double>());
      r.max_diff = std::max(r.max_diff, d);
    }
    ++r.steps;
    if (best != golden[s] && r.mismatches++ == 0) {
      r.first = "step " + std::to_string(s) + ": ours " + std::to_string(best) +
                " vs transformers " + std::to_string(golden[s]) + " (transformers margin " +
                steps[s]["margin"].dump() + ")";
    }
    if (s + 1 == golden.size()) break;
    const std::int32_t next = golden[s];  // teacher forcing
    logits = run.forward(0, std::span<const std::int32_t>(&next, 1), false, /*generated=*/true);
    EXPECT_TRUE(logits.ok()) << logits.error().message;
  }
  return r;
}

TEST_P(Gemma3HfGolden, GreedyTokenIdentity) {
  ZINFER_REQUIRE_MODEL(path, kModel);
  const json& fx = fixture("gemma3_hf_greedy.json");
  ASSERT_FALSE(fx.is_null()) << "missing gemma3_hf_greedy.json; run scripts/golden/hf_goldens.py";
  const json& c = fx["cases"][GetParam().index];
  auto llm = load_exact(path);
  ASSERT_NE(llm, nullptr);
  const CaseResult r = run_case(*llm, c);
  std::printf(
      "[ %-12s ] %zu prompt tokens, %d steps, max top-%zu logit diff vs transformers %.2e\n",
      GetParam().name.c_str(), c["prompt_ids"].size(), r.steps, c["steps"][0]["top_ids"].size(),
      r.max_diff);
  EXPECT_EQ(r.mismatches, 0) << GetParam().name << ": " << r.first;
  EXPECT_LE(r.max_diff, kHfTolerance) << GetParam().name;
}

// --q16-act on Gemma-3 (the CPU's emulation, as HfGolden.Q16Activations... for SmolLM2 and
// Qwen2.5-Coder): teacher-forced top-1 agreement with transformers over every step of every
// case, against issue 10's bar for a faster default (99.5%).
void expect_agreement(Numerics numerics, const char* label) {
  ZINFER_REQUIRE_MODEL(path, kModel);
  const json& fx = fixture("gemma3_hf_greedy.json");
  ASSERT_FALSE(fx.is_null()) << "missing gemma3_hf_greedy.json; run scripts/golden/hf_goldens.py";
  auto llm = load_exact(path, numerics);
  ASSERT_NE(llm, nullptr);
  int steps = 0, agree = 0;
  double max_diff = 0.0;
  for (const json& c : fx["cases"]) {
    const CaseResult r = run_case(*llm, c);
    steps += r.steps;
    agree += r.steps - r.mismatches;
    max_diff = std::max(max_diff, r.max_diff);
  }
  ASSERT_GT(steps, 0);
  const double rate = static_cast<double>(agree) / steps;
  std::printf(
      "[ measured ] %s on Gemma-3: teacher-forced top-1 agreement with transformers %d "
      "of %d steps (%.2f%%), top-k logits within %.2e\n",
      label, agree, steps, 100.0 * rate, max_diff);
  EXPECT_GE(rate, 0.995);
}

TEST(Gemma3Golden, Q16ActivationsAgreeWithTransformersOnAtLeast995Permille) {
  expect_agreement(Numerics::kQ16, "--q16-act");
}

// fp16 operands (HfGolden.Fp16OperandsAgreeWithTransformers): Gemma-3's residual stream is
// large, so the row scale matters here. Measured (attention on fp16 operands too): 574 of 576
// steps (99.65%), top-k logits within 4.0e-2.
TEST(Gemma3Golden, Fp16OperandsAgreeWithTransformers) {
  expect_agreement(Numerics::kF16, "fp16 operands");
}

// Per-token numerics (--fp16-prompts): each case's prompt with fp16 operands (its attention
// too), the tokens fed back (the generated ones in a real run) on the Q16 grid. Measured: 575 of
// 576 steps (99.83%), top-k logits within 2.3e-2.
TEST(Gemma3Golden, Fp16PromptsAgreeWithTransformers) {
  expect_agreement(Numerics::kF16Prompts, "--fp16-prompts");
}

INSTANTIATE_TEST_SUITE_P(Cases, Gemma3HfGolden, ::testing::ValuesIn(hf_cases()),
                         [](const ::testing::TestParamInfo<CaseParam>& i) { return i.param.name; });

TEST(Gemma3Golden, TokenizerMatchesLlamaCpp) {
  ZINFER_REQUIRE_MODEL(path, kModel);
  const json& fx = fixture("gemma3_llamacpp.json");
  ASSERT_FALSE(fx.is_null()) << "missing gemma3_llamacpp.json";
  auto llm = load_exact(path);
  ASSERT_NE(llm, nullptr);
  for (const json& c : fx["cases"]) {
    const std::vector<std::int32_t> want = c["prompt_ids"];
    EXPECT_EQ(llm->tokenizer().encode(c["text"].get<std::string>(), c["add_special"].get<bool>(),
                                      c["parse_special"].get<bool>()),
              want)
        << c["name"].get<std::string>();
  }
}

}  // namespace
}  // namespace zinfer
