// vec_math: the vectorised exp against std::exp, and the max / NaN / sum helpers.
#include "engine/sample/vec_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace zinfer::sample {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(VecMath, ExpMatchesStdExpWithinFewUlp) {
  double worst = 0;
  for (float x = 0.0f; x > -87.0f; x -= 0.000731f) {
    const double ref = std::exp(static_cast<double>(x));
    const double rel = std::fabs(exp_nonpositive(x) - ref) / ref;
    worst = std::max(worst, rel);
  }
  EXPECT_LT(worst, 3.0e-7);  // ~2.5 ulp of float
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-kInf), 0.0f);
  EXPECT_EQ(exp_nonpositive(-100.0f), 0.0f);
  EXPECT_EQ(exp_nonpositive(3.0f), 1.0f);  // clamped: callers subtract the max first
}

// The scalar exp_nonpositive (sample_math.h, also compiled for the device sampler) and the
// 8-lane one are the same operations: bitwise equal on every input, including the clamps and
// values right at the reduction's rounding boundaries.
TEST(VecMath, ScalarAndVectorExpAreBitwiseEqual) {
  std::vector<float> xs = {0.0f, -0.0f, -kInf, 1.0f, -87.3365447f, -87.336548f, -87.34f, -1e-30f};
  for (int k = -130; k <= 1; ++k) xs.push_back(static_cast<float>(k) * 0.34657359f);  // ±ln2/2
  for (float x = 0.0f; x > -90.0f; x -= 0.0013f) xs.push_back(x);
  std::uint32_t state = 99;
  for (int i = 0; i < 200000; ++i) {  // random bit patterns of non-positive floats
    state = state * 1664525u + 1013904223u;
    float x;
    const std::uint32_t bits = state | 0x80000000u;
    std::memcpy(&x, &bits, sizeof(x));
    if (!std::isnan(x)) xs.push_back(x);
  }
  std::size_t differ = 0;
  for (std::size_t i = 0; i + 8 <= xs.size(); i += 8) {
    F32x8 v;
    for (int k = 0; k < 8; ++k) v[k] = xs[i + static_cast<std::size_t>(k)];
    const F32x8 e = exp_nonpositive8(v);
    for (int k = 0; k < 8; ++k) {
      const float scalar = exp_nonpositive(v[k]);
      const float lane = e[k];
      if (std::memcmp(&scalar, &lane, sizeof(float)) != 0 && differ++ < 5) {
        ADD_FAILURE() << "x=" << v[k] << ": scalar " << scalar << ", lane " << e[k];
      }
    }
  }
  EXPECT_EQ(differ, 0u);
}

TEST(VecMath, FixedWeightsAreExactScalings) {
  EXPECT_EQ(fixed_weight(1.0f), std::int64_t{1} << kWeightFractionBits);
  EXPECT_EQ(fixed_weight(0.5f), std::int64_t{1} << (kWeightFractionBits - 1));
  EXPECT_EQ(fixed_weight(0.0f), 0);
  EXPECT_EQ(fixed_weight(std::ldexp(1.0f, -41)), 0);  // below the resolution: weight 0
  EXPECT_EQ(fixed_weight(std::ldexp(1.0f, -40)), 1);
  // trunc(w * 2^40) for a weight with all 24 mantissa bits set.
  const float w = std::nextafter(1.0f, 0.0f);
  EXPECT_EQ(fixed_weight(w), (std::int64_t{1} << 40) - (std::int64_t{1} << 16));
}

TEST(VecMath, ExpShiftedHandlesTailsAndInPlace) {
  for (const std::size_t n : {1u, 3u, 7u, 8u, 19u, 733u}) {
    std::vector<float> in(n);
    for (std::size_t i = 0; i < n; ++i) in[i] = -static_cast<float>(i) * 0.37f + 2.0f;
    std::vector<float> out(n);
    exp_shifted(in, 2.0f, out.data());
    for (std::size_t i = 0; i < n; ++i) {
      const float x = in[i] - 2.0f;  // the same float shift
      const double ref = x < -87.3365447f ? 0.0 : std::exp(static_cast<double>(x));  // flush
      EXPECT_NEAR(out[i], ref, 3e-7 * ref);
      EXPECT_EQ(out[i], exp_nonpositive(in[i] - 2.0f));  // same lanes everywhere
    }
    exp_shifted(in, 2.0f, in.data());
    EXPECT_EQ(in, out);
  }
}

TEST(VecMath, MaxNanAndSum) {
  for (const std::size_t n : {1u, 7u, 8u, 19u, 733u}) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>((i * 37) % 101) - 50.0f;
    v[n / 2] = 1000.0f;
    EXPECT_EQ(max_f32(v), 1000.0f);
    EXPECT_FALSE(any_nan_or_posinf(v));
    double ref = 0;
    for (const float x : v) ref += x;
    EXPECT_DOUBLE_EQ(sum_f64(v), ref);  // small integers: exact in any order
    v[n - 1] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_TRUE(any_nan_or_posinf(v));
    v[n - 1] = kInf;
    EXPECT_TRUE(any_nan_or_posinf(v));
    v[n - 1] = -kInf;
    EXPECT_FALSE(any_nan_or_posinf(v));
  }
  EXPECT_EQ(max_f32(std::vector<float>{-kInf, -kInf}), -kInf);
}

}  // namespace
}  // namespace zinfer::sample
