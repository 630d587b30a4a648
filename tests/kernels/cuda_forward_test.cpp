// Whole forward passes through Llm on "cuda" against the CPU exact path (exact_matmul, the
// oracle): synthetic tiny-llama / tiny-qwen2 models in every weight type, a real-shape
// SmolLM2 cut to 2 layers (ne0 = 576 forces the Q5_0 fallback; Q8_0 tied embedding), and the
// other tiny architectures when this build has them — gpt-oss among them (MXFP4 experts, YaRN,
// sinks, sliding-window layers over 4 tokens, top-4 of 8 experts; the top-2 preset in F16). Each
// case runs a batched prefill of three sequences (23, 5 and 1 tokens; the GEMM path), four batched
// decode steps (matvec, 3 rows) and one single-sequence step (matvec, 1 row), feeding back the
// CPU's greedy tokens. Logits must agree within 1e-3 + 1e-3·|ref| — the tolerance the CPU exact
// path itself meets against the float64 reference — and the max difference is printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "engine/sched/sequence_runner.h"
#include "engine/synthetic/synthetic_model.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

struct FwdCase {
  std::string preset;
  std::string type;
  std::int32_t layers = 0;
  bool mix = false;
  std::string id() const {
    std::string s = preset + "_" + type + (layers > 0 ? "_L" + std::to_string(layers) : "") +
                    (mix ? "_mix" : "");
    for (auto& ch : s) {
      if (ch == '-' || ch == '.') ch = '_';
    }
    return s;
  }
};

std::vector<FwdCase> cases() {
  std::vector<FwdCase> v;
  for (const char* p : {"tiny-llama", "tiny-qwen2"}) {
    for (const char* t : {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K",
                          "Q3_K", "Q4_K", "Q5_K", "Q6_K"}) {
      v.push_back({p, t});
    }
  }
  v.push_back({"smollm2-135m", "Q4_K", 2, true});
  v.push_back({"smollm2-135m", "Q4_1", 2, true});
  for (const char* p : {"tiny-gemma3", "tiny-phi3", "tiny-gpt2", "tiny-gpt-oss"})
    v.push_back({p, "Q8_0"});
  v.push_back({"tiny-gpt-oss-top2", "F16"});
  return v;
}

