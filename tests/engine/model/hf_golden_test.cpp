// Token identity with Hugging Face transformers: for every golden prompt, greedy decoding of
// 64 tokens with the CPU backend's exact path (float dot products against dequantized
// weights — the oracle the CUDA kernels are checked against) must pick exactly the ids that
// transformers (float32, its own PyTorch implementation, reading the same GGUF) picked.
//
// Fixtures: tests/data/golden/smollm2_hf_greedy.json and qwen_hf_greedy.json (Qwen2.5-Coder-
// 0.5B, smallest top-2 margin 0.012), written by scripts/golden/hf_goldens.py.
// Decoding is incremental (prompt, then one token per forward through the KV cache) and
// teacher-forced with the golden id so one flip cannot turn later comparisons into noise;
// any differing greedy id still fails. The top-20 logits of every step must agree within
// kLogitTolerance: observed max |diff| is ~1e-4 (float32 summation order); 2e-3 leaves room
// while staying below the smallest top-2 margin in the fixture (2.3e-3 would flip a tie).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "engine/sched/sequence_runner.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

using nlohmann::json;

constexpr double kLogitTolerance = 2e-3;

struct StepCheck {
  double max_diff = 0.0;
  int mismatches = 0;
  std::string first_mismatch;
};

void check_step(const std::vector<float>& logits, const json& step, std::int32_t golden_id,
                int index, StepCheck& out) {
  const auto best =
      static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  const auto& ids = step["top_ids"];
  const auto& ref = step["top_logits"];
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const double d =
        std::fabs(static_cast<double>(logits[ids[i].get<std::size_t>()]) - ref[i].get<double>());
    out.max_diff = std::max(out.max_diff, d);
  }
  if (best != golden_id) {
    if (out.mismatches++ == 0) {
      char buf[256];
      std::snprintf(
          buf, sizeof buf,
          "step %d: ours %d (logit %.5f) vs golden %d (our logit %.5f), golden margin %.5f", index,
          best, logits[static_cast<std::size_t>(best)], golden_id,
          logits[static_cast<std::size_t>(golden_id)], step["margin"].get<double>());
      out.first_mismatch = buf;
    }
  }
}

// Teacher-forced top-1 agreement over the golden steps (the --q8-act / --q16-act measurement).
struct Agreement {
  int steps = 0;
  int agree = 0;
  double max_diff = 0.0;  // top-20 logits against transformers'
};

// The numerics a fixture is run with: the exact path (token identity required), or a faster
// one whose agreement is measured: Q8 activations (llama.cpp's numerics), Q16 activations, or
// fp16 operands.
enum class Numerics { kExact, kQ8, kQ16, kF16, kF16Prompts };

// Greedy decoding of every case in `fixture` with the model at `path` must be transformers'
// ids, with the top-20 logits within kLogitTolerance. With kQ8 or kQ16 ids may differ: only
// the agreement is counted into *tally.
void check_against_fixture(const std::string& path, const char* fixture,
                           Numerics numerics = Numerics::kExact, Agreement* tally = nullptr) {
  const std::string text = testing::read_file(testing::data_path(fixture));
  ASSERT_FALSE(text.empty());
  const json doc = json::parse(text);
  LlmOptions lo = testing::llm_options(path, 1024, 1);
  lo.exact_matmul = numerics != Numerics::kQ8;
  lo.q16_act = numerics == Numerics::kQ16;
  lo.fp16_matmul = numerics == Numerics::kF16;
  lo.fp16_prompts = numerics == Numerics::kF16Prompts;
  auto llm = Llm::load(lo);
  ASSERT_TRUE(llm.ok()) << llm.error().message;
  sched::SequenceRunner run(**llm);
  double worst = 0.0;
  for (const auto& c : doc["cases"]) {
    const std::string name = c["name"];
    const std::vector<std::int32_t> prompt = c["prompt_ids"];
    const std::vector<std::int32_t> golden = c["generated_ids"];
    const auto& steps = c["steps"];
    ASSERT_EQ(golden.size(), steps.size());
    run.reset(0);
    StepCheck check;
    auto logits = run.forward(0, prompt, false);
    ASSERT_TRUE(logits.ok()) << logits.error().message;
    for (std::size_t s = 0; s < golden.size(); ++s) {
      check_step(*logits, steps[s], golden[s], static_cast<int>(s), check);
      if (s + 1 == golden.size()) break;
      const std::int32_t next = golden[s];  // teacher forcing
      logits = run.forward(0, std::span<const std::int32_t>(&next, 1), false, /*generated=*/true);
      ASSERT_TRUE(logits.ok()) << logits.error().message;
    }
    worst = std::max(worst, check.max_diff);
    std::printf("[ %-16s ] %zu prompt tokens, %zu steps, max top-20 logit diff %.2e%s\n",
                name.c_str(), prompt.size(), golden.size(), check.max_diff,
                numerics == Numerics::kQ8           ? " (q8 activations)"
                : numerics == Numerics::kQ16        ? " (q16 activations)"
                : numerics == Numerics::kF16        ? " (fp16 operands)"
                : numerics == Numerics::kF16Prompts ? " (fp16 prompts)"
                                                    : "");
    if (numerics != Numerics::kExact) {
      tally->steps += static_cast<int>(golden.size());
      tally->agree += static_cast<int>(golden.size()) - check.mismatches;
      tally->max_diff = std::max(tally->max_diff, check.max_diff);
      continue;
    }
    EXPECT_EQ(check.mismatches, 0) << name << ": " << check.first_mismatch;
    EXPECT_LE(check.max_diff, kLogitTolerance) << name;
  }
  std::printf("worst top-20 logit diff over all cases: %.2e (tolerance %.1e)\n", worst,
              kLogitTolerance);
}

