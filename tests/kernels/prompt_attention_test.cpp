// Prompt attention on the GPU (fp16 tensor cores, kernels/prompt_attention.h) against the
// CPU's f16_tile_attention, through both backends' Ops::attention with per-token numerics on:
// prompt rows take the fp16 kernel, generated rows the fp32 paged kernel, on each side.
//
// Three sequences run under two schedules: A feeds long prompt chunks side by side, with a step
// whose generated rows are not the first rows (the fp32 kernel then runs on every row and the
// prompt rows are replaced); B feeds the same tokens in other chunks (19 + 64 + 67 rows: tiles
// cut at other rows), in other blocks of the pool, beside other sequences. Every (sequence,
// position) gets the same q, k and v in both. Checked:
//  - each side's rows are bitwise the same under A and B (a row's bits depend on its own query,
//    position and keys only — batch and chunk invariance);
//  - GPU against CPU: prompt rows within 1e-2 (atol = rtol): both round q, k, v and the
//    probabilities to the same fp16 values, but the tensor cores sum q·k in another order, so a
//    probability near a rounding boundary may land one fp16 step away (2^-10 of it) — bounded by
//    2^-10 · max |v| ≈ 8e-3 here; generated rows within the fp32 kernel's 5e-6·sqrt(head_dim).
// Geometries: Qwen2.5-0.5B's (14 × 2 heads of 64) and 7B's (28 × 4 of 128), head size 256
// (Gemma-3), head sizes 80 and 70 (padded to 128 in the kernel; 70: rows not loaded as
// float4s), a sliding window of 40 with soft-capping, and learned sinks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/kernels/gpu_test_util.h"
#include "tests/kernels/paged_batch.h"

