// Paged attention on the GPU against CpuOps::attention: three sequences of different lengths
// in non-contiguous KV blocks, over three steps (prefill, decode, a mixed step), so later
// steps read keys stored by earlier ones. Q/K/V are column slices of one fused projection
// (strided views). Geometries: GQA (groups of 3, 7 and 12 heads: one block, one block with a
// spare slot, two blocks), MHA, MQA with sliding window and soft-capping, head sizes
// 64/80/128/256, and gpt-oss's learned sinks (one extra logit per head in the softmax; some
// heads' sinks far above their scores, some far below), with and without a window. Every step
// is also run with one head a block: bitwise the same as the grouped blocks, and with rows split
// over their keys (flash-decoding; up to six splits a row) both ways, and with the decode
// steps' keys and values stored by the attention kernel itself (bitwise). Both sides store
// f32 KV; the GPU uses an online fp32 softmax, the CPU a two-pass one with a double sum. The
// float rounding of q·k grows with the head size (the CPU sums it sequentially) and peaky
// scores amplify it, so the tolerance is atol = rtol = 5e-6·sqrt(head_dim): 4e-5 at 64, 8e-5
// at 256 (seen on an H200: 3e-5 at 256).
#include "kernels/paged_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tests/kernels/gpu_test_util.h"
#include "tests/kernels/paged_batch.h"

