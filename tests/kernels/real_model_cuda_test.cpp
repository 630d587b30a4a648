// Real models on the GPU against Hugging Face transformers and the CPU exact path:
// SmolLM2-135M-Instruct Q4_1 (tests/data/golden/smollm2_hf_greedy.json, 10 prompts) and
// Gemma-3-270M Q4_K_M (gemma3_hf_greedy.json, 9 prompts, one past the 512-token window) and,
// when present, Qwen2.5-Coder-0.5B Q4_K_M (qwen_hf_greedy.json, 10 prompts).
// For every prompt, 64 greedy steps, decoded incrementally through the paged KV cache and
// teacher-forced with the golden id (one flip must not turn the rest into noise):
//  - the GPU's argmax is transformers' id and the CPU exact path's argmax, except at a near
//    tie: a flip passes only when the two ids' GPU logits are within kTieTolerance of each
//    other, and every such flip is printed;
//  - GPU logits at transformers' top-20 ids are within kLogitTolerance of transformers';
//  - GPU logits over the whole vocabulary are within kLogitTolerance of the CPU exact path.
// --q16-act (16-bit activation quants, integer dot products) is held to the same picks (ties
// within kTieTolerance) and to kQ16LogitTolerance: measured on an H200 over SmolLM2's 640
// steps, 0 flips, logits within 7.4e-3 of transformers and 9.5e-3 of the CPU — above the f32
// path's 2e-3, so --q16-act is not the default. --q16-act --tensor-cores (the integer matmuls
// in the tensor-core order, kernels/q8_mma.h: the same integers, another float order) is held
// to the same.
// kLogitTolerance = kTieTolerance = 2e-3: observed differences are ~1e-4 (float32 summation
// order over 18–30 layers, logits up to ~100), the fixtures' nearest ties are 1.1e-4 and
// 6.6e-4 apart (Gemma), which any float32 implementation may legitimately flip.
// Models come from scripts/fetch_models.sh (.models/ or $ZINFER_MODELS); missing → skipped
// (or failed under ZINFER_REQUIRE_MODELS=1). ZINFER_GPU_GOLDEN_CASES=N limits the prompts per
// model (compute-sanitizer runs use 1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "engine/sched/sequence_runner.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

using nlohmann::json;

constexpr double kLogitTolerance = 2e-3;
constexpr double kTieTolerance = 2e-3;
constexpr double kQ16LogitTolerance = 2e-2;

struct RealModel {
  const char* name;
  const char* file;
  const char* fixture;
};