std::int32_t argmax(const std::vector<float>& v) {
  return static_cast<std::int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

class CudaForward : public ::testing::TestWithParam<FwdCase> {};

// kQ8Mma / kQ16Mma: the same on the tensor-core tiles (LlmOptions::tensor_cores); kF16: both
// with fp16 operands (LlmOptions::fp16_matmul: the GPU's fp16 tiles, the CPU's emulation).
// kF16Prompts: per-token numerics (LlmOptions::fp16_prompts) on both — the prompts' rows as
// kF16, the decoded tokens' (fed back as generated) on Q16, and one step that mixes a prompt
// chunk with decodes, so every product splits its rows by kind.
enum class Mode { kExact, kQ8, kQ16, kQ8Mma, kQ16Mma, kF16, kF16Prompts };

// One case: load on both backends (exact float matmuls; kQ8: both in the Q8-activation mode;
// kQ16: the GPU on 16-bit activation quants, the CPU exact), prefill three sequences, decode
// four batched steps and one single-sequence step.
void run_case(const FwdCase& c, Mode mode) {
  model::SyntheticOptions o;
  o.preset = c.preset;
  o.type = *quant::type_from_name(c.type);
  o.seed = 42;
  o.n_layers = c.layers;
  o.embed_output =
      c.mix ? model::EmbedOutputTypes::kLlamaCppMix : model::EmbedOutputTypes::kRequested;
  const std::string path = testing::write_synthetic(o, "cuda_fwd_" + c.id() + ".gguf");
  ASSERT_FALSE(path.empty());

  LlmOptions lo = testing::llm_options(path, 128, 4);
  lo.n_threads = 8;
  const bool q8 = mode == Mode::kQ8 || mode == Mode::kQ8Mma;
  const bool q16 = mode == Mode::kQ16 || mode == Mode::kQ16Mma;
  lo.exact_matmul = !q8;
  lo.fp16_matmul = mode == Mode::kF16;
  lo.fp16_prompts = mode == Mode::kF16Prompts;
  const bool gen = mode == Mode::kF16Prompts;  // decoded tokens fed back as generated
  auto cpu = Llm::load(lo);                    // kQ16: against the CPU's exact path
  if (!cpu.ok() && c.preset != "tiny-llama" && c.preset != "tiny-qwen2" &&
      c.preset != "smollm2-135m") {
    GTEST_SKIP() << c.preset << " does not load on the CPU in this build: " << cpu.error().message;
  }
  ASSERT_TRUE(cpu.ok()) << cpu.error().message;
  lo.device = "cuda";
  lo.q16_act = q16;
  lo.tensor_cores = mode == Mode::kQ8Mma || mode == Mode::kQ16Mma || mode == Mode::kF16Prompts;
  auto gpu = Llm::load(lo);
  ASSERT_TRUE(gpu.ok()) << gpu.error().message;
  const std::int32_t n_vocab = (*cpu)->hparams().n_vocab;
  sched::SequenceRunner run_cpu(**cpu);
  sched::SequenceRunner run_gpu(**gpu);

  auto prompt = [&](std::size_t n, std::int32_t salt) {
    std::vector<std::int32_t> t(n);
    for (std::size_t i = 0; i < n; ++i)
      t[i] = static_cast<std::int32_t>((salt * 7919 + i * 104729) % n_vocab);
    return t;
  };
  double max_diff = 0.0;
  // kQ8: the two backends quantize activations that differ in the last bits (RMSNorm and
  // attention sum in different orders), so now and then an activation quant lands one step
  // apart (1/127 of its block's largest magnitude): a wider tolerance than the exact paths'
  // (measured on an H200: up to 0.050, SmolLM2 2 layers Q4_1; 0.037 on the tiny models).
  // kF16: the same halves on both sides but for an activation whose f32 value differs in its
  // last bits between the backends and lands on the other side of an fp16 rounding boundary.
  const double tol = q8 ? 8e-2 : (mode == Mode::kF16 || gen ? 5e-3 : 1e-3);
  auto compare = [&](const std::vector<std::vector<float>>& g,
                     const std::vector<std::vector<float>>& r, const std::string& what) {
    ASSERT_EQ(g.size(), r.size());
    for (std::size_t i = 0; i < g.size(); ++i) {
      for (std::size_t k = 0; k < r[i].size(); ++k)
        max_diff = std::max(max_diff, std::fabs(double(g[i][k]) - r[i][k]));
      EXPECT_TRUE(testing::all_close(g[i], r[i], tol, tol)) << what << ", sequence " << i;
    }
  };

  std::vector<std::vector<std::int32_t>> toks = {prompt(23, 1), prompt(5, 2), prompt(1, 3)};
  std::vector<sched::SeqInput> in = {{0, toks[0], true}, {1, toks[1], false}, {2, toks[2], true}};
  auto rc = run_cpu.forward_batch(in);
  auto rg = run_gpu.forward_batch(in);
  ASSERT_TRUE(rc.ok()) << rc.error().message;
  ASSERT_TRUE(rg.ok()) << rg.error().message;
  compare(*rg, *rc, "prefill");
  for (int step = 0; step < 4; ++step) {
    std::vector<std::vector<std::int32_t>> next(3);
    for (std::size_t i = 0; i < 3; ++i) {
      const std::vector<float>& l = (*rc)[i];
      next[i] = {argmax(std::vector<float>(l.end() - n_vocab, l.end()))};
    }
    std::vector<sched::SeqInput> dec = {
        {0, next[0], false, gen}, {1, next[1], false, gen}, {2, next[2], false, gen}};
    const std::vector<std::int32_t> more = prompt(6, 4);
    if (gen && step == 1) dec[1] = {1, more, false, false};  // a prompt chunk among decodes
    rc = run_cpu.forward_batch(dec);
    rg = run_gpu.forward_batch(dec);
    ASSERT_TRUE(rc.ok()) << rc.error().message;
    ASSERT_TRUE(rg.ok()) << rg.error().message;
    compare(*rg, *rc, "decode step " + std::to_string(step));
  }
  const std::vector<std::int32_t> one = {argmax((*rc)[0])};
  auto lc = run_cpu.forward(0, one, false, gen);
  auto lg = run_gpu.forward(0, one, false, gen);
  ASSERT_TRUE(lc.ok() && lg.ok());
  compare({*lg}, {*lc}, "single-sequence step");
  EXPECT_EQ(run_gpu.seq_length(0), 23 + 4 + 1);
  std::printf("%s%s%s: max |gpu - cpu| over all logits = %.3g\n", c.id().c_str(),
              q8    ? " (q8 activations)"
              : q16 ? " (q16)"
              : gen ? " (fp16 prompts)"
                    : (mode == Mode::kF16 ? " (fp16)" : ""),
              mode == Mode::kQ8Mma || mode == Mode::kQ16Mma ? " tensor cores" : "", max_diff);
}

// Whether weights of this type have integer (Q8/Q16-activation) kernels; the others keep f32
// dot products on the GPU.
bool has_integer_kernel(const std::string& t) {
  return t != "F32" && t != "F16" && t != "BF16" && t != "Q2_K" && t != "Q3_K";
}

TEST_P(CudaForward, MatchesCpuExactPath) {
  ZINFER_REQUIRE_GPU();
  run_case(GetParam(), Mode::kExact);
}

// --q8-act: the GPU's Q8 kernels against the CPU's llama.cpp-style path, for the weight types
// that have Q8 kernels (the others keep f32 dot products on the GPU, so there is no like to
// compare with like).
TEST_P(CudaForward, Q8ActivationsMatchCpuQ8Path) {
  ZINFER_REQUIRE_GPU();
  if (!has_integer_kernel(GetParam().type)) GTEST_SKIP() << GetParam().type << " has no Q8 kernel";
  if (GetParam().preset.rfind("tiny-gpt-oss", 0) == 0)
    GTEST_SKIP() << "the GPU's MoE experts keep f32 activations; the CPU's Q8 path quantizes them";
  run_case(GetParam(), Mode::kQ8);
}

// --q16-act: the GPU's integer kernels on 16-bit activation quants against the CPU exact path,
// within the exact path's tolerance on these small models (a real model's logits move more:
// real_model_cuda_test).
TEST_P(CudaForward, Q16ActivationsMatchCpuExactPath) {
  ZINFER_REQUIRE_GPU();
  if (!has_integer_kernel(GetParam().type))
    GTEST_SKIP() << GetParam().type << " has no integer kernel";
  run_case(GetParam(), Mode::kQ16);
}

// The same two modes on the tensor-core tiles (q8_mma.h) for every matmul.
TEST_P(CudaForward, Q8ActivationsOnTensorCoresMatchCpuQ8Path) {
  ZINFER_REQUIRE_GPU();
  if (!has_integer_kernel(GetParam().type))
    GTEST_SKIP() << GetParam().type << " has no integer kernel";
  if (GetParam().preset.rfind("tiny-gpt-oss", 0) == 0)
    GTEST_SKIP() << "the GPU's MoE experts keep f32 activations; the CPU's Q8 path quantizes them";
  run_case(GetParam(), Mode::kQ8Mma);
}

TEST_P(CudaForward, Q16ActivationsOnTensorCoresMatchCpuExactPath) {
  ZINFER_REQUIRE_GPU();
  if (!has_integer_kernel(GetParam().type))
    GTEST_SKIP() << GetParam().type << " has no integer kernel";
  run_case(GetParam(), Mode::kQ16Mma);
}

// fp16 operands (the fp16 tensor-core tiles) against the CPU's emulation of them.
TEST_P(CudaForward, Fp16OperandsMatchCpuFp16Path) {
  ZINFER_REQUIRE_GPU();
  if (!has_integer_kernel(GetParam().type))
    GTEST_SKIP() << GetParam().type << " has no fp16 tile kernel";
  if (GetParam().preset.rfind("tiny-gpt-oss", 0) == 0)
    GTEST_SKIP() << "the GPU's MoE experts keep f32 operands in the fp16 mode";
  run_case(GetParam(), Mode::kF16);
}

// Per-token numerics (--fp16-prompts) against the CPU's emulation of them.
TEST_P(CudaForward, Fp16PromptsMatchCpuPerTokenPath) {
  ZINFER_REQUIRE_GPU();
  if (!has_integer_kernel(GetParam().type))
    GTEST_SKIP() << GetParam().type << " has no fp16 tile kernel";
  if (GetParam().preset.rfind("tiny-gpt-oss", 0) == 0)
    GTEST_SKIP() << "the GPU's MoE experts keep f32 operands in the fp16 mode";
  run_case(GetParam(), Mode::kF16Prompts);
}

INSTANTIATE_TEST_SUITE_P(Synthetic, CudaForward, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<FwdCase>& info) {
                           return info.param.id();
                         });

