// fp16/bf16 conversions: portable bit manipulation vs the F16C instructions (an independent
// hardware reference), known values, and numpy's conversions through the gguf fixtures.
#include "engine/quant/fp16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/quant/act_quant.h"
#include "tests/engine/quant/quant_fixture.h"

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace zinfer::quant {
namespace {

bool is_nan16(std::uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0; }

TEST(Fp16Test, KnownValues) {
  EXPECT_EQ(fp16_to_f32_scalar(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_f32_scalar(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_f32_scalar(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_f32_scalar(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(fp16_to_f32_scalar(0x0400), std::ldexp(1.0f, -14));
  EXPECT_TRUE(std::isinf(fp16_to_f32_scalar(0x7c00)));
  EXPECT_TRUE(std::isnan(fp16_to_f32_scalar(0x7e00)));
  EXPECT_TRUE(std::signbit(fp16_to_f32_scalar(0x8000)));

  EXPECT_EQ(f32_to_fp16_scalar(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_fp16_scalar(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_fp16_scalar(65519.0f), 0x7bff);  // below the halfway point
  EXPECT_EQ(f32_to_fp16_scalar(65520.0f), 0x7c00);  // halfway rounds to even: inf
  EXPECT_EQ(f32_to_fp16_scalar(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie -> even
  EXPECT_EQ(f32_to_fp16_scalar(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even
  EXPECT_EQ(f32_to_fp16_scalar(std::ldexp(1.0f, -25)), 0x0000);             // tie -> even (0)
  EXPECT_EQ(f32_to_fp16_scalar(3 * std::ldexp(1.0f, -25)), 0x0002);         // tie -> even
  EXPECT_EQ(f32_to_fp16_scalar(-0.0f), 0x8000);
  EXPECT_TRUE(is_nan16(f32_to_fp16_scalar(std::nanf(""))));
}

TEST(Fp16Test, RoundTripsEveryHalf) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto hh = static_cast<std::uint16_t>(h);
    const float f = fp16_to_f32_scalar(hh);
    if (is_nan16(hh)) {
      EXPECT_TRUE(std::isnan(f));
      continue;
    }
    ASSERT_EQ(f32_to_fp16_scalar(f), hh) << "h=" << h;
  }
}

#if defined(__F16C__)
TEST(Fp16Test, ScalarMatchesF16cOnEveryHalf) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto hh = static_cast<std::uint16_t>(h);
    ASSERT_EQ(f32_bits(fp16_to_f32_scalar(hh)), f32_bits(_cvtsh_ss(hh))) << "h=" << h;
  }
}

TEST(Fp16Test, ScalarMatchesF16cOnFloats) {
  auto check = [](std::uint32_t bits) {
    const float f = f32_from_bits(bits);
    const auto hw = static_cast<std::uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
    ASSERT_EQ(f32_to_fp16_scalar(f), hw) << std::hex << "bits=0x" << bits;
  };
  // Every rounding boundary: the float midpoint between consecutive halves and its neighbours.
  for (std::uint32_t h = 0; h < 0x7c00; ++h) {
    const float lo = fp16_to_f32_scalar(static_cast<std::uint16_t>(h));
    const float hi = fp16_to_f32_scalar(static_cast<std::uint16_t>(h + 1));
    const std::uint32_t mid = f32_bits(0.5f * (lo + hi));
    for (std::uint32_t b : {mid - 1, mid, mid + 1, f32_bits(lo), f32_bits(hi)}) {
      check(b);
      check(b | 0x80000000u);
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2'000'000; ++i) check(static_cast<std::uint32_t>(rng()));
}
#endif

TEST(Bf16Test, KnownValues) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f818000u)), 0x3f82);  // tie -> even
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f808001u)), 0x3f81);
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x7f800001u)), 0x7fc0);  // NaN forced quiet
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xc000), -2.0f);
}

// numpy's float16 cast and gguf-py's BF16 quantizer on the edge activation row.
TEST(Fp16Test, MatchesNumpyOnEdgeRow) {
  const auto fx = testing::load_quant_fixture("act_edge.zqv");
  ASSERT_TRUE(fx.error.empty()) << fx.error;
  const auto x = fx.values<float>("x");
  const auto want16 = fx.values<std::uint16_t>("f16");
  const auto wantbf = fx.values<std::uint16_t>("bf16");
  ASSERT_EQ(want16.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(f32_to_fp16_scalar(x[i]), want16[i]) << "i=" << i << " x=" << x[i];
    EXPECT_EQ(f32_to_fp16(x[i]), want16[i]) << "i=" << i;
    EXPECT_EQ(f32_to_bf16(x[i]), wantbf[i]) << "i=" << i;
  }
}

}  // namespace
}  // namespace zinfer::quant
