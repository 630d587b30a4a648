// dequantize_row against gguf-py's gguf.quants.dequantize (golden vectors from
// scripts/golden/quant_vectors.py): bit-exact for every type, on full rows and block prefixes.
#include "engine/quant/dequant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/quant/block_types.h"
#include "engine/quant/fp16.h"
#include "tests/engine/quant/quant_fixture.h"

namespace zinfer::quant {
namespace {

class DequantTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(DequantTest, BitExactWithGguf) {
  const GgmlType type = GetParam();
  const auto fx = testing::load_quant_fixture(std::string(type_name(type)) + ".zqv");
  ASSERT_TRUE(fx.error.empty()) << fx.error;
  const auto raw = fx.bytes("raw");
  const auto want = fx.values<float>("deq");
  const auto n = static_cast<std::int64_t>(want.size());
  ASSERT_EQ(raw.size(), row_size(type, n));
  ASSERT_TRUE(can_dequantize(type));

  // Full row and prefixes of 1 and 3 blocks (or elements, for the float types).
  const std::int64_t unit = traits(type).block_size > 1 ? traits(type).block_size : 32;
  for (std::int64_t len : {unit, 3 * unit, n}) {
    std::vector<float> got(static_cast<std::size_t>(len), -1.0f);
    dequantize_row(type, raw.data(), got.data(), len);
    int mismatches = 0;
    for (std::int64_t i = 0; i < len; ++i) {
      ASSERT_TRUE(std::isfinite(got[i])) << "i=" << i;
      if (f32_bits(got[i]) != f32_bits(want[i])) {
        if (++mismatches <= 5)
          ADD_FAILURE() << type_name(type) << " len=" << len << " i=" << i << " got " << got[i]
                        << " want " << want[i];
      }
    }
    EXPECT_EQ(mismatches, 0) << type_name(type) << " len=" << len;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DequantTest, ::testing::ValuesIn(testing::kWeightTypes),
                         testing::type_param_name);

TEST(DequantTest, BlockStructsMatchTraits) {
  EXPECT_EQ(traits(GgmlType::kQ4_0).type_size, sizeof(BlockQ4_0));
  EXPECT_EQ(traits(GgmlType::kQ4_1).type_size, sizeof(BlockQ4_1));
  EXPECT_EQ(traits(GgmlType::kQ5_0).type_size, sizeof(BlockQ5_0));
  EXPECT_EQ(traits(GgmlType::kQ5_1).type_size, sizeof(BlockQ5_1));
  EXPECT_EQ(traits(GgmlType::kQ8_0).type_size, sizeof(BlockQ8_0));
  EXPECT_EQ(traits(GgmlType::kQ8_1).type_size, sizeof(BlockQ8_1));
  EXPECT_EQ(traits(GgmlType::kQ2_K).type_size, sizeof(BlockQ2_K));
  EXPECT_EQ(traits(GgmlType::kQ3_K).type_size, sizeof(BlockQ3_K));
  EXPECT_EQ(traits(GgmlType::kQ4_K).type_size, sizeof(BlockQ4_K));
  EXPECT_EQ(traits(GgmlType::kQ5_K).type_size, sizeof(BlockQ5_K));
  EXPECT_EQ(traits(GgmlType::kQ6_K).type_size, sizeof(BlockQ6_K));
  EXPECT_EQ(traits(GgmlType::kQ8_K).type_size, sizeof(BlockQ8_K));
  EXPECT_EQ(traits(GgmlType::kMXFP4).type_size, sizeof(BlockMXFP4));
}

// Hand-derived: one Q4_1 block, d = 0.5, m = -1, nibbles j and 15 - j.
TEST(DequantTest, HandDerivedQ4_1) {
  BlockQ4_1 b{};
  b.d = f32_to_fp16(0.5f);
  b.m = f32_to_fp16(-1.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<std::uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row(GgmlType::kQ4_1, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * j - 1.0f);
    EXPECT_EQ(y[j + 16], 0.5f * (15 - j) - 1.0f);
  }
}

// Hand-derived: MXFP4 with exponent 128 (scale 2^1 / 2 = 1) maps codes to E2M1 values.
TEST(DequantTest, HandDerivedMxfp4) {
  BlockMXFP4 b{};
  b.e = 128;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<std::uint8_t>(j | (j << 4));
  float y[32];
  dequantize_row(GgmlType::kMXFP4, &b, y, 32);
  const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, 0, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 2 * e2m1[j]) << j;  // 2^(128-127) * value
    EXPECT_EQ(y[j + 16], 2 * e2m1[j]) << j;
  }
}

TEST(DequantTest, ActivationTypesAreDequantizable) {
  EXPECT_TRUE(can_dequantize(GgmlType::kQ8_1));
  EXPECT_TRUE(can_dequantize(GgmlType::kQ8_K));
}

}  // namespace
}  // namespace zinfer::quant
