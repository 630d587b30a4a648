// The fused ops (matmul_add, norm_gated_matmul, norm_qkv_rope) as the CUDA backend runs them —
// one piece kernel each (kernels/fused_matvec*.cu) — against their definition: the CPU
// backend's composition of the unfused ops (exact float matmuls). Every weight type, odd row
// counts, partial and full RoPE, NeoX and normal RoPE, YaRN scaling (gpt-oss's parameters),
// with and without biases; tolerance atol + rtol·|ref| sized for fp32 dot products of these
// lengths; outputs poisoned first.
// Batch invariance: each row's result in a 19-row batch is bitwise the same as alone.
// The _q8act cases run both backends in the Q8-activation mode (CpuOps without exact_matmul):
// the Q8 kernels (q8_matvec.h) against the CPU's llama.cpp-style path. The _q16act cases run
// the GPU's Q16 kernels against the exact CPU path, within the same tolerance.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/quant/quant_ops.h"
#include "engine/synthetic/synthetic_weights.h"
#include "tests/kernels/gpu_test_util.h"

namespace zinfer {
namespace {

using quant::GgmlType;

const GgmlType kTypes[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ4_0,
                           GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0,
                           GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ4_K, GgmlType::kQ5_K,
                           GgmlType::kQ6_K, GgmlType::kMXFP4};
constexpr double kAtol = 2e-4;
constexpr double kRtol = 2e-4;

// A weight in both backends' memory: host bytes for CpuOps, a VRAM copy for CudaOps.
struct TwoWeights {
  std::vector<std::uint8_t> bytes;
  cuda::DeviceBuffer device;
  model::Weight cpu, gpu;
};

TwoWeights make_weight(cuda::CudaContext& ctx, GgmlType t, std::int64_t ne0, std::int64_t ne1,
                       std::uint64_t seed, float scale = 0.05f) {
  TwoWeights w;
  const std::size_t rs = quant::row_size(t, ne0);
  w.bytes.resize(rs * static_cast<std::size_t>(ne1));
  model::SynthRng rng(seed);
  for (std::int64_t r = 0; r < ne1; ++r)
    model::synth_fill_row(t, model::InitKind::kWeight, scale, ne0, rng, w.bytes.data() + rs * r);
  w.device = testing::device_bytes(ctx, w.bytes.data(), w.bytes.size());
  w.cpu = model::Weight{t, ne0, ne1, w.bytes.data()};
  w.gpu = model::Weight{t, ne0, ne1, w.device.data()};
  return w;
}

TwoWeights make_f32(cuda::CudaContext& ctx, const std::vector<float>& v) {
  TwoWeights w;
  w.bytes.resize(v.size() * 4);
  std::memcpy(w.bytes.data(), v.data(), w.bytes.size());
  w.device = testing::device_bytes(ctx, w.bytes.data(), w.bytes.size());
  const auto n = static_cast<std::int64_t>(v.size());
  w.cpu = model::Weight{GgmlType::kF32, n, 1, w.bytes.data()};
  w.gpu = model::Weight{GgmlType::kF32, n, 1, w.device.data()};
  return w;
}

std::int64_t row_length(GgmlType t) { return quant::traits(t).block_size == 256 ? 512 : 96 * 4; }

using ActQuant = cuda::CudaOpsConfig::ActQuant;

struct FusedCase {
  GgmlType type;
  ActQuant act = ActQuant::kNone;  // kQ8: both backends Q8; kQ16: GPU Q16 vs CPU exact
};

std::vector<FusedCase> fused_cases() {
  std::vector<FusedCase> v;
  for (GgmlType t : kTypes) v.push_back({t, ActQuant::kNone});
  for (ActQuant a : {ActQuant::kQ8, ActQuant::kQ16}) {
    for (GgmlType t : {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1,
                       GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K})
      v.push_back({t, a});
  }
  return v;
}

std::string case_name(const ::testing::TestParamInfo<FusedCase>& info) {
  const ActQuant a = info.param.act;
  return std::string(quant::type_name(info.param.type)) +
         (a == ActQuant::kQ8 ? "_q8act" : (a == ActQuant::kQ16 ? "_q16act" : ""));
}

class FusedOps : public ::testing::TestWithParam<FusedCase> {};

// x += in·wᵀ (+ b with a bias) on the GPU against the CPU's composition, for 1, 3, 8 and 19
// rows; with a bias also bitwise against the GPU's own unfused ops (matmul, add_bias, add).
void check_matmul_add(const FusedCase& c, bool with_bias) {
  auto p = testing::make_ops_pair(1, 64, 8, 16, true, c.act);
  ASSERT_TRUE(p.gpu);
  const std::int64_t k = row_length(c.type), n_out = 77;
  TwoWeights w = make_weight(*p.ctx, c.type, k, n_out, 5);
  TwoWeights b = make_f32(*p.ctx, testing::random_floats(static_cast<std::size_t>(n_out), 13));
  for (std::int64_t rows : {1, 3, 8, 19}) {
    p.gpu->begin_forward();
    p.cpu->reset_scratch();
    const auto x = testing::random_floats(static_cast<std::size_t>(rows * k), 7 + rows);
    const auto acc = testing::random_floats(static_cast<std::size_t>(rows * n_out), 9 + rows);
    model::Tensor gx = testing::gpu_tensor(*p.gpu, x, rows, k);
    model::Tensor gy = testing::gpu_tensor(*p.gpu, acc, rows, n_out);
    model::Tensor cx = testing::cpu_tensor(*p.cpu, x, rows, k);
    model::Tensor cy = testing::cpu_tensor(*p.cpu, acc, rows, n_out);
    ASSERT_TRUE(p.gpu->matmul_add(gy, gx, w.gpu, with_bias ? &b.gpu : nullptr).ok());
    ASSERT_TRUE(p.cpu->matmul_add(cy, cx, w.cpu, with_bias ? &b.cpu : nullptr).ok());
    const std::vector<float> fused = testing::download(gy);
    EXPECT_TRUE(testing::all_close(fused, testing::host_copy(cy), kAtol, kRtol)) << "rows " << rows;
    if (!with_bias) continue;
    model::Tensor gy2 = testing::gpu_tensor(*p.gpu, acc, rows, n_out);
    model::Tensor gt = p.gpu->alloc(rows, n_out);
    ASSERT_TRUE(p.gpu->matmul(gt, gx, w.gpu).ok());
    ASSERT_TRUE(p.gpu->add_bias(gt, b.gpu).ok());
    ASSERT_TRUE(p.gpu->add(gy2, gy2, gt).ok());
    EXPECT_EQ(fused, testing::download(gy2)) << "rows " << rows << ": fused = unfused, bitwise";
  }
}

TEST_P(FusedOps, MatmulAddMatchesComposition) {
  ZINFER_REQUIRE_GPU();
  check_matmul_add(GetParam(), false);
}

// With the projection's bias (gpt-oss's output projection): x += (in·wᵀ + b); the fused
// epilogue adds in the composed order, so it equals the unfused ops bitwise.
TEST_P(FusedOps, MatmulAddWithBiasMatchesComposition) {
  ZINFER_REQUIRE_GPU();
  check_matmul_add(GetParam(), true);
}

TEST_P(FusedOps, NormGatedMatmulMatchesCompositionAndIsBatchInvariant) {
  ZINFER_REQUIRE_GPU();
  auto p = testing::make_ops_pair(1, 64, 8, 16, true, GetParam().act);
  ASSERT_TRUE(p.gpu);
  const GgmlType t = GetParam().type;
  const std::int64_t k = row_length(t), ff = 45;
  TwoWeights gate = make_weight(*p.ctx, t, k, ff, 21);
  TwoWeights up = make_weight(*p.ctx, t, k, ff, 22);
  TwoWeights norm =
      make_f32(*p.ctx, testing::random_floats(static_cast<std::size_t>(k), 3, 0.1f, 1.0f));
  for (auto act : {model::GatedActivation::kSilu, model::GatedActivation::kGeluTanh}) {
    const std::int64_t rows = 19;
    p.gpu->begin_forward();
    p.cpu->reset_scratch();
    const auto x = testing::random_floats(static_cast<std::size_t>(rows * k), 31, 2.0f);
    model::Tensor gx = testing::gpu_tensor(*p.gpu, x, rows, k);
    model::Tensor gout = p.gpu->alloc(rows, ff);
    testing::poison(gout);
    model::Tensor cx = testing::cpu_tensor(*p.cpu, x, rows, k);
    model::Tensor cout = p.cpu->alloc(rows, ff);
    ASSERT_TRUE(p.gpu->norm_gated_matmul(gout, gx, norm.gpu, 1e-6f, gate.gpu, up.gpu, act).ok());
    ASSERT_TRUE(p.cpu->norm_gated_matmul(cout, cx, norm.cpu, 1e-6f, gate.cpu, up.cpu, act).ok());
    const auto batched = testing::download(gout);
    EXPECT_TRUE(testing::all_close(batched, testing::host_copy(cout), kAtol, kRtol));
    // Row 11 alone gives the same bits as inside the batch.
    const std::vector<float> x11(x.begin() + 11 * k, x.begin() + 12 * k);
    model::Tensor g1 = testing::gpu_tensor(*p.gpu, x11, 1, k);
    model::Tensor o1 = p.gpu->alloc(1, ff);
    ASSERT_TRUE(p.gpu->norm_gated_matmul(o1, g1, norm.gpu, 1e-6f, gate.gpu, up.gpu, act).ok());
    const auto alone = testing::download(o1);
    for (std::int64_t j = 0; j < ff; ++j) ASSERT_EQ(alone[j], batched[11 * ff + j]) << "col " << j;
  }
}

TEST_P(FusedOps, NormQkvRopeMatchesComposition) {
  ZINFER_REQUIRE_GPU();
  const GgmlType t = GetParam().type;
  const std::int64_t k = row_length(t);
  struct Case {
    int n_head, n_head_kv, head_dim, n_rot;
    model::RopeType type;
    bool bias;
    bool yarn = false;  // gpt-oss's YaRN: base 150000, factor 32, ramp over pairs 8.09 .. 17.4
  };
  for (const Case c : {Case{4, 2, 16, 16, model::RopeType::kNeox, true},
                       Case{3, 1, 32, 16, model::RopeType::kNorm, false},
                       Case{2, 2, 64, 32, model::RopeType::kNeox, false},
                       Case{4, 2, 64, 64, model::RopeType::kNeox, true, true}}) {
    const std::int32_t dkv = c.n_head_kv * c.head_dim;
    auto p = testing::make_ops_pair(1, dkv, 8, 16, true, GetParam().act);
    ASSERT_TRUE(p.gpu);
    const std::int64_t dq = static_cast<std::int64_t>(c.n_head) * c.head_dim;
    model::QkvWeights gw, cw;
    TwoWeights wq = make_weight(*p.ctx, t, k, dq, 41), wk = make_weight(*p.ctx, t, k, dkv, 42),
               wv = make_weight(*p.ctx, t, k, dkv, 43);
    TwoWeights bq =
        make_f32(*p.ctx, testing::random_floats(static_cast<std::size_t>(dq), 44, 0.1f));
    TwoWeights bk =
        make_f32(*p.ctx, testing::random_floats(static_cast<std::size_t>(dkv), 45, 0.1f));
    TwoWeights bv =
        make_f32(*p.ctx, testing::random_floats(static_cast<std::size_t>(dkv), 46, 0.1f));
    TwoWeights norm =
        make_f32(*p.ctx, testing::random_floats(static_cast<std::size_t>(k), 47, 0.1f, 1.0f));
    gw = {wq.gpu, wk.gpu, wv.gpu, {}, {}, {}};
    cw = {wq.cpu, wk.cpu, wv.cpu, {}, {}, {}};
    if (c.bias) {
      gw.bq = bq.gpu, gw.bk = bk.gpu, gw.bv = bv.gpu;
      cw.bq = bq.cpu, cw.bk = bk.cpu, cw.bv = bv.cpu;
    }
    model::RopeParams rq{c.n_head, c.head_dim, c.n_rot, c.type, 10000.0f, 1.0f};
    if (c.yarn) {
      rq.base = 150000.0f;
      rq.freq_scale = 1.0f / 32.0f;
      rq.ext_factor = 1.0f;
      rq.yarn_low = 8.09f;
      rq.yarn_high = 17.4f;
    }
    model::RopeParams rk = rq;
    rk.n_head = c.n_head_kv;
    // One sequence of 7 new tokens after 50 cached ones.
    const std::int32_t rows = 7, n_past = 50;
    std::vector<std::int32_t> tokens(rows, 1), positions(rows), table = {0, 1, 2, 3};
    for (std::int32_t i = 0; i < rows; ++i) positions[i] = n_past + i;
    model::Batch batch;
    batch.tokens = tokens;
    batch.positions = positions;
    batch.seqs.push_back(model::SeqSpan{0, n_past, rows, 0, table});
    p.gpu->begin_forward();
    p.cpu->reset_scratch();
    const auto x = testing::random_floats(static_cast<std::size_t>(rows * k), 48, 1.5f);
    model::Tensor gx = testing::gpu_tensor(*p.gpu, x, rows, k);
    model::Tensor gq = p.gpu->alloc(rows, dq), gk = p.gpu->alloc(rows, dkv),
                  gv = p.gpu->alloc(rows, dkv);
    for (auto tt : {gq, gk, gv}) testing::poison(tt);
    model::Tensor cx = testing::cpu_tensor(*p.cpu, x, rows, k);
    model::Tensor cq = p.cpu->alloc(rows, dq), ck = p.cpu->alloc(rows, dkv),
                  cv = p.cpu->alloc(rows, dkv);
    ASSERT_TRUE(p.gpu->norm_qkv_rope(gq, gk, gv, gx, norm.gpu, 1e-5f, gw, rq, rk, batch).ok());
    ASSERT_TRUE(p.cpu->norm_qkv_rope(cq, ck, cv, cx, norm.cpu, 1e-5f, cw, rq, rk, batch).ok());
    EXPECT_TRUE(testing::all_close(testing::download(gq), testing::host_copy(cq), kAtol, kRtol))
        << "q";
    EXPECT_TRUE(testing::all_close(testing::download(gk), testing::host_copy(ck), kAtol, kRtol))
        << "k";
    EXPECT_TRUE(testing::all_close(testing::download(gv), testing::host_copy(cv), kAtol, kRtol))
        << "v";
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, FusedOps, ::testing::ValuesIn(fused_cases()), case_name);

}  // namespace
}  // namespace zinfer
