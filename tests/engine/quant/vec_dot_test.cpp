// vec_dot / vec_dot_f32 for every weight type:
//  - against float64 sums of the dequantized weights times the (dequantized) activation, on
//    1-, 3- and 7-block rows of the gguf-py golden vectors and on long random rows;
//  - against the float64 dots computed by scripts/golden/quant_vectors.py;
//  - AVX2 against scalar kernels (same bits by construction), vec_dot_rows against vec_dot;
//  - every output finite.
#include "engine/quant/vec_dot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/quant/act_quant.h"
#include "engine/quant/block_types.h"
#include "engine/quant/dequant.h"
#include "engine/quant/fp16.h"
#include "tests/engine/quant/quant_fixture.h"

namespace zinfer::quant {
namespace {

constexpr double kRtol = 1e-5;  // relative to sum |w_i * a_i|

struct Reference {
  double dot = 0;
  double scale = 0;  // sum of |terms|: the tolerance is relative to it
};

// float64 sum of the products, plus (for Q4_1/Q5_1 x Q8_1) the difference between ggml's
// m * s term, s = fp16(d * sum q) with d before its fp16 rounding, and the exact
// m * fp16(d) * sum q of the dequantized rows.
Reference reference(GgmlType type, const std::uint8_t* w_raw, const float* w,
                    const std::uint8_t* act_raw, const float* a, std::int64_t n) {
  Reference r;
  for (std::int64_t i = 0; i < n; ++i) {
    const double p = static_cast<double>(w[i]) * a[i];
    r.dot += p;
    r.scale += std::fabs(p);
  }
  if (traits(type).vec_dot_type == GgmlType::kQ8_1) {
    const std::size_t wsize = traits(type).type_size;
    for (std::int64_t b = 0; b < n / kQK; ++b) {
      std::uint16_t m16;
      std::memcpy(&m16, w_raw + b * wsize + 2, 2);  // Q4_1 and Q5_1 keep m right after d
      BlockQ8_1 y;
      std::memcpy(&y, act_raw + b * sizeof(y), sizeof(y));
      long sum = 0;
      for (int j = 0; j < kQK; ++j) sum += y.qs[j];
      const double m = fp16_to_f32(m16), s = fp16_to_f32(y.s), d = fp16_to_f32(y.d);
      r.dot += m * (s - d * static_cast<double>(sum));
      r.scale += std::fabs(m * s);
    }
  }
  return r;
}

std::int64_t unit_of(GgmlType type) {
  return traits(type).block_size > 1 ? traits(type).block_size : 32;
}

// Runs every check on one weight row (raw bytes, their gguf/validated dequantization, x).
void check_row(GgmlType type, const std::uint8_t* raw, const float* deq, const float* x,
               std::int64_t n, const std::string& what) {
  const GgmlType vt = traits(type).vec_dot_type;
  std::vector<std::uint8_t> act(act_row_size(vt, n));
  quantize_act_row(vt, x, act.data(), n);
  std::vector<float> act_deq(static_cast<std::size_t>(n));
  dequantize_row(vt, act.data(), act_deq.data(), n);

  const Reference ref = reference(type, raw, deq, act.data(), act_deq.data(), n);
  const float got = vec_dot(type, n, raw, act.data());
  ASSERT_TRUE(std::isfinite(got)) << what;
  EXPECT_NEAR(got, ref.dot, kRtol * ref.scale + 1e-30) << what << " vec_dot";
  EXPECT_EQ(f32_bits(got), f32_bits(vec_dot_scalar(type, n, raw, act.data())))
      << what << " AVX2 vs scalar";

  Reference ref32;
  for (std::int64_t i = 0; i < n; ++i) {
    const double p = static_cast<double>(deq[i]) * x[i];
    ref32.dot += p;
    ref32.scale += std::fabs(p);
  }
  const float got32 = vec_dot_f32(type, n, raw, x);
  ASSERT_TRUE(std::isfinite(got32)) << what;
  EXPECT_NEAR(got32, ref32.dot, kRtol * ref32.scale + 1e-30) << what << " vec_dot_f32";
  EXPECT_EQ(f32_bits(got32), f32_bits(vec_dot_f32_scalar(type, n, raw, x)))
      << what << " f32 AVX2 vs scalar";
}

class VecDotTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(VecDotTest, GoldenRowsAndPrefixes) {
  const GgmlType type = GetParam();
  const auto fx = testing::load_quant_fixture(std::string(type_name(type)) + ".zqv");
  ASSERT_TRUE(fx.error.empty()) << fx.error;
  const auto raw = fx.bytes("raw");
  const auto deq = fx.values<float>("deq");
  const auto x = fx.values<float>("x");
  const std::int64_t unit = unit_of(type);
  std::vector<std::int64_t> lengths = {unit, 3 * unit, 7 * unit};
  if (traits(type).block_size == 1) lengths = {1, 3, 7, 37, 7 * unit};  // tails shorter than a lane
  for (std::int64_t len : lengths) {
    check_row(type, raw.data(), deq.data(), x.data(), len,
              std::string(type_name(type)) + " n=" + std::to_string(len));
  }
}

// The script's float64 dots: vec_dot on the activation it quantized (ggml reference rule),
// vec_dot_f32 on its float activation.
TEST_P(VecDotTest, MatchesScriptDots) {
  const GgmlType type = GetParam();
  const auto fx = testing::load_quant_fixture(std::string(type_name(type)) + ".zqv");
  ASSERT_TRUE(fx.error.empty()) << fx.error;
  const auto raw = fx.bytes("raw");
  const auto deq = fx.values<float>("deq");
  const auto x = fx.values<float>("x");
  const auto act = fx.bytes("act");
  const auto act_deq = fx.values<float>("act_deq");
  const auto n = static_cast<std::int64_t>(deq.size());

  const Reference ref = reference(type, raw.data(), deq.data(), act.data(), act_deq.data(), n);
  const double want = fx.values<double>("dot_q_ref").at(0);
  EXPECT_NEAR(ref.dot, want, 1e-12 * ref.scale);  // the test's own reference agrees with the script
  EXPECT_NEAR(vec_dot(type, n, raw.data(), act.data()), want, kRtol * ref.scale);

  double scale32 = 0;
  for (std::int64_t i = 0; i < n; ++i) scale32 += std::fabs(static_cast<double>(deq[i]) * x[i]);
  EXPECT_NEAR(vec_dot_f32(type, n, raw.data(), x.data()), fx.values<double>("dot_f32_ref").at(0),
              kRtol * scale32);
}

TEST_P(VecDotTest, RowsMatchSingleDots) {
  const GgmlType type = GetParam();
  const auto fx = testing::load_quant_fixture(std::string(type_name(type)) + ".zqv");
  ASSERT_TRUE(fx.error.empty()) << fx.error;
  const auto raw = fx.bytes("raw");
  const auto x = fx.values<float>("x");
  const std::int64_t n = unit_of(type);  // each 1-block piece of the golden row is one matrix row
  const std::size_t stride = row_size(type, n);
  const auto n_rows = static_cast<std::int64_t>(raw.size() / stride);
  const GgmlType vt = traits(type).vec_dot_type;
  std::vector<std::uint8_t> act(act_row_size(vt, n));
  quantize_act_row(vt, x.data(), act.data(), n);
  std::vector<float> out(static_cast<std::size_t>(n_rows), -1.0f);
  vec_dot_rows(type, n, raw.data(), stride, n_rows, act.data(), out.data());
  for (std::int64_t r = 0; r < n_rows; ++r) {
    EXPECT_EQ(f32_bits(out[r]), f32_bits(vec_dot(type, n, raw.data() + r * stride, act.data())))
        << "row " << r;
  }
}

// Random rows of many blocks (random bytes, sane fp16 scales): longer accumulations than the
// golden rows, with our dequantization (checked bit-exact against gguf-py) as the reference.
// `rows` random rows of n elements of `type`, their scales in a realistic range.
std::vector<std::uint8_t> random_rows(GgmlType type, std::int64_t n, int rows, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> scale(0.0005f, 0.02f);
  std::vector<std::uint8_t> raw(row_size(type, n) * static_cast<std::size_t>(rows));
  for (auto& b : raw) b = static_cast<std::uint8_t>(rng());
  const std::size_t bsize = traits(type).type_size;
  const std::size_t n_blocks = raw.size() / bsize;
  auto put16 = [&](std::size_t block, std::size_t off, std::uint16_t v) {
    std::memcpy(&raw[block * bsize + off], &v, 2);
  };
  for (std::size_t b = 0; b < n_blocks; ++b) {
    switch (type) {
      case GgmlType::kF32: {
        const float v = normal(rng);
        std::memcpy(&raw[b * 4], &v, 4);
        break;
      }
      case GgmlType::kF16:
        put16(b, 0, f32_to_fp16(normal(rng)));
        break;
      case GgmlType::kBF16:
        put16(b, 0, f32_to_bf16(normal(rng)));
        break;
      case GgmlType::kQ4_1:
      case GgmlType::kQ5_1:
        put16(b, 0, f32_to_fp16(scale(rng)));
        put16(b, 2, f32_to_fp16(-8 * scale(rng)));
        break;
      case GgmlType::kMXFP4:
        raw[b * bsize] = static_cast<std::uint8_t>(118 + rng() % 12);
        break;
      case GgmlType::kQ2_K:
        put16(b, 80, f32_to_fp16(scale(rng)));
        put16(b, 82, f32_to_fp16(scale(rng)));
        break;
      case GgmlType::kQ3_K:
        put16(b, 108, f32_to_fp16(scale(rng)));
        break;
      case GgmlType::kQ4_K:
      case GgmlType::kQ5_K:
        put16(b, 0, f32_to_fp16(scale(rng)));
        put16(b, 2, f32_to_fp16(scale(rng)));
        break;
      case GgmlType::kQ6_K:
        put16(b, 208, f32_to_fp16(scale(rng)));
        break;
      default:
        put16(b, 0, f32_to_fp16(scale(rng)));
        break;  // Q4_0, Q5_0, Q8_0: d first
    }
  }
  return raw;
}

TEST_P(VecDotTest, LongRandomRows) {
  const GgmlType type = GetParam();
  std::mt19937 rng(static_cast<unsigned>(type) * 7919u + 1u);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::int64_t n =
      traits(type).block_size == kQKK ? 16 * kQKK : 1536 + (traits(type).block_size == 1 ? 5 : 0);
  const std::vector<std::uint8_t> raw = random_rows(type, n, 1, rng);
  std::vector<float> deq(static_cast<std::size_t>(n)), x(static_cast<std::size_t>(n));
  dequantize_row(type, raw.data(), deq.data(), n);
  for (auto& v : x) v = normal(rng);
  x[5] = 40.0f;  // one outlier, as activations have
  check_row(type, raw.data(), deq.data(), x.data(), n,
            std::string(type_name(type)) + " random n=" + std::to_string(n));
}

// vec_dot_f32_rows (several rows at a time) gives each row vec_dot_f32's bits, for row counts
// around the four-row groups.
TEST_P(VecDotTest, RowsAtATimeAreTheOneRowBits) {
  const GgmlType type = GetParam();
  std::mt19937 rng(static_cast<unsigned>(type) * 104729u + 3u);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::int64_t n = traits(type).block_size == kQKK ? 4 * kQKK : 544;
  constexpr int kRows = 11;
  const std::vector<std::uint8_t> raw = random_rows(type, n, kRows, rng);
  const std::size_t stride = row_size(type, n);
  std::vector<float> x(static_cast<std::size_t>(n));
  for (auto& v : x) v = normal(rng);
  for (int rows : {1, 3, 4, 5, 8, 11}) {
    std::vector<float> got(static_cast<std::size_t>(rows));
    vec_dot_f32_rows(type, n, raw.data(), stride, rows, x.data(), got.data());
    for (int r = 0; r < rows; ++r) {
      EXPECT_EQ(f32_bits(got[static_cast<std::size_t>(r)]),
                f32_bits(vec_dot_f32(type, n, raw.data() + stride * static_cast<std::size_t>(r),
                                     x.data())))
          << type_name(type) << " rows " << rows << " row " << r;
    }
  }
}

// vec_dot_f32_xrows (one f32 weight row against several activation rows) gives each row
// vec_dot_f32's bits, with and without a tail shorter than a lane.
TEST(VecDotF32, ActivationRowsAtATimeAreTheOneRowBits) {
  std::mt19937 rng(97);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (std::int64_t n : {8, 37, 544, 1541}) {
    constexpr int kRows = 9;
    std::vector<float> w(static_cast<std::size_t>(n)), x(static_cast<std::size_t>(n * kRows));
    for (auto& v : w) v = normal(rng);
    for (auto& v : x) v = normal(rng);
    for (int rows : {1, 4, 6, 9}) {
      constexpr std::size_t kOutStride = 3;
      std::vector<float> got(kOutStride * rows, -1.0f);
      vec_dot_f32_xrows(n, w.data(), x.data(), static_cast<std::size_t>(n), rows, got.data(),
                        kOutStride);
      for (int r = 0; r < rows; ++r) {
        EXPECT_EQ(f32_bits(got[kOutStride * static_cast<std::size_t>(r)]),
                  f32_bits(vec_dot_f32(GgmlType::kF32, n, w.data(),
                                       x.data() + static_cast<std::size_t>(n * r))))
            << "n " << n << " rows " << rows << " row " << r;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, VecDotTest, ::testing::ValuesIn(testing::kWeightTypes),
                         testing::type_param_name);

// Hand-derived: Q8_0 weights all 1 with d = 1, activation all 2 -> d_a = 2/127,
// q = 127 each, dot = 32 * 127 * fp16(2/127).
TEST(VecDotTest, HandDerivedQ8_0) {
  BlockQ8_0 w{};
  w.d = f32_to_fp16(1.0f);
  for (auto& q : w.qs) q = 1;
  std::vector<float> x(32, 2.0f);
  BlockQ8_0 a;
  quantize_act_row(GgmlType::kQ8_0, x.data(), &a, 32);
  for (auto q : a.qs) EXPECT_EQ(q, 127);
  EXPECT_EQ(vec_dot(GgmlType::kQ8_0, 32, &w, &a),
            32.0f * 127.0f * fp16_to_f32(f32_to_fp16(2.0f / 127.0f)));
  EXPECT_EQ(vec_dot_f32(GgmlType::kQ8_0, 32, &w, x.data()), 64.0f);
}

TEST(VecDotTest, CheckVecDotNamesTheProblem) {
  EXPECT_TRUE(check_vec_dot(GgmlType::kQ4_1, 576).ok());
  const Status bad_type = check_vec_dot(GgmlType::kQ8_K, 256);
  ASSERT_FALSE(bad_type.ok());
  EXPECT_EQ(bad_type.error().code, ErrorCode::kModelLoadFailed);
  EXPECT_NE(bad_type.error().message.find("Q8_K"), std::string::npos);
  const Status bad_n = check_vec_dot(GgmlType::kQ4_K, 576);
  ASSERT_FALSE(bad_n.ok());
  EXPECT_NE(bad_n.error().message.find("n=576"), std::string::npos);
  EXPECT_FALSE(check_vec_dot(GgmlType::kQ4_0, 0).ok());
}

TEST(VecDotTest, ReportsSimdPath) {
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
  EXPECT_TRUE(vec_dot_uses_avx2());
#else
  EXPECT_FALSE(vec_dot_uses_avx2());
#endif
}

}  // namespace
}  // namespace zinfer::quant
