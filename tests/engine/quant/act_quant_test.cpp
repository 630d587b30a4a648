// Activation quantizers against the golden vectors: Q8_0 (reference rule) against gguf-py's
// quantizer; Q8_0/Q8_1 (both rules) and Q8_K against the numpy versions of ggml's formulas in
// scripts/golden/quant_vectors.py; F16/BF16 against numpy/gguf-py. Bytes must match exactly.
#include "engine/quant/act_quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/quant/block_types.h"
#include "engine/quant/fp16.h"
#include "tests/engine/quant/quant_fixture.h"

namespace zinfer::quant {
namespace {

std::vector<std::uint8_t> quantize(GgmlType t, const std::vector<float>& x, ActQuantRule rule,
                                   bool scalar) {
  const auto n = static_cast<std::int64_t>(x.size());
  std::vector<std::uint8_t> out(act_row_size(t, n), 0xAB);
  if (scalar) {
    quantize_act_row_scalar(t, x.data(), out.data(), n, rule);
  } else {
    quantize_act_row(t, x.data(), out.data(), n, rule);
  }
  return out;
}

void expect_same_bytes(const std::vector<std::uint8_t>& got, const std::vector<std::uint8_t>& want,
                       const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i] && ++bad <= 5)
      ADD_FAILURE() << what << ": byte " << i << " got " << int(got[i]) << " want " << int(want[i]);
  }
  EXPECT_EQ(bad, 0) << what;
}

struct Case {
  const char* array;
  GgmlType type;
  ActQuantRule rule;
};

TEST(ActQuantTest, EdgeRowMatchesReferences) {
  const auto fx = testing::load_quant_fixture("act_edge.zqv");
  ASSERT_TRUE(fx.error.empty()) << fx.error;
  const auto x = fx.values<float>("x");
  const Case cases[] = {
      {"q8_0_ref", GgmlType::kQ8_0, ActQuantRule::kGgmlReference},
      {"q8_0_simd", GgmlType::kQ8_0, ActQuantRule::kGgmlSimd},
      {"q8_1_ref", GgmlType::kQ8_1, ActQuantRule::kGgmlReference},
      {"q8_1_simd", GgmlType::kQ8_1, ActQuantRule::kGgmlSimd},
      {"q8_k", GgmlType::kQ8_K, ActQuantRule::kGgmlSimd},
      {"q8_k", GgmlType::kQ8_K, ActQuantRule::kGgmlReference},
      {"f16", GgmlType::kF16, ActQuantRule::kGgmlSimd},
      {"bf16", GgmlType::kBF16, ActQuantRule::kGgmlSimd},
  };
  for (const Case& c : cases) {
    const auto want = fx.bytes(c.array);
    const std::string what =
        std::string(c.array) + (c.rule == ActQuantRule::kGgmlSimd ? " (simd rule)" : " (ref rule)");
    expect_same_bytes(quantize(c.type, x, c.rule, false), want, what);
    expect_same_bytes(quantize(c.type, x, c.rule, true), want, what + " scalar");
  }
}

// The edge row has exact .5 ties, so the two Q8_0 rules must differ there, and only by one
// step of a quant: this checks the fixture really tells the rules apart.
TEST(ActQuantTest, RulesDifferOnlyOnTiesAndByOne) {
  const auto fx = testing::load_quant_fixture("act_edge.zqv");
  ASSERT_TRUE(fx.error.empty()) << fx.error;
  const auto ref = fx.bytes("q8_0_ref");
  const auto simd = fx.bytes("q8_0_simd");
  int differ = 0;
  for (std::size_t b = 0; b < ref.size() / sizeof(BlockQ8_0); ++b) {
    BlockQ8_0 r, s;
    std::memcpy(&r, ref.data() + b * sizeof(BlockQ8_0), sizeof(r));
    std::memcpy(&s, simd.data() + b * sizeof(BlockQ8_0), sizeof(s));
    EXPECT_EQ(r.d, s.d);
    for (int j = 0; j < kQK; ++j) {
      EXPECT_LE(std::abs(r.qs[j] - s.qs[j]), 1);
      differ += r.qs[j] != s.qs[j];
    }
  }
  EXPECT_GT(differ, 0);
}

