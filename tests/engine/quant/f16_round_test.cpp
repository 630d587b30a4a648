// fp16 rounding of matmul operands (engine/quant/f16_round.h): the row scale is the smallest
// power of two that brings the row within kF16RowMax, and the eight-at-a-time rounding gives
// the scalar formula's values bit for bit (odd lengths, scales above 1, values at fp16's
// subnormal edge).
#include "engine/quant/f16_round.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace zinfer::quant {
namespace {

TEST(F16Round, RowScaleIsTheSmallestPowerOfTwoInRange) {
  std::vector<float> x = {1.0f, -3.0f, 32768.0f};
  EXPECT_EQ(f16_row_scale(x.data(), 3), 1.0f);
  x[1] = -32769.0f;
  EXPECT_EQ(f16_row_scale(x.data(), 3), 2.0f);
  x[0] = 1.0e9f;
  EXPECT_EQ(f16_row_scale(x.data(), 3), 32768.0f);  // 1e9 / 2^15 = 30,518
  x[2] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(f16_row_scale(x.data(), 3), 0x1p126f);  // stops
  x[2] = std::numeric_limits<float>::quiet_NaN();   // ignored, as fmax does
  EXPECT_EQ(f16_row_scale(x.data(), 3), 32768.0f);
}

TEST(F16Round, EightAtATimeIsTheScalarRounding) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 2.0f);
  for (const float scale : {1.0f, 4.0f, 65536.0f}) {
    for (const int n : {1, 7, 8, 37, 256}) {
      std::vector<float> x(static_cast<std::size_t>(n)), y(x.size());
      for (auto& v : x) v = d(rng) * scale;
      x[0] = 3.0e-8f * scale;                     // fp16 subnormal after the scale
      if (n > 2) x[2] = 65519.0f * scale * 0.5f;  // near the top of the range
      f16_round_row(x.data(), y.data(), n, scale);
      for (int i = 0; i < n; ++i) {
        const float want = fp16_to_f32(f32_to_fp16(x[static_cast<std::size_t>(i)] / scale)) * scale;
        const float got = y[static_cast<std::size_t>(i)];
        ASSERT_EQ(std::memcmp(&got, &want, 4), 0)
            << "scale " << scale << " n " << n << " i " << i << ": " << got << " vs " << want;
      }
    }
  }
}

}  // namespace
}  // namespace zinfer::quant
