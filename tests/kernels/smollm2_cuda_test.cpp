// The real SmolLM2-135M-Instruct (Q4_1 + Q8_0 + F32) on the GPU: 64 greedy tokens for two
// prompts must be the tokens the CPU exact path (exact_matmul, the oracle that matches
// llama.cpp's logits) produces. On a mismatch the CPU's top-2 margin at that step is printed,
// to tell a near-tie from a real divergence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

constexpr int kNewTokens = 64;

struct Greedy {
  std::vector<std::int32_t> tokens;
  std::vector<std::vector<float>> logits;  // per generated token
};

Greedy generate(Llm& llm, const std::vector<std::int32_t>& prompt) {
  Greedy g;
  llm.reset(0);
  auto l = llm.forward(0, prompt, false);
  EXPECT_TRUE(l.ok()) << l.error().message;
  if (!l.ok()) return g;
  for (int i = 0; i < kNewTokens; ++i) {
    const auto best =
        static_cast<std::int32_t>(std::max_element(l->begin(), l->end()) - l->begin());
    g.tokens.push_back(best);
    g.logits.push_back(*l);
    const std::vector<std::int32_t> next = {best};
    l = llm.forward(0, next, false);
    EXPECT_TRUE(l.ok()) << l.error().message;
    if (!l.ok()) break;
  }
  return g;
}

double top2_margin(const std::vector<float>& l) {
  std::vector<float> s(l);
  std::partial_sort(s.begin(), s.begin() + 2, s.end(), std::greater<float>());
  return static_cast<double>(s[0]) - s[1];
}

TEST(SmolLM2Cuda, GreedyTokensEqualCpuExactPath) {
  ZINFER_REQUIRE_GPU();
  ZINFER_REQUIRE_MODEL(path, "SmolLM2-135M-Instruct.Q4_1.gguf");
  LlmOptions lo;
  lo.model_path = path;
  lo.n_ctx = 512;
  lo.n_seq_max = 1;
  lo.exact_matmul = true;
  lo.n_threads = 16;
  auto cpu = Llm::load(lo);
  ASSERT_TRUE(cpu.ok()) << cpu.error().message;
  lo.device = "cuda";
  auto gpu = Llm::load(lo);
  ASSERT_TRUE(gpu.ok()) << gpu.error().message;

  const std::vector<std::string> prompts = {
      "The capital of France is",
      "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
  };
  for (const std::string& text : prompts) {
    const std::vector<std::int32_t> prompt = (*cpu)->tokenizer().encode(text, true, false);
    ASSERT_FALSE(prompt.empty());
    const Greedy c = generate(**cpu, prompt);
    const Greedy g = generate(**gpu, prompt);
    ASSERT_EQ(c.tokens.size(), static_cast<std::size_t>(kNewTokens));
    ASSERT_EQ(g.tokens.size(), static_cast<std::size_t>(kNewTokens));
    double max_diff = 0.0;
    for (std::size_t i = 0; i < c.tokens.size(); ++i) {
      if (c.tokens[i] != g.tokens[i]) {
        ADD_FAILURE() << "prompt \"" << text << "\": token " << i << " differs (cpu " << c.tokens[i]
                      << ", gpu " << g.tokens[i] << "); cpu top-2 margin there "
                      << top2_margin(c.logits[i]);
        break;
      }
      for (std::size_t k = 0; k < c.logits[i].size(); ++k) {
        max_diff = std::max(max_diff, std::fabs(double(g.logits[i][k]) - c.logits[i][k]));
      }
    }
    std::printf("prompt %-40.40s: %d tokens equal, max |gpu - cpu| logit %.3g\ncpu text: %s\n",
                text.c_str(), kNewTokens, max_diff,
                (*cpu)->tokenizer().decode(c.tokens, false).c_str());
  }
}

}  // namespace
}  // namespace zinfer