const RealModel kModels[] = {
    {"smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "golden/smollm2_hf_greedy.json"},
    {"gemma3", "gemma-3-270m-q4_k_m.gguf", "golden/gemma3_hf_greedy.json"},
    {"qwen2", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "golden/qwen_hf_greedy.json"},
};

std::int32_t argmax(const std::vector<float>& l) {
  return static_cast<std::int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
}

struct Tally {
  int steps = 0;
  int flips = 0;
  double max_vs_golden = 0.0;
  double max_vs_cpu = 0.0;
};

// The GPU picked `got` where the reference picked `want`: fine only at a near tie.
void check_pick(const char* ref, const std::string& where, const std::vector<float>& gpu,
                std::int32_t got, std::int32_t want, Tally& t) {
  if (got == want) return;
  const double gap =
      std::fabs(double(gpu[static_cast<std::size_t>(got)]) - gpu[static_cast<std::size_t>(want)]);
  ++t.flips;
  std::printf("  near tie at %s: gpu %d, %s %d, gpu logits %.3g apart (tolerance %.0e)\n",
              where.c_str(), got, ref, want, gap, kTieTolerance);
  EXPECT_LE(gap, kTieTolerance) << where << ": GPU picked " << got << ", " << ref << " " << want;
}

// One model through the whole contract; q16: the GPU runs --q16-act (16-bit activation
// quants, integer dot products): the same picks, logits within kQ16LogitTolerance; with
// tensor_cores those products in the tensor-core order.
void run_model(const RealModel& m, bool q16, bool tensor_cores = false) {
  const double logit_tol = q16 ? kQ16LogitTolerance : kLogitTolerance;
  ZINFER_REQUIRE_MODEL(path, m.file);
  const json doc = json::parse(testing::read_file(testing::data_path(m.fixture)));
  int max_cases = 1 << 30;
  if (const char* env = std::getenv("ZINFER_GPU_GOLDEN_CASES"))
    max_cases = std::max(1, std::atoi(env));

  LlmOptions lo = testing::llm_options(path, 1024, 1);
  lo.n_threads = 16;
  lo.q16_act = q16;  // the CPU side stays exact
  lo.tensor_cores = tensor_cores;
  const testing::LlmPair llms = testing::load_cpu_and_gpu(lo);
  ASSERT_TRUE(llms.ok());

  Tally total;
  int n_cases = 0;
  for (const auto& c : doc["cases"]) {
    if (n_cases++ >= max_cases) break;
    const std::string name = c["name"];
    const std::vector<std::int32_t> prompt = c["prompt_ids"];
    const std::vector<std::int32_t> golden = c["generated_ids"];
    const auto& steps = c["steps"];
    ASSERT_EQ(golden.size(), steps.size());
    sched::SequenceRunner run_cpu(*llms.cpu);
    sched::SequenceRunner run_gpu(*llms.gpu);
    Tally t;
    std::vector<std::int32_t> feed = prompt;
    std::string text;
    for (std::size_t s = 0; s < golden.size(); ++s) {
      auto lg = run_gpu.forward(0, feed, false);
      auto lc = run_cpu.forward(0, feed, false);
      ASSERT_TRUE(lg.ok()) << lg.error().message;
      ASSERT_TRUE(lc.ok()) << lc.error().message;
      const std::string where = std::string(m.name) + "/" + name + " step " + std::to_string(s);
      const std::int32_t g = argmax(*lg);
      check_pick("transformers", where, *lg, g, golden[s], t);
      check_pick("cpu", where, *lg, g, argmax(*lc), t);
      const auto& ids = steps[s]["top_ids"];
      const auto& ref = steps[s]["top_logits"];
      for (std::size_t i = 0; i < ids.size(); ++i) {
        t.max_vs_golden =
            std::max(t.max_vs_golden,
                     std::fabs(double((*lg)[ids[i].get<std::size_t>()]) - ref[i].get<double>()));
      }
      for (std::size_t k = 0; k < lg->size(); ++k)
        t.max_vs_cpu = std::max(t.max_vs_cpu, std::fabs(double((*lg)[k]) - (*lc)[k]));
      ++t.steps;
      feed = {golden[s]};
    }
    EXPECT_LE(t.max_vs_golden, logit_tol) << m.name << "/" << name << " vs transformers";
    EXPECT_LE(t.max_vs_cpu, logit_tol) << m.name << "/" << name << " vs CPU";
    std::printf(
        "%s/%-22s prompt %4zu tokens: %d steps, %d near-tie flips, max |gpu - hf| %.2e, "
        "max |gpu - cpu| %.2e\n",
        m.name, name.c_str(), prompt.size(), t.steps, t.flips, t.max_vs_golden, t.max_vs_cpu);
    total.steps += t.steps;
    total.flips += t.flips;
    total.max_vs_golden = std::max(total.max_vs_golden, t.max_vs_golden);
    total.max_vs_cpu = std::max(total.max_vs_cpu, t.max_vs_cpu);
  }
  std::printf("%s%s%s: %d steps, %d near-tie flips, max |gpu - hf| %.2e, max |gpu - cpu| %.2e\n",
              m.name, q16 ? " (q16 activations)" : "", tensor_cores ? " (tensor cores)" : "",
              total.steps, total.flips, total.max_vs_golden, total.max_vs_cpu);
}

class RealModelCuda : public ::testing::TestWithParam<RealModel> {};

TEST_P(RealModelCuda, GreedyMatchesTransformersAndCpu) {
  ZINFER_REQUIRE_GPU();
  run_model(GetParam(), false);
}

TEST_P(RealModelCuda, Q16ActivationsKeepTheGreedyPicks) {
  ZINFER_REQUIRE_GPU();
  run_model(GetParam(), true);
}

TEST_P(RealModelCuda, Q16OnTensorCoresKeepsTheGreedyPicks) {
  ZINFER_REQUIRE_GPU();
  run_model(GetParam(), true, true);
}

INSTANTIATE_TEST_SUITE_P(Golden, RealModelCuda, ::testing::ValuesIn(kModels),
                         [](const ::testing::TestParamInfo<RealModel>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace zinfer
