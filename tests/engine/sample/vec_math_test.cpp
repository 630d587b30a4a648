// vec_math: the vectorised exp against std::exp, and the max / NaN / sum helpers.
#include "engine/sample/vec_math.h"

#include <gtest/gtest.h>

#include <cmath>
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