namespace zinfer {
namespace {

struct Case {
  std::string name;
  std::int32_t n_head, n_head_kv, head_dim, window;
  float softcap;
  bool sinks = false;
};

struct Step {
  std::vector<std::int32_t> tokens;  // new tokens per sequence
  std::vector<bool> generated;       // their kind per sequence
};

// A row's outputs on both sides and its kind.
struct RowOut {
  std::vector<float> gpu, cpu;
  bool generated = false;
};
using Rows = std::map<std::pair<std::int32_t, std::int32_t>, RowOut>;  // (sequence, position)

// q | k | v of a token, fixed by its sequence and position. Peaky scores: std 2.
std::vector<float> token_qkv(std::int32_t seq, std::int32_t pos, std::int64_t width) {
  return testing::random_floats(static_cast<std::size_t>(width),
                                static_cast<std::uint32_t>(1000003 * seq + 7 * pos + 17), 2.0f);
}

Rows run_schedule(const Case& c, const std::vector<Step>& steps, std::uint32_t pool_seed) {
  const std::int32_t dkv = c.n_head_kv * c.head_dim, dq = c.n_head * c.head_dim;
  const std::int64_t width = dq + 2 * dkv;
  constexpr std::int32_t kBlocks = 48, kBlockSize = 16;
  auto p = testing::make_ops_pair(1, dkv, kBlocks, kBlockSize, true,
                                  cuda::CudaOpsConfig::ActQuant::kQ16, false, true, true);
  Rows rows;
  if (!p.gpu) {
    ADD_FAILURE() << "no CudaOps";
    return rows;
  }
  testing::PagedSeqs seqs(3, kBlocks, kBlockSize, pool_seed);
  std::vector<float> sinks = testing::random_floats(static_cast<std::size_t>(c.n_head), 77, 2.0f);
  sinks[0] = 12.0f;  // one head's sink dominates, one's is negligible
  sinks[1] = -30.0f;
  cuda::DeviceBuffer d_sinks = testing::device_bytes(*p.ctx, sinks.data(), sinks.size() * 4);
  model::AttnParams ap{
      0,        c.n_head, c.n_head_kv, c.head_dim, 1.0f / std::sqrt(static_cast<float>(c.head_dim)),
      c.window, c.softcap};
  for (const Step& step : steps) {
    const model::Batch& batch = seqs.step(step.tokens, step.generated);
    const std::int64_t n = batch.n_tokens();
    std::vector<float> qkv(static_cast<std::size_t>(n * width));
    for (const model::SeqSpan& s : batch.seqs) {
      for (std::int32_t t = 0; t < s.n_tokens; ++t) {
        const auto r = token_qkv(s.seq_id, s.n_past + t, width);
        std::copy(r.begin(), r.end(), qkv.begin() + (s.row_start + t) * width);
      }
    }
    p.gpu->begin_forward();
    p.cpu->reset_scratch();
    model::Tensor g = testing::gpu_tensor(*p.gpu, qkv, n, width);
    model::Tensor go = p.gpu->alloc(n, dq);
    testing::poison(go);
    ap.sinks = c.sinks ? model::Weight{quant::GgmlType::kF32, c.n_head, 1, d_sinks.data()}
                       : model::Weight{};
    const Status st = p.gpu->attention(go, g.cols_slice(0, dq), g.cols_slice(dq, dkv),
                                       g.cols_slice(dq + dkv, dkv), ap, batch);
    EXPECT_TRUE(st.ok()) << st.error().message;
    const std::vector<float> gpu = testing::download(go);
    model::Tensor h = testing::cpu_tensor(*p.cpu, qkv, n, width);
    model::Tensor co = p.cpu->alloc(n, dq);
    ap.sinks =
        c.sinks ? model::Weight{quant::GgmlType::kF32, c.n_head, 1, sinks.data()} : model::Weight{};
    EXPECT_TRUE(p.cpu
                    ->attention(co, h.cols_slice(0, dq), h.cols_slice(dq, dkv),
                                h.cols_slice(dq + dkv, dkv), ap, batch)
                    .ok());
    const std::vector<float> cpu = testing::host_copy(co);
    for (const model::SeqSpan& s : batch.seqs) {
      for (std::int32_t t = 0; t < s.n_tokens; ++t) {
        const auto at = static_cast<std::ptrdiff_t>(s.row_start + t) * dq;
        RowOut& ro = rows[{s.seq_id, s.n_past + t}];
        ro.generated = s.generated;
        if (gpu.size() == cpu.size() && !gpu.empty()) {
          ro.gpu.assign(gpu.begin() + at, gpu.begin() + at + dq);
          ro.cpu.assign(cpu.begin() + at, cpu.begin() + at + dq);
        }
      }
    }
  }
  return rows;
}

class PromptAttention : public ::testing::TestWithParam<Case> {};

TEST_P(PromptAttention, MatchesCpuAndKeepsBitsAcrossChunksAndBatches) {
  ZINFER_REQUIRE_GPU();
  const Case& c = GetParam();
  const bool P = false, G = true;
  // Sequence 0: prompt 0..149, generated 150..151; 1: prompt 0..44, generated 45;
  // 2: prompt 0..69, generated 70, a one-token prompt chunk at 71.
  const std::vector<Step> a = {{{150, 5, 70}, {P, P, P}},
                               {{1, 40, 1}, {G, P, G}},  // generated rows not first
                               {{1, 1, 1}, {G, G, P}}};
  const std::vector<Step> b = {{{19, 0, 0}, {P, P, P}},  {{64, 45, 0}, {P, P, P}},
                               {{67, 0, 33}, {P, P, P}}, {{0, 0, 37}, {P, P, P}},
                               {{1, 1, 1}, {G, G, G}},   {{1, 0, 1}, {G, G, P}}};
  const Rows ra = run_schedule(c, a, 11), rb = run_schedule(c, b, 12);
  ASSERT_EQ(ra.size(), 270u);
  ASSERT_EQ(rb.size(), ra.size());
  const double tol_exact = 5e-6 * std::sqrt(static_cast<double>(c.head_dim));
  double worst = 0.0;
  int prompt_rows = 0;
  for (const auto& [key, x] : ra) {
    const RowOut& y = rb.at(key);
    ASSERT_EQ(x.generated, y.generated);
    ASSERT_FALSE(x.gpu.empty());
    ASSERT_EQ(x.gpu.size(), y.gpu.size());
    const std::string where = c.name + " sequence " + std::to_string(key.first) + " position " +
                              std::to_string(key.second) + (x.generated ? " (generated)" : "");
    EXPECT_EQ(std::memcmp(x.gpu.data(), y.gpu.data(), x.gpu.size() * 4), 0)
        << where << ": the GPU's bits changed with the chunking or the batch";
    EXPECT_EQ(x.cpu, y.cpu) << where << ": the CPU's bits changed with the chunking or the batch";
    const double tol = x.generated ? tol_exact : 1e-2;
    EXPECT_TRUE(testing::all_close(x.gpu, x.cpu, tol, tol)) << where;
    if (!x.generated) {
      ++prompt_rows;
      for (std::size_t i = 0; i < x.gpu.size(); ++i)
        worst = std::max(worst, static_cast<double>(std::fabs(x.gpu[i] - x.cpu[i])));
    }
  }
  EXPECT_EQ(prompt_rows, 266);
  std::printf("[ measured ] %s: %d prompt rows, GPU - CPU at most %.2e\n", c.name.c_str(),
              prompt_rows, worst);
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, PromptAttention,
    ::testing::Values(Case{"qwen05_14x2_d64", 14, 2, 64, 0, 0.0f},
                      Case{"qwen7b_28x4_d128", 28, 4, 128, 0, 0.0f},
                      Case{"d256_4x1", 4, 1, 256, 0, 0.0f}, Case{"d80_6x2", 6, 2, 80, 0, 0.0f},
                      Case{"d70_2x1_scalar_loads", 2, 1, 70, 0, 0.0f},
                      Case{"window40_softcap5_4x1_d64", 4, 1, 64, 40, 5.0f},
                      Case{"sinks_window40_8x2_d64", 8, 2, 64, 40, 0.0f, true}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace zinfer
