// Synthetic models with the real tensor shapes of Qwen2.5-0.5B, Qwen2.5-7B, Llama-3-8B,
// Phi-3-mini and GPT-2, in Q4_K, Q6_K, Q8_0 and F16: GPU logits of a 13-token prompt and two
// greedy decode steps must match the CPU exact path within 1e-3 + 1e-3·|ref| (observed
// differences are float32 summation order, ~1e-5..1e-4).
//
// Every matrix has its real shape (width, heads, KV heads, FFN, vocabulary), so every kernel
// runs at the sizes those models run at; the layer count is cut (kLayers below, or
// ZINFER_SHAPES_LAYERS=N for all cases, 0 = the real depth) because depth repeats the same
// kernels and the files are generated on the spot (a full-depth 7B F16 is 15 GB). Tensors
// whose width is not a multiple of the type's block fall back the way llama.cpp's quantizer
// does (the writer reports them).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "engine/model/llm.h"
#include "engine/quant/ggml_type.h"
#include "engine/sched/sequence_runner.h"
#include "engine/synthetic/synthetic_model.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

using quant::GgmlType;

struct Shape {
  const char* preset;
  std::int32_t layers;  // layers kept by default
};

const Shape kShapes[] = {
    {"qwen2.5-0.5b", 4}, {"qwen2.5-7b", 2}, {"llama-3-8b", 2}, {"phi-3-mini-4k", 2}, {"gpt2", 4},
};
const GgmlType kTypes[] = {GgmlType::kQ4_K, GgmlType::kQ6_K, GgmlType::kQ8_0, GgmlType::kF16};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class SyntheticShapes : public ::testing::TestWithParam<std::tuple<Shape, GgmlType>> {};

TEST_P(SyntheticShapes, GpuLogitsMatchCpuExactPath) {
  ZINFER_REQUIRE_GPU();
  const Shape shape = std::get<0>(GetParam());
  model::SyntheticOptions o;
  o.preset = shape.preset;
  o.type = std::get<1>(GetParam());
  o.seed = 11;
  o.n_layers = shape.layers;
  if (const char* env = std::getenv("ZINFER_SHAPES_LAYERS"))
    o.n_layers = std::max(0, std::atoi(env));
  const std::string type = std::string(quant::type_name(o.type));
  const std::string path = testing::temp_dir() + "/shape_" + shape.preset + "_" + type + ".gguf";
  auto t0 = std::chrono::steady_clock::now();
  auto written = model::write_synthetic_model(o, path);
  ASSERT_TRUE(written.ok()) << written.error().message;
  const double write_s = seconds_since(t0);

  LlmOptions lo = testing::llm_options(path, 128, 1);
  lo.n_threads = 16;
  testing::LlmPair llms = testing::load_cpu_and_gpu(lo);
  ASSERT_TRUE(llms.ok());
  const std::int32_t n_vocab = llms.cpu->hparams().n_vocab;
  auto run_cpu = std::make_unique<sched::SequenceRunner>(*llms.cpu);
  auto run_gpu = std::make_unique<sched::SequenceRunner>(*llms.gpu);

  std::vector<std::int32_t> tokens(13);
  for (std::size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<std::int32_t>((i * 7919 + 101) % static_cast<std::size_t>(n_vocab));
  double max_diff = 0.0;
  for (int step = 0; step < 3; ++step) {
    auto lc = run_cpu->forward(0, tokens, false);
    auto lg = run_gpu->forward(0, tokens, false);
    ASSERT_TRUE(lc.ok()) << lc.error().message;
    ASSERT_TRUE(lg.ok()) << lg.error().message;
    ASSERT_EQ(lc->size(), static_cast<std::size_t>(n_vocab));
    for (std::size_t k = 0; k < lc->size(); ++k)
      max_diff = std::max(max_diff, std::fabs(double((*lg)[k]) - (*lc)[k]));
    EXPECT_TRUE(testing::all_close(*lg, *lc, 1e-3, 1e-3)) << "step " << step;
    tokens = {static_cast<std::int32_t>(std::max_element(lc->begin(), lc->end()) - lc->begin())};
  }
  std::printf(
      "%-14s %-5s %2d layers, %zu tensors fell back, %.0f MB written in %.1f s: "
      "max |gpu - cpu| logit %.3g\n",
      shape.preset, type.c_str(), o.n_layers == 0 ? -1 : o.n_layers, written->fallbacks.size(),
      static_cast<double>(written->file_size) / 1e6, write_s, max_diff);
  run_cpu.reset();
  run_gpu.reset();
  llms = {};  // unload (and unmap) before the file goes
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(RealShapes, SyntheticShapes,
                         ::testing::Combine(::testing::ValuesIn(kShapes),
                                            ::testing::ValuesIn(kTypes)),
                         [](const ::testing::TestParamInfo<std::tuple<Shape, GgmlType>>& info) {
                           std::string name =
                               std::string(std::get<0>(info.param).preset) + "_" +
                               std::string(quant::type_name(std::get<1>(info.param)));
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

}  // namespace
}  // namespace zinfer