TEST(ActQuantTest, TypeRowsMatchReferences) {
  const char* names[] = {"F32",  "F16",  "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
                         "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "MXFP4"};
  for (const char* name : names) {
    const auto fx = testing::load_quant_fixture(std::string(name) + ".zqv");
    ASSERT_TRUE(fx.error.empty()) << fx.error;
    const GgmlType vt = traits(*type_from_name(name)).vec_dot_type;
    const auto x = fx.values<float>("x");
    expect_same_bytes(quantize(vt, x, ActQuantRule::kGgmlReference, false), fx.bytes("act"),
                      std::string(name) + " act (ref rule)");
    if (fx.has("act_simd")) {
      expect_same_bytes(quantize(vt, x, ActQuantRule::kGgmlSimd, false), fx.bytes("act_simd"),
                        std::string(name) + " act (simd rule)");
      expect_same_bytes(quantize(vt, x, ActQuantRule::kGgmlSimd, true), fx.bytes("act_simd"),
                        std::string(name) + " act (simd rule, scalar)");
    }
  }
}

// Q8_1's s is fp16(d * sum(q)) and Q8_K's bsums are the sums of 16 quants: derived here
// from the quants themselves.
TEST(ActQuantTest, DerivedFieldsAreConsistent) {
  std::vector<float> x(512);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = std::sin(0.37f * static_cast<float>(i)) * (1.0f + static_cast<float>(i % 7));
  const auto q81 = quantize(GgmlType::kQ8_1, x, ActQuantRule::kGgmlSimd, false);
  for (std::size_t b = 0; b < x.size() / kQK; ++b) {
    BlockQ8_1 blk;
    std::memcpy(&blk, q81.data() + b * sizeof(blk), sizeof(blk));
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[b * kQK + j]));
    int sum = 0;
    for (int j = 0; j < kQK; ++j) sum += blk.qs[j];
    EXPECT_EQ(blk.d, f32_to_fp16(amax / 127.0f));
    EXPECT_EQ(blk.s, f32_to_fp16(static_cast<float>(sum) * (amax / 127.0f)));
  }
  const auto q8k = quantize(GgmlType::kQ8_K, x, ActQuantRule::kGgmlSimd, false);
  for (std::size_t b = 0; b < x.size() / kQKK; ++b) {
    BlockQ8_K blk;
    std::memcpy(&blk, q8k.data() + b * sizeof(blk), sizeof(blk));
    for (int k = 0; k < 16; ++k) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += blk.qs[16 * k + l];
      EXPECT_EQ(blk.bsums[k], sum);
    }
    for (int j = 0; j < kQKK; ++j)
      EXPECT_NEAR(blk.d * blk.qs[j], x[b * kQKK + j], std::fabs(blk.d) * 0.5001f);
  }
}

TEST(ActQuantTest, RowSizes) {
  EXPECT_EQ(act_row_size(GgmlType::kQ8_0, 576), 18u * 34u);
  EXPECT_EQ(act_row_size(GgmlType::kQ8_1, 576), 18u * 36u);
  EXPECT_EQ(act_row_size(GgmlType::kQ8_K, 512), 2u * 292u);
  EXPECT_EQ(act_row_size(GgmlType::kF16, 7), 14u);
  EXPECT_EQ(act_row_size(GgmlType::kF32, 7), 28u);
  EXPECT_TRUE(is_act_type(GgmlType::kQ8_K));
  EXPECT_FALSE(is_act_type(GgmlType::kQ4_1));
}

TEST(ActQuantTest, F32IsACopy) {
  const std::vector<float> x = {1.5f, -2.25f, 3e-39f, -0.0f, 7.0f};
  const auto out = quantize(GgmlType::kF32, x, ActQuantRule::kGgmlSimd, false);
  EXPECT_EQ(std::memcmp(out.data(), x.data(), x.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace zinfer::quant