// The CLI's defaults on a CUDA device: per-token numerics where fp16_prompts_on_cuda asks for
// it and no numerics was named; --q16-act (q16_act set) keeps plain Q16, and so does a model
// with MoE experts.
TEST(CudaLoad, PerTokenNumericsAsTheCudaDefault) {
  ZINFER_REQUIRE_GPU();
  // The options the commands set, on CUDA.
  auto cli_defaults = [](LlmOptions lo) {
    lo.device = "cuda";
    lo.q16_on_cuda = true;
    lo.fp16_prompts_on_cuda = true;
    return lo;
  };
  LlmOptions lo = cli_defaults(testing::tiny_llama_options("cuda_load_per_token.gguf"));
  ASSERT_FALSE(lo.model_path.empty());
  auto per_token = Llm::load(lo);
  ASSERT_TRUE(per_token.ok()) << per_token.error().message;
  EXPECT_TRUE((*per_token)->options().fp16_prompts);
  EXPECT_TRUE((*per_token)->options().q16_act);
  lo.q16_act = true;
  auto plain = Llm::load(lo);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE((*plain)->options().fp16_prompts);
  // A model with MoE experts keeps Q16 for every token.
  const LlmOptions moe = cli_defaults(testing::llm_options(
      testing::write_synthetic("tiny-gpt-oss", quant::GgmlType::kQ8_0, "cuda_load_moe.gguf"), 64,
      1));
  ASSERT_FALSE(moe.model_path.empty());
  auto experts = Llm::load(moe);
  ASSERT_TRUE(experts.ok()) << experts.error().message;
  EXPECT_FALSE((*experts)->options().fp16_prompts);
  EXPECT_TRUE((*experts)->options().q16_act);
}

TEST(CudaLoad, TypedErrors) {
  ZINFER_REQUIRE_GPU();
  LlmOptions lo = testing::tiny_llama_options("cuda_load_errors.gguf");
  ASSERT_FALSE(lo.model_path.empty());
  lo.device = "cuda:99";
  auto r = Llm::load(lo);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidDevice) << r.error().message;
  lo.device = "gpu";
  r = Llm::load(lo);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidDevice) << r.error().message;
  lo.device = "cuda";
  lo.kv_cache_bytes = std::int64_t{1} << 50;
  r = Llm::load(lo);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kOutOfMemory) << r.error().message;
  EXPECT_NE(r.error().message.find("bytes"), std::string::npos) << r.error().message;
  // A plain load sizes the pool to at least one full context.
  lo.kv_cache_bytes = 0;
  lo.n_ctx = 512;
  lo.n_seq_max = 1;
  auto ok = Llm::load(lo);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_GE((*ok)->kv_blocks(), 512 / (*ok)->kv_block_size());
}

}  // namespace
}  // namespace zinfer
