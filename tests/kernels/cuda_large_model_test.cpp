// A ~2 GB synthetic model with Llama-3-8B shapes (4096 wide, 32 query / 8 KV heads of 128,
// 14336 FFN, 128256-token vocabulary, Q4_K with llama.cpp's Q6_K output), cut to
// ZINFER_LARGE_LAYERS layers (default 12): exercises chunked uploads of large tensors,
// many GEMM dequant tiles (the output matrix is 32 tiles), and real-size matvecs. GPU logits
// of a 13-token prompt and two decode steps must match the CPU exact path within
// 1e-3 + 1e-3·|ref|. Generated on the spot (too large to carry as a file).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "engine/sched/sequence_runner.h"
#include "engine/synthetic/synthetic_model.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(CudaLargeModel, Llama3ShapesMatchCpu) {
  ZINFER_REQUIRE_GPU();
  model::SyntheticOptions o;
  o.preset = "llama-3-8b";
  o.type = quant::GgmlType::kQ4_K;
  o.seed = 8;
  o.n_layers = 12;
  if (const char* env = std::getenv("ZINFER_LARGE_LAYERS"))
    o.n_layers = std::max(1, std::atoi(env));
  o.embed_output = model::EmbedOutputTypes::kLlamaCppMix;
  auto t0 = std::chrono::steady_clock::now();
  const std::string path = testing::write_synthetic(o, "llama3_shapes.gguf");
  ASSERT_FALSE(path.empty());
  std::printf("wrote %llu bytes (%d layers) in %.1f s\n",
              static_cast<unsigned long long>(std::filesystem::file_size(path)), o.n_layers,
              seconds_since(t0));

  LlmOptions lo = testing::llm_options(path, 256, 2);
  lo.n_threads = 16;
  auto cpu = Llm::load(lo);
  ASSERT_TRUE(cpu.ok()) << cpu.error().message;
  lo.device = "cuda";
  t0 = std::chrono::steady_clock::now();
  auto gpu = Llm::load(lo);
  ASSERT_TRUE(gpu.ok()) << gpu.error().message;
  sched::SequenceRunner run_cpu(**cpu);
  sched::SequenceRunner run_gpu(**gpu);
  std::printf("GPU load %.2f s\n", seconds_since(t0));

  std::vector<std::int32_t> tokens(13);
  for (std::size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<std::int32_t>((i * 9973 + 17) % 128000);
  double max_diff = 0.0;
  for (int step = 0; step < 3; ++step) {
    t0 = std::chrono::steady_clock::now();
    auto lc = run_cpu.forward(0, tokens, false);
    const double cpu_s = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    auto lg = run_gpu.forward(0, tokens, false);
    const double gpu_s = seconds_since(t0);
    ASSERT_TRUE(lc.ok()) << lc.error().message;
    ASSERT_TRUE(lg.ok()) << lg.error().message;
    for (std::size_t k = 0; k < lc->size(); ++k)
      max_diff = std::max(max_diff, std::fabs(double((*lg)[k]) - (*lc)[k]));
    EXPECT_TRUE(testing::all_close(*lg, *lc, 1e-3, 1e-3)) << "step " << step;
    std::printf("step %d (%zu tokens): cpu %.2f s, gpu %.3f s\n", step, tokens.size(), cpu_s,
                gpu_s);
    tokens = {static_cast<std::int32_t>(std::max_element(lc->begin(), lc->end()) - lc->begin())};
  }
  std::printf("max |gpu - cpu| logit %.3g\n", max_diff);
}

}  // namespace
}  // namespace zinfer
