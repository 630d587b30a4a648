// The GPU's RoPE angles (kernels/rope_angle.cuh: rope_cos_sin, used by rope_kernel and the
// fused QKV epilogues) run on the CPU: rope_kernel's per-(row, pair) rotation emulated with
// them against CpuOps::rope, for plain, linear and YaRN scaling (gpt-oss's parameters, and a
// partial ramp with attn_factor ≠ 1), norm and neox layouts, positions up to ~5000. The angle
// is the CPU's float bit for bit (same operations, the CPU's fma included), so only the
// rotation's own roundings may differ: |diff| ≤ 2e-6 + 2e-6·|ref|, the GPU test's tolerance.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_ops.h"
#include "kernels/rope_angle.cuh"

namespace zinfer::cuda {
namespace {

// rope_kernel's body for one row: pair i of every head rotated by rope_cos_sin's angle.
void emulate_rope_row(float* row, float pos, const model::RopeParams& p, const RopeAngle& a) {
  const int half = p.n_rot / 2;
  for (int i = 0; i < half; ++i) {
    float c = 1.0f, s = 0.0f;
    rope_cos_sin(pos, i, a, c, s);
    for (int h = 0; h < p.n_head; ++h) {
      float* v = row + static_cast<std::int64_t>(h) * p.head_dim;
      const bool neox = p.type == model::RopeType::kNeox;
      const int i0 = neox ? i : 2 * i;
      const int i1 = neox ? i + half : 2 * i + 1;
      const float x0 = v[i0], x1 = v[i1];
      v[i0] = sub_rn(mul_rn(x0, c), mul_rn(x1, s));
      v[i1] = add_rn(mul_rn(x0, s), mul_rn(x1, c));
    }
  }
}

// gpt-oss's YaRN ramp bounds (engine/model/gpt_oss.cpp apply_yarn).
void set_gpt_oss_yarn(model::RopeParams& r, float n_ctx_orig) {
  const auto corr_dim = [&](float beta) {
    return static_cast<float>(r.n_rot) *
           std::log(n_ctx_orig / (beta * 2.0f * std::numbers::pi_v<float>)) /
           (2.0f * std::log(r.base));
  };
  r.ext_factor = 1.0f;
  r.attn_factor = 1.0f;
  r.yarn_low = std::max(0.0f, corr_dim(32.0f));
  r.yarn_high = std::min(static_cast<float>(r.n_rot - 1), corr_dim(1.0f));
}

TEST(RopeAngleHost, RotationsMatchCpuOps) {
  std::vector<model::RopeParams> cases;
  model::RopeParams oss{4, 64, 64, model::RopeType::kNeox, 150000.0f, 1.0f / 32.0f};
  set_gpt_oss_yarn(oss, 4096.0f);
  ASSERT_GT(oss.yarn_low, 1.0f);  // the ramp lies inside the pairs, as in the real model
  ASSERT_LT(oss.yarn_high, 31.0f);
  cases.push_back(oss);
  model::RopeParams partial{3, 96, 48, model::RopeType::kNorm, 10000.0f, 0.25f};
  partial.ext_factor = 0.5f;
  partial.attn_factor = 0.9f;
  partial.yarn_low = 3.5f;
  partial.yarn_high = 17.25f;
  cases.push_back(partial);
  model::RopeParams narrow = oss;  // high - low below 0.001: the ramp is a step
  narrow.yarn_high = narrow.yarn_low;
  cases.push_back(narrow);
  cases.push_back({2, 64, 64, model::RopeType::kNorm, 100000.0f, 1.0f});   // plain
  cases.push_back({2, 128, 128, model::RopeType::kNeox, 10000.0f, 0.5f});  // linear

  const std::vector<std::int32_t> positions = {0, 1, 2, 7, 63, 511, 1000, 4095, 4096, 5003};
  const auto n = static_cast<std::int64_t>(positions.size());
  model::Batch batch;
  batch.tokens = positions;
  batch.positions = positions;
  for (const model::RopeParams& p : cases) {
    SCOPED_TRACE("n_rot " + std::to_string(p.n_rot) + " ext " + std::to_string(p.ext_factor) +
                 " freq_scale " + std::to_string(p.freq_scale));
    const std::int64_t cols = static_cast<std::int64_t>(p.n_head) * p.head_dim;
    cpu::CpuOpsConfig cfg;
    cfg.n_layer = 1;
    cfg.n_embd_kv = 16;
    cfg.n_blocks = 1;
    cpu::CpuOps ops(cfg);
    model::Tensor x = ops.alloc(n, cols);
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 1.5f);
    std::vector<float> emu(static_cast<std::size_t>(n * cols));
    for (std::int64_t r = 0; r < n; ++r) {
      for (std::int64_t c = 0; c < cols; ++c) {
        x.data[r * x.stride + c] = emu[static_cast<std::size_t>(r * cols + c)] = dist(rng);
      }
    }
    ASSERT_TRUE(ops.rope(x, p, batch).ok());
    const RopeAngle a = make_rope_angle(p.base, p.n_rot, p.freq_scale, p.ext_factor, p.attn_factor,
                                        p.yarn_low, p.yarn_high);
    double max_diff = 0.0;
    for (std::int64_t r = 0; r < n; ++r) {
      float* row = emu.data() + r * cols;
      emulate_rope_row(row, static_cast<float>(positions[static_cast<std::size_t>(r)]), p, a);
      for (std::int64_t c = 0; c < cols; ++c) {
        const double ref = x.data[r * x.stride + c];
        const double d = std::fabs(row[c] - ref);
        max_diff = std::max(max_diff, d);
        ASSERT_LE(d, 2e-6 + 2e-6 * std::fabs(ref)) << "row " << r << " col " << c;
      }
    }
    std::printf("max |emulated - CpuOps| = %.3g\n", max_diff);
  }
}

// The angle constants themselves: the CPU's expressions (the YaRN magnitude correction
// 1 + 0.1·ln(1/freq_scale) ≈ 1.3466 for gpt-oss's factor 32).
TEST(RopeAngleHost, ConstantsFollowRopeParams) {
  const RopeAngle plain = make_rope_angle(10000.0f, 64, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f);
  EXPECT_EQ(plain.mscale, 1.0f);
  EXPECT_EQ(plain.ext_factor, 0.0f);
  EXPECT_EQ(plain.theta_scale, std::pow(10000.0f, -2.0f / 64.0f));
  const RopeAngle yarn = make_rope_angle(150000.0f, 64, 1.0f / 32.0f, 1.0f, 1.0f, 8.09f, 17.4f);
  EXPECT_NEAR(yarn.mscale, 1.0 + 0.1 * std::log(32.0), 1e-6);
  EXPECT_FLOAT_EQ(yarn.ramp_width, 17.4f - 8.09f);
  EXPECT_EQ(make_rope_angle(150000.0f, 64, 0.5f, 1.0f, 1.0f, 5.0f, 5.0f).ramp_width, 0.001f);
}

}  // namespace
}  // namespace zinfer::cuda