TEST(HfGolden, SmolLM2GreedyTokenIdentity) {
  ZINFER_REQUIRE_MODEL(path, "SmolLM2-135M-Instruct.Q4_1.gguf");
  check_against_fixture(path, "golden/smollm2_hf_greedy.json");
}

// Qwen2.5-Coder-0.5B-Instruct (architecture qwen2: QKV biases, NeoX RoPE, 151,936-token
// vocabulary, Q4_K_M mix with Q5_0/Q6_K/Q8_0 tensors): the same contract.
TEST(HfGolden, Qwen2GreedyTokenIdentity) {
  ZINFER_REQUIRE_MODEL(path, "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
  check_against_fixture(path, "golden/qwen_hf_greedy.json");
}

// Teacher-forced top-1 agreement with transformers over every golden step of both fixtures
// with the given numerics, printed, and held to `floor`.
void expect_agreement(Numerics numerics, const char* flag, double floor) {
  ZINFER_REQUIRE_MODEL(smol, "SmolLM2-135M-Instruct.Q4_1.gguf");
  ZINFER_REQUIRE_MODEL(qwen, "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
  Agreement a;
  check_against_fixture(smol, "golden/smollm2_hf_greedy.json", numerics, &a);
  check_against_fixture(qwen, "golden/qwen_hf_greedy.json", numerics, &a);
  ASSERT_GT(a.steps, 0);
  const double rate = static_cast<double>(a.agree) / a.steps;
  std::printf(
      "[ measured ] %s teacher-forced top-1 agreement with transformers: %d of %d steps "
      "(%.2f%%), top-20 logits within %.2e\n",
      flag, a.agree, a.steps, 100.0 * rate, a.max_diff);
  EXPECT_GE(rate, floor);
}

// --q8-act (CPU and CUDA): llama.cpp's numerics are not transformers' exactly, so token
// identity is not promised; what is measured is the teacher-forced top-1 agreement with
// transformers over every golden step of both fixtures. Measured: 1260 of 1280 (98.44%),
// top-20 logits up to 2.9 apart on SmolLM2 — below the 99.5% a faster numerics needs to be a
// default, so --q8-act stays opt-in; the floor below guards against regressions.
TEST(HfGolden, Q8ActivationsAgreeWithTransformersOnNearlyEveryStep) {
  expect_agreement(Numerics::kQ8, "--q8-act", 0.98);
}

// --q16-act: 16-bit activation quants (per 32 elements d = amax/32639), the GPU's candidate
// for a fast default (the rule: teacher-forced top-1 agreement with transformers >= 99.5% over
// every golden step). Here on the CPU, which rounds the activations to the same grid and keeps
// float dot products (the GPU's integer sums agree with it to float rounding). Measured: 1280
// of 1280 steps (100%), top-20 logits within 7.3e-3 (Gemma-3: gemma3_golden_test).
TEST(HfGolden, Q16ActivationsAgreeWithTransformersOnAtLeast995Permille) {
  expect_agreement(Numerics::kQ16, "--q16-act", 0.995);
}

// fp16 operands (LlmOptions::fp16_matmul, CPU only): the numerics an fp16 tensor-core mode would
// have — activations (a power-of-two row scale keeping them in range) and dequantized weights
// rounded to fp16, products summed in fp32, and attention on fp16 operands (f16_tile_attention.h,
// the GPU's prompt attention). Measured: 1278 of 1280 steps (99.84%), top-20 logits within
// 0.12 (Gemma-3: 574 of 576, gemma3_golden_test); 1279 of 1280 and 5.2e-2 before attention
// took fp16 operands.
TEST(HfGolden, Fp16OperandsAgreeWithTransformers) {
  expect_agreement(Numerics::kF16, "fp16 operands", 0.995);
}

// Per-token numerics (LlmOptions::fp16_prompts, --fp16-prompts): the prompt with fp16 operands,
// its attention too (the fast prompt path), the tokens fed back — the generated ones in a real
// run — with Q16 activations (the fast decode path). Measured: 1279 of 1280 steps (99.92%),
// top-20 logits within 3.5e-2.
TEST(HfGolden, Fp16PromptsAgreeWithTransformers) {
  expect_agreement(Numerics::kF16Prompts, "--fp16-prompts", 0.995);
}

}  // namespace
}  // namespace zinfer
