// RoPE on the GPU against CpuOps: norm (adjacent pairs) and neox (halves) layouts, full and
// partial rotation (n_rot < head_dim), linear and YaRN frequency scaling (gpt-oss's
// parameters; a partial ramp with attn_factor != 1), positions up to ~4000 in several
// sequences. The angle is built with the same float operations on both sides
// (kernels/rope_angle.cuh, host-checked by rope_angle_host_test); only cosf/sinf may differ by
// an ulp or two: |diff| <= 2e-6 + 2e-6·|ref|.
#include "kernels/rope.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/kernels/gpu_test_util.h"
#include "tests/kernels/paged_batch.h"

namespace zinfer {
namespace {

struct RopeCase {
  model::RopeType type;
  std::int32_t n_head, head_dim, n_rot;
  float base, freq_scale;
  float ext_factor = 0.0f, attn_factor = 1.0f, yarn_low = 0.0f, yarn_high = 0.0f;
};

TEST(Rope, MatchesCpu) {
  ZINFER_REQUIRE_GPU();
  const RopeCase cases[] = {
      {model::RopeType::kNorm, 9, 64, 64, 100000.0f, 1.0f},
      {model::RopeType::kNeox, 3, 128, 128, 1000000.0f, 1.0f},
      {model::RopeType::kNeox, 4, 96, 32, 10000.0f, 0.25f},
      {model::RopeType::kNorm, 2, 256, 128, 500000.0f, 1.0f},
      // gpt-oss (engine/model/gpt_oss.cpp apply_yarn with factor 32, original context 4096)
      {model::RopeType::kNeox, 4, 64, 64, 150000.0f, 1.0f / 32.0f, 1.0f, 1.0f, 8.0937f, 17.3956f},
      {model::RopeType::kNorm, 3, 96, 48, 10000.0f, 0.25f, 0.5f, 0.9f, 3.5f, 17.25f},
  };
  auto p = testing::make_ops_pair(1, 64, 300, 16);
  ASSERT_TRUE(p.gpu);
  for (const RopeCase& c : cases) {
    testing::PagedSeqs seqs(3, 300, 16, 7);
    // Step 1 puts sequence 2 at position ~4000, the next steps rotate at various positions.
    for (const std::vector<std::int32_t>& step :
         std::vector<std::vector<std::int32_t>>{{19, 1, 4001}, {1, 7, 3}}) {
      const model::Batch& batch = seqs.step(step);
      const std::int64_t n = batch.n_tokens();
      const std::int64_t cols = static_cast<std::int64_t>(c.n_head) * c.head_dim;
      const model::RopeParams rp{c.n_head,   c.head_dim,   c.n_rot,      c.type,
                                 c.base,     c.freq_scale, c.ext_factor, c.attn_factor,
                                 c.yarn_low, c.yarn_high};
      const auto x = testing::random_floats(static_cast<std::size_t>(n * cols), 31, 1.5f);
      p.gpu->begin_forward();
      p.cpu->reset_scratch();
      model::Tensor gx = testing::gpu_tensor(*p.gpu, x, n, cols);
      Status st = p.gpu->rope(gx, rp, batch);
      ASSERT_TRUE(st.ok()) << st.error().message;
      model::Tensor cx = testing::cpu_tensor(*p.cpu, x, n, cols);
      ASSERT_TRUE(p.cpu->rope(cx, rp, batch).ok());
      const std::vector<float> got = testing::download(gx);
      EXPECT_NE(got, x);
      EXPECT_TRUE(testing::all_close(got, testing::host_copy(cx), 2e-6, 2e-6))
          << "type " << static_cast<int>(c.type) << " ext_factor " << c.ext_factor << " heads "
          << c.n_head << " head_dim " << c.head_dim << " n_rot " << c.n_rot << " rows " << n;
    }
  }
}

// q and k in one launch (launch_rope_qk, the decode step's fused attention input) give the
// bits of two launch_rope calls, for both layouts, partial rotation and YaRN.
TEST(Rope, QAndKInOneLaunchEqualTwoLaunches) {
  ZINFER_REQUIRE_GPU();
  auto p = testing::make_ops_pair(1, 64, 8, 16);
  ASSERT_TRUE(p.gpu);
  const RopeCase cases[] = {
      {model::RopeType::kNeox, 14, 64, 64, 1000000.0f, 1.0f},
      {model::RopeType::kNorm, 6, 96, 48, 10000.0f, 0.25f, 0.5f, 0.9f, 3.5f, 17.25f},
  };
  const std::vector<std::int32_t> positions = {0, 5, 17, 300, 4001};
  const auto n = static_cast<std::int64_t>(positions.size());
  cuda::DeviceBuffer d_pos =
      testing::device_bytes(*p.ctx, positions.data(), positions.size() * sizeof(std::int32_t));
  for (const RopeCase& c : cases) {
    const std::int32_t n_head_k = 2;
    cuda::RopeArgs a;
    a.n_head = c.n_head;
    a.head_dim = c.head_dim;
    a.n_rot = c.n_rot;
    a.neox = c.type == model::RopeType::kNeox;
    a.angle = cuda::make_rope_angle(c.base, c.n_rot, c.freq_scale, c.ext_factor, c.attn_factor,
                                    c.yarn_low, c.yarn_high);
    const std::int64_t dq = static_cast<std::int64_t>(c.n_head) * c.head_dim;
    const std::int64_t dk = static_cast<std::int64_t>(n_head_k) * c.head_dim;
    const auto q = testing::random_floats(static_cast<std::size_t>(n * dq), 5, 1.5f);
    const auto k = testing::random_floats(static_cast<std::size_t>(n * dk), 6, 1.5f);
    p.gpu->begin_forward();
    model::Tensor q1 = testing::gpu_tensor(*p.gpu, q, n, dq),
                  k1 = testing::gpu_tensor(*p.gpu, k, n, dk);
    model::Tensor q2 = testing::gpu_tensor(*p.gpu, q, n, dq),
                  k2 = testing::gpu_tensor(*p.gpu, k, n, dk);
    const auto* pos = static_cast<const std::int32_t*>(d_pos.data());
    const auto view = [](model::Tensor t) {
      return cuda::MatrixView{t.data, t.rows, t.cols, t.stride};
    };
    ASSERT_TRUE(cuda::launch_rope_qk(view(q1), view(k1), a, n_head_k, pos, p.ctx->stream()).ok());
    ASSERT_TRUE(cuda::launch_rope(view(q2), a, pos, p.ctx->stream()).ok());
    cuda::RopeArgs ak = a;
    ak.n_head = n_head_k;
    ASSERT_TRUE(cuda::launch_rope(view(k2), ak, pos, p.ctx->stream()).ok());
    EXPECT_EQ(testing::download(q1), testing::download(q2)) << "q, n_rot " << c.n_rot;
    EXPECT_EQ(testing::download(k1), testing::download(k2)) << "k, n_rot " << c.n_rot;
    EXPECT_NE(testing::download(k1), k);
  }
}

TEST(Rope, RejectsBadShapes) {
  ZINFER_REQUIRE_GPU();
  auto p = testing::make_ops_pair(1, 64, 8, 16);
  ASSERT_TRUE(p.gpu);
  testing::PagedSeqs seqs(1, 8, 16, 1);
  const model::Batch& batch = seqs.step({3});
  p.gpu->begin_forward();
  model::Tensor x = p.gpu->alloc(3, 100);
  const model::RopeParams rp{2, 64, 64, model::RopeType::kNorm, 10000.0f, 1.0f};
  EXPECT_EQ(p.gpu->rope(x, rp, batch).error().code, ErrorCode::kInferenceFailed);
}

}  // namespace
}  // namespace zinfer
