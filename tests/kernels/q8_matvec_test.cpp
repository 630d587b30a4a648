// The Q8-activation path on the GPU (kernels/q8_act.cu, q8_matvec.cu) against the CPU's
// llama.cpp-style matmul (CpuOps without exact_matmul): activation quantization byte for byte
// (quants, scales, sums) including all-zero blocks and ties of the largest magnitude; matmuls
// of every type with a Q8 kernel at 1, 3, 8 and 19 rows within fp32-rounding tolerance (the
// integer sums are exact), an odd output count, outputs poisoned first; each row of a 19-row
// batch bitwise the same as alone. The fused ops in this mode are in fused_ops_test (_q8act).
#include "kernels/q8_matvec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/quant/act_quant.h"
#include "engine/quant/quant_ops.h"
#include "engine/synthetic/synthetic_weights.h"
#include "kernels/q8_act.h"
#include "kernels/rms_norm.h"
#include "tests/kernels/gpu_test_util.h"

namespace zinfer {
namespace {

using quant::GgmlType;

const GgmlType kQ8Types[] = {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1,
                             GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K};

using ActQuant = cuda::CudaOpsConfig::ActQuant;

// Q16 rows: the bytes of the host quantizer q8::quantize_q16_row (the arithmetic the kernel
// documents), including an all-zero row and a row with one large outlier.
TEST(Q8Act, Q16RowsEqualTheHostQuantizerByteForByte) {
  ZINFER_REQUIRE_GPU();
  auto ctx = cuda::CudaContext::create(0);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  const std::int64_t rows = 4, k = 4864;
  std::vector<float> x = testing::random_floats(static_cast<std::size_t>(rows * k), 9, 2.0f);
  std::fill(x.begin() + k, x.begin() + 2 * k, 0.0f);
  x[static_cast<std::size_t>(2 * k + 77)] = -900.0f;
  const auto layout = cuda::q8::q16_act_layout(k);
  const std::size_t bytes = layout.row_bytes * rows;
  auto in = testing::device_bytes(**ctx, x.data(), x.size() * sizeof(float));
  auto out = cuda::DeviceBuffer::allocate((*ctx)->ledger(), bytes, "q16 act");
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(cudaMemset(out->data(), 0, bytes), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const cuda::MatrixView view{in.as<float>(), rows, k, k};
  ASSERT_TRUE(cuda::launch_quantize_act(layout, view, static_cast<std::uint8_t*>(out->data()),
                                        (*ctx)->stream())
                  .ok());
  ASSERT_EQ(cudaStreamSynchronize((*ctx)->stream()), cudaSuccess);
  std::vector<std::uint8_t> got(bytes), want(layout.row_bytes);
  ASSERT_EQ(cudaMemcpy(got.data(), out->data(), bytes, cudaMemcpyDeviceToHost), cudaSuccess);
  for (std::int64_t r = 0; r < rows; ++r) {
    cuda::q8::quantize_q16_row(layout, x.data() + r * k, want.data());
    EXPECT_EQ(std::memcmp(got.data() + r * layout.row_bytes, want.data(), layout.row_bytes), 0)
        << "row " << r;
  }
}

TEST(Q8Act, QuantizedRowsEqualTheCpuQuantizerByteForByte) {
  ZINFER_REQUIRE_GPU();
  auto ctx = cuda::CudaContext::create(0);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  for (GgmlType act : {GgmlType::kQ8_0, GgmlType::kQ8_1, GgmlType::kQ8_K}) {
    for (std::int64_t k : {512, 4864}) {
      SCOPED_TRACE(std::string(quant::type_name(act)) + " k=" + std::to_string(k));
      const std::int64_t rows = 5;
      std::vector<float> x = testing::random_floats(static_cast<std::size_t>(rows * k), 3, 2.0f);
      std::fill(x.begin() + k, x.begin() + 2 * k, 0.0f);  // row 1: all zero
      for (std::int64_t i = 0; i < k; ++i)  // row 2: ties of the largest magnitude, sign first
        x[static_cast<std::size_t>(2 * k + i)] = (i % 7 == 3) ? (i % 2 ? 3.0f : -3.0f) : 0.5f;
      for (std::int64_t i = 0; i < k; ++i) x[static_cast<std::size_t>(3 * k + i)] *= 1000.0f;
      const auto layout = cuda::q8::q8_act_layout(act, k);
      const std::size_t bytes = layout.row_bytes * rows;
      auto in = testing::device_bytes(**ctx, x.data(), x.size() * sizeof(float));
      auto out = cuda::DeviceBuffer::allocate((*ctx)->ledger(), bytes, "q8 act");
      ASSERT_TRUE(out.ok());
      ASSERT_EQ(cudaMemset(out->data(), 0, bytes), cudaSuccess);
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      const cuda::MatrixView view{in.as<float>(), rows, k, k};
      ASSERT_TRUE(cuda::launch_quantize_act(layout, view, static_cast<std::uint8_t*>(out->data()),
                                            (*ctx)->stream())
                      .ok());
      ASSERT_EQ(cudaStreamSynchronize((*ctx)->stream()), cudaSuccess);
      std::vector<std::uint8_t> got(bytes);
      ASSERT_EQ(cudaMemcpy(got.data(), out->data(), bytes, cudaMemcpyDeviceToHost), cudaSuccess);
      std::vector<std::uint8_t> blocks(quant::act_row_size(act, k));
      std::vector<std::uint8_t> want(layout.row_bytes);
      for (std::int64_t r = 0; r < rows; ++r) {
        quant::quantize_act_row(act, x.data() + r * k, blocks.data(), k);
        cuda::q8::pack_act_row(layout, blocks.data(), want.data());
        EXPECT_EQ(std::memcmp(got.data() + r * layout.row_bytes, want.data(), layout.row_bytes), 0)
            << "row " << r;
      }
    }
  }
}

// rms_norm + quantize in one kernel gives the bytes of launch_rms_norm then
// launch_quantize_act (same arithmetic in the same order), with and without a norm weight.
TEST(Q8Act, FusedRmsNormEqualsRmsNormThenQuantize) {
  ZINFER_REQUIRE_GPU();
  auto ctx = cuda::CudaContext::create(0);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  cudaStream_t stream = (*ctx)->stream();
  for (int kind = 0; kind < 4; ++kind) {  // Q8_0, Q8_1, Q8_K, Q16
    const GgmlType act =
        kind == 1 ? GgmlType::kQ8_1 : (kind == 2 ? GgmlType::kQ8_K : GgmlType::kQ8_0);
    for (bool with_w : {true, false}) {
      const std::int64_t rows = 3, k = 896 + 128;
      const auto x = testing::random_floats(static_cast<std::size_t>(rows * k), 5, 3.0f);
      const auto nw = testing::random_floats(static_cast<std::size_t>(k), 6, 0.1f, 1.0f);
      auto dx = testing::device_bytes(**ctx, x.data(), x.size() * 4);
      auto dw = testing::device_bytes(**ctx, nw.data(), nw.size() * 4);
      auto dh = testing::device_bytes(**ctx, x.data(), x.size() * 4);  // rms_norm output
      const auto layout = kind == 3 ? cuda::q8::q16_act_layout(k) : cuda::q8::q8_act_layout(act, k);
      const std::size_t bytes = layout.row_bytes * rows;
      auto q1 = cuda::DeviceBuffer::allocate((*ctx)->ledger(), bytes, "fused");
      auto q2 = cuda::DeviceBuffer::allocate((*ctx)->ledger(), bytes, "two-step");
      ASSERT_TRUE(q1.ok() && q2.ok());
      ASSERT_EQ(cudaMemset(q1->data(), 0, bytes), cudaSuccess);
      ASSERT_EQ(cudaMemset(q2->data(), 0, bytes), cudaSuccess);
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      const float* w = with_w ? dw.as<float>() : nullptr;
      const cuda::MatrixView vx{dx.as<float>(), rows, k, k}, vh{dh.as<float>(), rows, k, k};
      ASSERT_TRUE(cuda::launch_rms_norm_quantize_act(layout, vx, w, 1e-6f,
                                                     static_cast<std::uint8_t*>(q1->data()), stream)
                      .ok());
      ASSERT_TRUE(cuda::launch_rms_norm(vh, vx, w, 1e-6f, stream).ok());
      ASSERT_TRUE(
          cuda::launch_quantize_act(layout, vh, static_cast<std::uint8_t*>(q2->data()), stream)
              .ok());
      ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
      std::vector<std::uint8_t> a(bytes), b(bytes);
      ASSERT_EQ(cudaMemcpy(a.data(), q1->data(), bytes, cudaMemcpyDeviceToHost), cudaSuccess);
      ASSERT_EQ(cudaMemcpy(b.data(), q2->data(), bytes, cudaMemcpyDeviceToHost), cudaSuccess);
      EXPECT_EQ(a, b) << (kind == 3 ? "Q16" : std::string(quant::type_name(act)))
                      << (with_w ? " with weight" : " no weight");
    }
  }
}

// One row quantized in the matvec's prologue (Q8Act::src) gives bitwise the results of the
// same row quantized by the quantize kernels into a buffer — every type, Q8 and Q16, with and
// without RMSNorm (with a norm weight), plain (with an odd row count) and gated products, and
// a weight count large enough that warps compute several units each.
// Two synthetic n_out × k weight matrices of type t (seeded), each in its own VRAM buffer, a
// quantized-activation buffer for one row of `layout` and four poisoned output rows of n_out.
struct OneRowSetup {
  cuda::DeviceBuffer w0, w1, act, out;
  OneRowSetup(cuda::CudaContext& ctx, GgmlType t, std::int64_t k, std::int64_t n_out,
              const cuda::q8::Q8ActLayout& layout, std::uint64_t seed) {
    const std::size_t rs = quant::row_size(t, k);
    std::vector<std::uint8_t> wb(rs * n_out * 2);
    model::SynthRng rng(seed);
    for (std::int64_t r = 0; r < 2 * n_out; ++r)
      model::synth_fill_row(t, model::InitKind::kWeight, 0.05f, k, rng, wb.data() + rs * r);
    w0 = testing::device_bytes(ctx, wb.data(), rs * n_out);
    w1 = testing::device_bytes(ctx, wb.data() + rs * n_out, rs * n_out);
    auto a = cuda::DeviceBuffer::allocate(ctx.ledger(), layout.row_bytes, "act");
    auto o = cuda::DeviceBuffer::allocate(ctx.ledger(), 4 * n_out * 4, "out");
    EXPECT_TRUE(a.ok() && o.ok());
    if (!a.ok() || !o.ok()) return;
    act = std::move(*a);
    out = std::move(*o);
    EXPECT_EQ(cudaMemset(out.data(), 0xff, 4 * n_out * 4), cudaSuccess);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
};

TEST(Q8Act, PrologueQuantizationEqualsTheBufferedPath) {
  ZINFER_REQUIRE_GPU();
  auto ctx = cuda::CudaContext::create(0);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  cudaStream_t stream = (*ctx)->stream();
  for (GgmlType t : kQ8Types) {
    for (bool q16 : {false, true}) {
      for (bool norm : {false, true}) {
        const std::int64_t k = quant::traits(t).block_size == 256 ? 1024 : 896;
        for (const std::int64_t n_out : {std::int64_t{77}, std::int64_t{9000}}) {
          SCOPED_TRACE(std::string(quant::type_name(t)) + (q16 ? " q16" : " q8") +
                       (norm ? " norm" : "") + " n_out " + std::to_string(n_out));
          const auto x = testing::random_floats(static_cast<std::size_t>(k), 8, 1.5f);
          const auto nw = testing::random_floats(static_cast<std::size_t>(k), 9, 0.1f, 1.0f);
          auto dx = testing::device_bytes(**ctx, x.data(), x.size() * 4);
          auto dn = testing::device_bytes(**ctx, nw.data(), nw.size() * 4);
          const auto layout =
              q16 ? cuda::q8::q16_act_layout(k) : cuda::q8::q8_act_layout(cuda::q8_act_type(t), k);
          OneRowSetup su(**ctx, t, k, n_out, layout, 5);
          ASSERT_TRUE(su.out);
          const cuda::MatrixView vx{dx.as<float>(), 1, k, k};
          auto* q = su.act.as<std::uint8_t>();
          ASSERT_TRUE((norm ? cuda::launch_rms_norm_quantize_act(layout, vx, dn.as<float>(), 1e-5f,
                                                                 q, stream)
                            : cuda::launch_quantize_act(layout, vx, q, stream))
                          .ok());
          cuda::Q8Act buffered{q, layout, 1};
          cuda::Q8Act prologue;
          prologue.layout = layout;
          prologue.rows = 1;
          prologue.src = dx.as<float>();
          prologue.norm = norm;
          prologue.norm_w = norm ? dn.as<float>() : nullptr;
          prologue.eps = 1e-5f;
          auto* o = su.out.as<float>();
          const cuda::QuantMatrixView w0{t, k, n_out, su.w0.data()};
          const cuda::QuantMatrixView w1{t, k, n_out, su.w1.data()};
          const cuda::MatrixView o0{o, 1, n_out, n_out}, o1{o + n_out, 1, n_out, n_out};
          const cuda::MatrixView o2{o + 2 * n_out, 1, n_out, n_out},
              o3{o + 3 * n_out, 1, n_out, n_out};
          const cuda::Q8MatvecOut m0{w0, o0, nullptr}, m1{w0, o1, nullptr};
          ASSERT_TRUE(cuda::launch_q8_matvec(buffered, &m0, 1, false, stream).ok());
          ASSERT_TRUE(cuda::launch_q8_matvec(prologue, &m1, 1, false, stream).ok());
          ASSERT_TRUE(
              cuda::launch_q8_gated_matvec(o2, buffered, w0, w1, cuda::GatedAct::kSilu, stream)
                  .ok());
          ASSERT_TRUE(
              cuda::launch_q8_gated_matvec(o3, prologue, w0, w1, cuda::GatedAct::kSilu, stream)
                  .ok());
          ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
          std::vector<float> got(4 * n_out);
          ASSERT_EQ(cudaMemcpy(got.data(), o, got.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
          for (std::int64_t j = 0; j < n_out; ++j) {
            ASSERT_FALSE(std::isnan(got[j])) << "plain col " << j;
            ASSERT_EQ(got[j], got[n_out + j]) << "plain col " << j;
            ASSERT_EQ(got[2 * n_out + j], got[3 * n_out + j]) << "gated col " << j;
          }
        }
      }
    }
  }
}

// One-row products through the shared-memory weight stages (set_q8_staging, the default) and
// through registers give the same bits: every Q8 type, Q8 and Q16 activations, plain and gated,
// row lengths split over 1, 2 and 4 warps, and enough rows that warps run several units with
// several slots in flight.
TEST(Q8Act, StagedWeightsEqualTheRegisterPath) {
  ZINFER_REQUIRE_GPU();
  auto ctx = cuda::CudaContext::create(0);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  cudaStream_t stream = (*ctx)->stream();
  for (GgmlType t : kQ8Types) {
    const bool k_quant = quant::traits(t).block_size == 256;
    for (const std::int64_t k : {k_quant ? std::int64_t{1024} : std::int64_t{896},
                                 k_quant ? std::int64_t{2560} : std::int64_t{2208},
                                 k_quant ? std::int64_t{4864} : std::int64_t{4896}}) {
      for (bool q16 : {false, true}) {
        for (const std::int64_t n_out : {std::int64_t{77}, std::int64_t{9001}}) {
          SCOPED_TRACE(std::string(quant::type_name(t)) + (q16 ? " q16" : " q8") + " k " +
                       std::to_string(k) + " n_out " + std::to_string(n_out));
          const auto x = testing::random_floats(static_cast<std::size_t>(k), 12, 1.5f);
          auto dx = testing::device_bytes(**ctx, x.data(), x.size() * 4);
          const auto layout =
              q16 ? cuda::q8::q16_act_layout(k) : cuda::q8::q8_act_layout(cuda::q8_act_type(t), k);
          OneRowSetup su(**ctx, t, k, n_out, layout, 6);
          ASSERT_TRUE(su.out);
          const cuda::MatrixView vx{dx.as<float>(), 1, k, k};
          auto* q = su.act.as<std::uint8_t>();
          ASSERT_TRUE(cuda::launch_quantize_act(layout, vx, q, stream).ok());
          const cuda::Q8Act act{q, layout, 1};
          auto* o = su.out.as<float>();
          const cuda::QuantMatrixView w0{t, k, n_out, su.w0.data()};
          const cuda::QuantMatrixView w1{t, k, n_out, su.w1.data()};
          for (int staged = 0; staged < 2; ++staged) {
            cuda::set_q8_staging(staged == 1);
            const cuda::MatrixView op{o + 2 * staged * n_out, 1, n_out, n_out};
            const cuda::MatrixView og{o + (2 * staged + 1) * n_out, 1, n_out, n_out};
            const cuda::Q8MatvecOut m{w0, op, nullptr};
            ASSERT_TRUE(cuda::launch_q8_matvec(act, &m, 1, false, stream).ok());
            ASSERT_TRUE(
                cuda::launch_q8_gated_matvec(og, act, w0, w1, cuda::GatedAct::kSilu, stream).ok());
          }
          cuda::set_q8_staging(true);
          ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
          std::vector<float> got(4 * n_out);
          ASSERT_EQ(cudaMemcpy(got.data(), o, got.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
          for (std::int64_t j = 0; j < n_out; ++j) {
            ASSERT_FALSE(std::isnan(got[j])) << "plain col " << j;
            ASSERT_EQ(got[j], got[2 * n_out + j]) << "plain col " << j;
            ASSERT_EQ(got[n_out + j], got[3 * n_out + j]) << "gated col " << j;
          }
        }
      }
    }
  }
}

struct MatmulCase {
  GgmlType type;
  ActQuant act;  // kQ8: against the CPU's Q8 path; kQ16: against the CPU's exact path
};

class Q8Matmul : public ::testing::TestWithParam<MatmulCase> {};

TEST_P(Q8Matmul, MatchesTheCpuAndIsBatchInvariant) {
  ZINFER_REQUIRE_GPU();
  auto p = testing::make_ops_pair(1, 64, 8, 16, true, GetParam().act);
  ASSERT_TRUE(p.gpu);
  const GgmlType t = GetParam().type;
  const std::int64_t short_k = quant::traits(t).block_size == 256 ? 512 : 384;
  for (const std::int64_t k : {short_k, std::int64_t{4864}}) {
    const std::int64_t n_out = 77;
    const std::size_t rs = quant::row_size(t, k);
    std::vector<std::uint8_t> wb(rs * n_out);
    model::SynthRng rng(11);
    for (std::int64_t r = 0; r < n_out; ++r)
      model::synth_fill_row(t, model::InitKind::kWeight, 0.05f, k, rng, wb.data() + rs * r);
    auto wd = testing::device_bytes(*p.ctx, wb.data(), wb.size());
    const model::Weight wc{t, k, n_out, wb.data()}, wg{t, k, n_out, wd.data()};
    // kQ8: the CPU's own numerics (integer sums exact, float terms rounded alike); kQ16: the
    // CPU's exact f32 path, within the tolerance the whole forward pass keeps (1e-3: 16-bit
    // activation quants err by up to 1/65278 of a block's largest magnitude, summed over K).
    const double tol = GetParam().act == ActQuant::kQ16 ? 1e-3 : 1e-4;
    std::vector<float> batched;
    for (std::int64_t rows : {1, 3, 8, 19}) {
      p.gpu->begin_forward();
      p.cpu->reset_scratch();
      const auto x = testing::random_floats(static_cast<std::size_t>(rows * k), 7, 1.5f);
      model::Tensor gx = testing::gpu_tensor(*p.gpu, x, rows, k);
      model::Tensor gy = p.gpu->alloc(rows, n_out);
      testing::poison(gy);
      model::Tensor cx = testing::cpu_tensor(*p.cpu, x, rows, k);
      model::Tensor cy = p.cpu->alloc(rows, n_out);
      ASSERT_TRUE(p.gpu->matmul(gy, gx, wg).ok());
      ASSERT_TRUE(p.cpu->matmul(cy, cx, wc).ok());
      const auto got = testing::download(gy);
      EXPECT_TRUE(testing::all_close(got, testing::host_copy(cy), tol, tol))
          << "k " << k << " rows " << rows;
      if (rows == 19) batched = got;
    }
    // Row 11 of the 19 alone (same random stream: rows are drawn in order).
    const auto x19 = testing::random_floats(static_cast<std::size_t>(19 * k), 7, 1.5f);
    const std::vector<float> x11(x19.begin() + 11 * k, x19.begin() + 12 * k);
    p.gpu->begin_forward();
    model::Tensor g1 = testing::gpu_tensor(*p.gpu, x11, 1, k);
    model::Tensor o1 = p.gpu->alloc(1, n_out);
    ASSERT_TRUE(p.gpu->matmul(o1, g1, wg).ok());
    const auto alone = testing::download(o1);
    for (std::int64_t j = 0; j < n_out; ++j)
      ASSERT_EQ(alone[j], batched[11 * n_out + j]) << "k " << k << " col " << j;
  }
}

std::vector<MatmulCase> matmul_cases() {
  std::vector<MatmulCase> v;
  for (ActQuant a : {ActQuant::kQ8, ActQuant::kQ16}) {
    for (GgmlType t : kQ8Types) v.push_back({t, a});
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Types, Q8Matmul, ::testing::ValuesIn(matmul_cases()),
                         [](const ::testing::TestParamInfo<MatmulCase>& info) {
                           return std::string(quant::type_name(info.param.type)) +
                                  (info.param.act == ActQuant::kQ16 ? "_q16" : "_q8");
                         });

}  // namespace
}  // namespace zinfer