namespace zinfer {
namespace {

struct AttnCase {
  std::string name;
  std::int32_t n_head, n_head_kv, head_dim, window;
  float softcap;
  std::int32_t layer;
  bool sinks = false;
};

class PagedAttention : public ::testing::TestWithParam<AttnCase> {};

TEST_P(PagedAttention, MatchesCpuOverSeveralSteps) {
  ZINFER_REQUIRE_GPU();
  const AttnCase& c = GetParam();
  const std::int32_t dkv = c.n_head_kv * c.head_dim, dq = c.n_head * c.head_dim;
  constexpr std::int32_t kBlocks = 40, kBlockSize = 16;
  auto p = testing::make_ops_pair(2, dkv, kBlocks, kBlockSize);
  ASSERT_TRUE(p.gpu);
  testing::PagedSeqs seqs(3, kBlocks, kBlockSize, 99);
  model::AttnParams ap{
      c.layer,  c.n_head, c.n_head_kv, c.head_dim, 1.0f / std::sqrt(static_cast<float>(c.head_dim)),
      c.window, c.softcap};
  // Sinks: f32 [n_head] on both sides; heads 0 and 1 get a dominant and a negligible sink.
  std::vector<float> sinks = testing::random_floats(static_cast<std::size_t>(c.n_head), 77, 2.0f);
  sinks[0] = 12.0f;
  sinks[1] = -30.0f;
  cuda::DeviceBuffer d_sinks;
  model::Weight cpu_sinks, gpu_sinks;
  if (c.sinks) {
    d_sinks = testing::device_bytes(*p.ctx, sinks.data(), sinks.size() * sizeof(float));
    cpu_sinks = {quant::GgmlType::kF32, c.n_head, 1, sinks.data()};
    gpu_sinks = {quant::GgmlType::kF32, c.n_head, 1, d_sinks.data()};
  }
  // Each step's first launch runs with the attention input fused (set_attention_io_fused): on
  // the decode steps ({1, 1, 1}) the kernel stores the rows' keys and values itself — the
  // second one split over 32 keys a row — and must give the bits of the unfused launches after
  // it (kv_store first); on the others fusing changes nothing.
  struct Step {
    std::vector<std::int32_t> tokens;
    std::int32_t first_keys;  // the fused launch's split (0: none)
  };
  const std::vector<Step> steps = {{{19, 33, 1}, 0}, {{1, 7, 1}, 0},  {{1, 1, 1}, 0},
                                   {{9, 0, 40}, 0},  {{1, 1, 1}, 32}, {{150, 1, 90}, 0}};
  std::uint32_t seed = 1;
  for (const Step& step_case : steps) {
    const model::Batch& batch = seqs.step(step_case.tokens);
    const std::int64_t n = batch.n_tokens();
    const std::int64_t width = dq + 2 * dkv;
    // Peaky scores: q and k with std 2 give |q·k|/sqrt(d) of several units.
    const auto qkv = testing::random_floats(static_cast<std::size_t>(n * width), seed++, 2.0f);
    p.gpu->begin_forward();
    p.cpu->reset_scratch();
    model::Tensor g = testing::gpu_tensor(*p.gpu, qkv, n, width);
    // The GPU's output with `most` heads a block, rows split at `keys` keys (0: not split),
    // the attention input fused or not.
    auto gpu_attention = [&](int most, std::int32_t keys, int fused = 0) {
      cuda::set_attention_head_group(most);
      cuda::set_attention_split_keys(keys);
      cuda::set_attention_io_fused(fused);
      model::Tensor o = p.gpu->alloc(n, dq);
      testing::poison(o);
      ap.sinks = gpu_sinks;
      const Status st = p.gpu->attention(o, g.cols_slice(0, dq), g.cols_slice(dq, dkv),
                                         g.cols_slice(dq + dkv, dkv), ap, batch);
      cuda::set_attention_head_group(0);
      cuda::set_attention_split_keys(-1);
      cuda::set_attention_io_fused(-1);
      EXPECT_TRUE(st.ok()) << st.error().message;
      return st.ok() ? testing::download(o) : std::vector<float>{};
    };
    const std::vector<float> first = gpu_attention(8, step_case.first_keys, 1);
    const std::vector<float> grouped = gpu_attention(8, 0);  // the whole GQA group a block
    model::Tensor h = testing::cpu_tensor(*p.cpu, qkv, n, width);
    model::Tensor cout = p.cpu->alloc(n, dq);
    ap.sinks = cpu_sinks;
    ASSERT_TRUE(p.cpu
                    ->attention(cout, h.cols_slice(0, dq), h.cols_slice(dq, dkv),
                                h.cols_slice(dq + dkv, dkv), ap, batch)
                    .ok());
    const std::vector<float> want = testing::host_copy(cout);
    const double tol = 5e-6 * std::sqrt(static_cast<double>(c.head_dim));
    EXPECT_TRUE(testing::all_close(grouped, want, tol, tol))
        << c.name << " step with " << n << " tokens";
    // One head a block (no GQA sharing of key and value rows): the same bits.
    const std::vector<float> alone = gpu_attention(1, 0);
    ASSERT_EQ(alone.size(), grouped.size());
    EXPECT_EQ(std::memcmp(alone.data(), grouped.data(), alone.size() * sizeof(float)), 0)
        << c.name << ": heads computed in groups differ from heads computed alone";
    // Rows split over their keys (32 and 96 keys a split: one to six splits a row here),
    // grouped and alone: within the tolerance of the CPU, and the same bits either way.
    std::vector<float> first_unfused = grouped;
    for (const std::int32_t keys : {32, 96}) {
      const std::vector<float> split = gpu_attention(8, keys);
      if (keys == step_case.first_keys) first_unfused = split;
      const std::vector<float> split_alone = gpu_attention(1, keys);
      EXPECT_TRUE(testing::all_close(split, want, tol, tol))
          << c.name << " split at " << keys << " keys, step with " << n << " tokens";
      ASSERT_EQ(split.size(), split_alone.size());
      EXPECT_EQ(std::memcmp(split.data(), split_alone.data(), split.size() * sizeof(float)), 0)
          << c.name << ": split rows computed in groups differ from heads computed alone";
    }
    ASSERT_EQ(first.size(), first_unfused.size());
    EXPECT_EQ(std::memcmp(first.data(), first_unfused.data(), first.size() * sizeof(float)), 0)
        << c.name << ": the fused attention input (keys stored by the kernel) changed the bits, "
        << "step with " << n << " tokens";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, PagedAttention,
    ::testing::Values(AttnCase{"gqa_6x2_d64", 6, 2, 64, 0, 0.0f, 1},
                      AttnCase{"mha_4x4_d128", 4, 4, 128, 0, 0.0f, 0},
                      AttnCase{"gqa7_14x2_d64", 14, 2, 64, 0, 0.0f, 0},
                      AttnCase{"gqa12_24x2_d128", 24, 2, 128, 0, 0.0f, 1},
                      AttnCase{"mqa_window8_softcap5", 4, 1, 64, 8, 5.0f, 1},
                      AttnCase{"d256_2x1", 2, 1, 256, 0, 0.0f, 0},
                      AttnCase{"d80_window3", 2, 2, 80, 3, 0.0f, 1},
                      AttnCase{"sinks_8x2_d64", 8, 2, 64, 0, 0.0f, 0, true},
                      AttnCase{"sinks_window4_8x2_d64", 8, 2, 64, 4, 0.0f, 1, true}),
    [](const ::testing::TestParamInfo<AttnCase>& info) { return info.param.name; });

TEST(PagedAttentionErrors, RejectsBadGeometryAndTables) {
  ZINFER_REQUIRE_GPU();
  auto p = testing::make_ops_pair(1, 64, 4, 16);
  ASSERT_TRUE(p.gpu);
  testing::PagedSeqs seqs(1, 4, 16, 3);
  const model::Batch& batch = seqs.step({2});
  p.gpu->begin_forward();
  model::Tensor q = p.gpu->alloc(2, 128), kv = p.gpu->alloc(2, 64), out = p.gpu->alloc(2, 128);
  // layer out of range
  model::AttnParams ap{1, 2, 1, 64, 0.125f, 0, 0.0f};
  EXPECT_EQ(p.gpu->attention(out, q, kv, kv, ap, batch).error().code, ErrorCode::kInferenceFailed);
  // a block id outside the pool
  model::Batch broken = batch;
  const std::vector<std::int32_t> bad_table = {4};
  broken.seqs[0].block_table = bad_table;
  ap.layer = 0;
  EXPECT_EQ(p.gpu->attention(out, q, kv, kv, ap, broken).error().code, ErrorCode::kInferenceFailed);
  // head_dim beyond the kernel's limit
  auto p2 = testing::make_ops_pair(1, 512, 4, 16);
  p2.gpu->begin_forward();
  model::Tensor q2 = p2.gpu->alloc(2, 512), kv2 = p2.gpu->alloc(2, 512),
                out2 = p2.gpu->alloc(2, 512);
  const model::AttnParams ap2{0, 1, 1, 512, 0.05f, 0, 0.0f};
  EXPECT_EQ(p2.gpu->attention(out2, q2, kv2, kv2, ap2, batch).error().code,
            ErrorCode::kInferenceFailed);
}

}  // namespace
}  // namespace zinfer
