// Weight kernels against the CPU: dequantize_rows and embed must be bit-identical to
// quant::dequantize_row (the CPU dequant verified against the gguf package); matmul
// (the batch-invariant matvec for any rows; with batch_invariant off, dequant tile + cuBLAS
// FP32 beyond 8 rows) must match a float64 dot product
// of the same dequantized weights and CpuOps' exact matmul (vec_dot_f32) within float32
// accumulation error: |got - ref| <= 2e-5 · Σ|w·x| + 1e-6 (vs float64) and 4e-5 · Σ|w·x| +
// 1e-6 (vs CpuOps), i.e. atol scaled by each output's magnitude plus rtol = 1e-6.
// Random valid blocks of every type come from the synthetic-model generator. MXFP4 (gpt-oss's
// experts; 17-byte blocks, so rows start at odd addresses) runs every case too.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "engine/quant/quant_ops.h"
#include "engine/synthetic/synthetic_weights.h"
#include "kernels/dequantize_rows.h"
#include "kernels/matvec.h"
#include "tests/kernels/gpu_test_util.h"

namespace zinfer {
namespace {

using quant::GgmlType;

const GgmlType kTypes[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ4_0,
                           GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0,
                           GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ4_K, GgmlType::kQ5_K,
                           GgmlType::kQ6_K, GgmlType::kMXFP4};
const std::int64_t kRows[] = {1, 3, 7, 19, 733};

// Row lengths for a type: odd ones where the block size allows, else 3 and 17 blocks (legacy)
// or 1 and 3 super-blocks (K-quants).
std::vector<std::int64_t> row_lengths(GgmlType t) {
  const std::int64_t bs = quant::traits(t).block_size;
  if (bs == 1) return {37, 513};
  if (bs == 32) return {96, 544};
  return {256, 768};
}

struct HostWeight {
  GgmlType type;
  std::int64_t ne0, ne1;
  std::vector<std::uint8_t> bytes;
  std::vector<float> dequant;  // [ne1][ne0], CPU dequantize_row
};

HostWeight random_weight(GgmlType t, std::int64_t ne0, std::int64_t ne1, std::uint64_t seed) {
  HostWeight w{t, ne0, ne1, {}, {}};
  const std::size_t rs = quant::row_size(t, ne0);
  w.bytes.resize(rs * static_cast<std::size_t>(ne1));
  w.dequant.resize(static_cast<std::size_t>(ne0 * ne1));
  model::SynthRng rng(seed);
  for (std::int64_t r = 0; r < ne1; ++r) {
    model::synth_fill_row(t, model::InitKind::kWeight, 0.05f, ne0, rng, w.bytes.data() + rs * r);
    quant::dequantize_row(t, w.bytes.data() + rs * r, w.dequant.data() + r * ne0, ne0);
  }
  return w;
}

std::string type_param_name(const ::testing::TestParamInfo<GgmlType>& info) {
  return std::string(quant::type_name(info.param));
}

class QuantKernels : public ::testing::TestWithParam<GgmlType> {};

TEST_P(QuantKernels, DequantizeRowsIsBitExact) {
  ZINFER_REQUIRE_GPU();
  auto p = testing::make_ops_pair();
  ASSERT_TRUE(p.gpu);
  for (std::int64_t ne0 : row_lengths(GetParam())) {
    const HostWeight w = random_weight(GetParam(), ne0, 733, 11 + ne0);
    cuda::DeviceBuffer dw = testing::device_bytes(*p.ctx, w.bytes.data(), w.bytes.size());
    const cuda::QuantMatrixView view{w.type, ne0, 733, dw.data()};
    for (auto [row0, n] : {std::pair<std::int64_t, std::int64_t>{0, 733}, {5, 19}, {732, 1}}) {
      auto out = cuda::DeviceBuffer::allocate(p.ctx->ledger(),
                                              static_cast<std::size_t>(n * ne0) * 4, "out");
      ASSERT_TRUE(out.ok());
      ASSERT_EQ(cudaMemset(out->data(), 0xFF, out->size()), cudaSuccess);
      ASSERT_TRUE(
          cuda::launch_dequantize_rows(view, row0, n, out->as<float>(), p.ctx->stream()).ok());
      ASSERT_TRUE(p.ctx->synchronize().ok());
      std::vector<float> got(static_cast<std::size_t>(n * ne0));
      ASSERT_EQ(cudaMemcpy(got.data(), out->data(), got.size() * 4, cudaMemcpyDeviceToHost),
                cudaSuccess);
      ASSERT_EQ(std::memcmp(got.data(), w.dequant.data() + row0 * ne0, got.size() * 4), 0)
          << "ne0=" << ne0 << " rows [" << row0 << ", " << row0 + n << ")";
    }
  }
}

TEST_P(QuantKernels, EmbedIsBitExact) {
  ZINFER_REQUIRE_GPU();
  auto p = testing::make_ops_pair();
  ASSERT_TRUE(p.gpu);
  for (std::int64_t ne0 : row_lengths(GetParam())) {
    const std::int64_t n_vocab = 733;
    const HostWeight w = random_weight(GetParam(), ne0, n_vocab, 23 + ne0);
    cuda::DeviceBuffer dw = testing::device_bytes(*p.ctx, w.bytes.data(), w.bytes.size());
    const model::Weight table{w.type, ne0, n_vocab, dw.data()};
    const std::vector<std::int32_t> tokens = {0, 732, 5, 5, 400, 1, 731};
    p.gpu->begin_forward();
    model::Tensor out = p.gpu->alloc(static_cast<std::int64_t>(tokens.size()), ne0);
    testing::poison(out);
    ASSERT_TRUE(p.gpu->embed(out, table, tokens).ok());
    const std::vector<float> got = testing::download(out);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      ASSERT_EQ(std::memcmp(got.data() + i * ne0, w.dequant.data() + tokens[i] * ne0, ne0 * 4), 0)
          << "ne0=" << ne0 << " token " << tokens[i];
    }
    // Token ids are range-checked once, where a request becomes a job (sched::JobSpec::check).
  }
}

class QuantMatmul : public ::testing::TestWithParam<std::tuple<GgmlType, bool>> {};

TEST_P(QuantMatmul, MatchesFloat64AndCpuOracle) {
  ZINFER_REQUIRE_GPU();
  const GgmlType type = std::get<0>(GetParam());
  auto p = testing::make_ops_pair(1, 64, 8, 16, /*batch_invariant=*/std::get<1>(GetParam()));
  ASSERT_TRUE(p.gpu);
  int checked = 0;
  for (std::int64_t ne0 : row_lengths(type)) {
    for (std::int64_t ne1 : kRows) {
      const HostWeight w = random_weight(type, ne0, ne1, 1000 * ne0 + ne1);
      cuda::DeviceBuffer dw = testing::device_bytes(*p.ctx, w.bytes.data(), w.bytes.size());
      const model::Weight gw{w.type, ne0, ne1, dw.data()};
      const model::Weight cw{w.type, ne0, ne1, w.bytes.data()};
      for (std::int64_t rows : {1, 3, 8, 9, 19}) {
        const auto x = testing::random_floats(static_cast<std::size_t>(rows * ne0),
                                              static_cast<std::uint32_t>(rows + ne1));
        // float64 reference and the magnitude of each dot product
        std::vector<float> ref(static_cast<std::size_t>(rows * ne1));
        std::vector<double> tol64(ref.size()), tol_cpu(ref.size());
        for (std::int64_t r = 0; r < rows; ++r) {
          for (std::int64_t j = 0; j < ne1; ++j) {
            double s = 0.0, mag = 0.0;
            for (std::int64_t k = 0; k < ne0; ++k) {
              const double t = static_cast<double>(w.dequant[j * ne0 + k]) * x[r * ne0 + k];
              s += t;
              mag += std::fabs(t);
            }
            ref[r * ne1 + j] = static_cast<float>(s);
            tol64[r * ne1 + j] = 2e-5 * mag + 1e-6;
            tol_cpu[r * ne1 + j] = 4e-5 * mag + 1e-6;
          }
        }
        p.gpu->begin_forward();
        model::Tensor gx = testing::gpu_tensor(*p.gpu, x, rows, ne0);
        model::Tensor gout = p.gpu->alloc(rows, ne1);
        testing::poison(gout);
        Status st = p.gpu->matmul(gout, gx, gw);
        ASSERT_TRUE(st.ok()) << st.error().message;
        const std::vector<float> got = testing::download(gout);

        p.cpu->reset_scratch();
        model::Tensor cx = testing::cpu_tensor(*p.cpu, x, rows, ne0);
        model::Tensor cout = p.cpu->alloc(rows, ne1);
        ASSERT_TRUE(p.cpu->matmul(cout, cx, cw).ok());
        const std::vector<float> cpu_ref = testing::host_copy(cout);

        const std::string where = "ne0=" + std::to_string(ne0) + " ne1=" + std::to_string(ne1) +
                                  " rows=" + std::to_string(rows);
        EXPECT_TRUE(testing::all_close(got, ref, 0.0, 1e-6, &tol64)) << where << " vs float64";
        EXPECT_TRUE(testing::all_close(got, cpu_ref, 0.0, 1e-6, &tol_cpu)) << where << " vs CpuOps";
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 2 * 5 * 5);
}

// Batch invariance: each row of a many-row matmul is bitwise the row computed alone, and
// rows are independent of where they sit in the batch (tile boundaries at 8, 16, ...).
TEST_P(QuantKernels, MatmulRowsAreBatchInvariant) {
  ZINFER_REQUIRE_GPU();
  auto p = testing::make_ops_pair();
  ASSERT_TRUE(p.gpu);
  const std::int64_t ne0 = row_lengths(GetParam())[1], ne1 = 733, rows = 37;
  const HostWeight w = random_weight(GetParam(), ne0, ne1, 4242);
  cuda::DeviceBuffer dw = testing::device_bytes(*p.ctx, w.bytes.data(), w.bytes.size());
  const model::Weight gw{w.type, ne0, ne1, dw.data()};
  const auto x = testing::random_floats(static_cast<std::size_t>(rows * ne0), 31);
  auto run = [&](std::int64_t first, std::int64_t n) {
    p.gpu->begin_forward();
    const std::vector<float> part(x.begin() + first * ne0, x.begin() + (first + n) * ne0);
    model::Tensor gx = testing::gpu_tensor(*p.gpu, part, n, ne0);
    model::Tensor gout = p.gpu->alloc(n, ne1);
    testing::poison(gout);
    EXPECT_TRUE(p.gpu->matmul(gout, gx, gw).ok());
    return testing::download(gout);
  };
  const std::vector<float> all = run(0, rows);
  // Tiles must agree bitwise: 37 rows = four full 8-row tiles and a partial one, 13 rows and
  // 6 rows start mid-tile, 1 row = the decode path (NR = 1).
  const std::vector<float> middle = run(5, 13);
  const std::vector<float> six = run(20, 6);
  for (std::int64_t r = 0; r < rows; r += 3) {
    const std::vector<float> one = run(r, 1);
    ASSERT_EQ(std::memcmp(one.data(), all.data() + r * ne1, ne1 * sizeof(float)), 0)
        << "row " << r << " of " << rows << " differs from the row alone";
  }
  EXPECT_EQ(std::memcmp(middle.data(), all.data() + 5 * ne1, 13 * ne1 * sizeof(float)), 0)
      << "rows 5..17 differ between a 13-row and a 37-row batch";
  EXPECT_EQ(std::memcmp(six.data(), all.data() + 20 * ne1, 6 * ne1 * sizeof(float)), 0)
      << "rows 20..25 differ between a 6-row and a 37-row batch";
}

TEST_P(QuantKernels, MatvecWritesIntoStridedColumnSlices) {
  ZINFER_REQUIRE_GPU();
  auto p = testing::make_ops_pair();
  ASSERT_TRUE(p.gpu);
  const std::int64_t ne0 = row_lengths(GetParam())[0], ne1 = 19;
  const HostWeight w = random_weight(GetParam(), ne0, ne1, 77);
  cuda::DeviceBuffer dw = testing::device_bytes(*p.ctx, w.bytes.data(), w.bytes.size());
  const model::Weight gw{w.type, ne0, ne1, dw.data()};
  for (std::int64_t rows : {1, 5, 12}) {
    // Output is the middle column slice of a wider tensor; the columns around it stay poisoned.
    const auto x = testing::random_floats(static_cast<std::size_t>(rows * ne0), 5);
    p.gpu->begin_forward();
    model::Tensor gx = testing::gpu_tensor(*p.gpu, x, rows, ne0);
    model::Tensor wide = p.gpu->alloc(rows, ne1 + 10);
    testing::poison(wide);
    ASSERT_TRUE(p.gpu->matmul(wide.cols_slice(3, ne1), gx, gw).ok());
    const std::vector<float> got = testing::download(wide);
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t c = 0; c < ne1 + 10; ++c) {
        const bool inside = c >= 3 && c < 3 + ne1;
        EXPECT_EQ(std::isfinite(got[r * (ne1 + 10) + c]), inside) << "row " << r << " col " << c;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantKernels, ::testing::ValuesIn(kTypes), type_param_name);
INSTANTIATE_TEST_SUITE_P(AllTypes, QuantMatmul,
                         ::testing::Combine(::testing::ValuesIn(kTypes), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<GgmlType, bool>>& info) {
                           return std::string(quant::type_name(std::get<0>(info.param))) +
                                  (std::get<1>(info.param) ? "_batch_invariant" : "_cublas");
                         });

}  // namespace
}  // namespace zinfer
