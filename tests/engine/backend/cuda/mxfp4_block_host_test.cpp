// The GPU's MXFP4 dequantization (kernels/mxfp4_block.cuh, behind QuantTraits<kMXFP4>) run on
// the CPU against quant::dequantize_row, bit for bit: every exponent (the two subnormal
// scales included) with every code byte, and random rows in the synthetic writer's format.
// Runs without a GPU; the kernels built on it are checked on the device by
// tests/kernels/quant_kernels_test (Mxfp4*).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/quant/dequant.h"
#include "engine/quant/ggml_type.h"
#include "engine/synthetic/synthetic_weights.h"
#include "kernels/mxfp4_block.cuh"

namespace zinfer::cuda {
namespace {

using quant::GgmlType;

std::uint32_t bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

// Every 8-element group of the row through mxfp4_group8 equals the CPU's values bitwise.
void expect_row_equal(const std::vector<std::uint8_t>& row, std::int64_t n) {
  std::vector<float> want(static_cast<std::size_t>(n));
  quant::dequantize_row(GgmlType::kMXFP4, row.data(), want.data(), n);
  std::int64_t bad = 0;
  for (std::int64_t g = 0; g < n / 8; ++g) {
    float v[8];
    mxfp4_group8(row.data(), g, v);
    for (int i = 0; i < 8; ++i) {
      const float w = want[static_cast<std::size_t>(8 * g + i)];
      if (bits(v[i]) != bits(w) && bad++ < 5) {
        ADD_FAILURE() << "element " << 8 * g + i << ": got " << v[i] << ", CPU " << w;
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST(Mxfp4BlockHost, LayoutAndTablesMatchTheCpu) {
  EXPECT_EQ(static_cast<std::size_t>(kMxfp4BlockBytes), sizeof(quant::BlockMXFP4));
  EXPECT_EQ(quant::row_size(GgmlType::kMXFP4, 32), sizeof(quant::BlockMXFP4));
  for (unsigned c = 0; c < 16; ++c) EXPECT_EQ(mxfp4_value(c), quant::kMxfp4Values[c]) << c;
  for (int e = 0; e < 256; ++e) {
    const auto u = static_cast<std::uint8_t>(e);
    EXPECT_EQ(bits(mxfp4_scale(u)), bits(quant::e8m0_to_f32_half(u))) << e;
  }
}

TEST(Mxfp4BlockHost, EveryExponentWithEveryCodeByte) {
  // Block e has exponent e and code bytes 16e .. 16e + 15 (mod 256): each byte value appears
  // under 16 exponents.
  constexpr std::int64_t kBlocks = 256;
  std::vector<std::uint8_t> row(kBlocks * kMxfp4BlockBytes);
  for (std::int64_t b = 0; b < kBlocks; ++b) {
    std::uint8_t* p = row.data() + b * kMxfp4BlockBytes;
    p[0] = static_cast<std::uint8_t>(b);
    for (int j = 0; j < 16; ++j) p[1 + j] = static_cast<std::uint8_t>((16 * b + j) & 0xff);
  }
  expect_row_equal(row, kBlocks * 32);
}

TEST(Mxfp4BlockHost, SyntheticRowsEqualTheCpu) {
  for (const std::int64_t n : {32, 96, 2880}) {
    SCOPED_TRACE(n);
    model::SynthRng rng(static_cast<std::uint64_t>(n) * 7 + 1);
    std::vector<std::uint8_t> row(quant::row_size(GgmlType::kMXFP4, n));
    model::synth_fill_row(GgmlType::kMXFP4, model::InitKind::kWeight, 0.05f, n, rng, row.data());
    expect_row_equal(row, n);
  }
}

}  // namespace
}  // namespace zinfer::cuda
