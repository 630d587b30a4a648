// f16_tile_attention (the GPU prompt attention's numerics) against a plain double-precision
// softmax over the same fp16-rounded q, k and v: what remains is the rounding of each
// probability to fp16 (at most 2^-11 of it, which moves a weighted mean by at most
// 2^-10 · max |v|) and fp32 sums. Odd lengths and key ranges that start inside a tile (a sliding
// window), 1 to 200 keys, head sizes 64, 80 and 256, soft-capping, a learned sink, and operands
// past fp16's range (saturated, never infinite).
#include "engine/backend/cpu/f16_tile_attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace zinfer::cpu {
namespace {

struct Rows {
  std::vector<float> q, k, v;  // q [dim]; k, v [n][dim]
  std::vector<const float*> kp, vp;
};

Rows make_rows(std::int32_t n, std::int32_t dim, std::uint32_t seed, float stddev) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  Rows r;
  r.q.resize(static_cast<std::size_t>(dim));
  r.k.resize(static_cast<std::size_t>(n) * dim);
  r.v.resize(static_cast<std::size_t>(n) * dim);
  for (float& x : r.q) x = dist(rng);
  for (float& x : r.k) x = dist(rng);
  for (float& x : r.v) x = dist(rng);
  for (std::int32_t j = 0; j < n; ++j) {
    r.kp.push_back(r.k.data() + static_cast<std::size_t>(j) * dim);
    r.vp.push_back(r.v.data() + static_cast<std::size_t>(j) * dim);
  }
  return r;
}

// Softmax attention in double over fp16-rounded operands, the sink (if any) in the denominator.
std::vector<double> reference(const Rows& r, std::int32_t dim, const model::AttnParams& p,
                              double sink) {
  const auto n = r.kp.size();
  std::vector<double> s(n);
  double mx = sink;
  for (std::size_t j = 0; j < n; ++j) {
    double dot = 0.0;
    for (std::int32_t d = 0; d < dim; ++d)
      dot += static_cast<double>(f16_saturate_round(r.q[static_cast<std::size_t>(d)])) *
             f16_saturate_round(r.kp[j][d]);
    s[j] = dot * p.scale;
    if (p.softcap > 0.0f) s[j] = p.softcap * std::tanh(s[j] / p.softcap);
    mx = std::max(mx, s[j]);
  }
  double l = std::isinf(sink) ? 0.0 : std::exp(sink - mx);
  std::vector<double> out(static_cast<std::size_t>(dim), 0.0);
  for (std::size_t j = 0; j < n; ++j) {
    const double e = std::exp(s[j] - mx);
    l += e;
    for (std::int32_t d = 0; d < dim; ++d)
      out[static_cast<std::size_t>(d)] += e * f16_saturate_round(r.vp[j][d]);
  }
  for (double& o : out) o /= l;
  return out;
}

TEST(F16TileAttention, MatchesADoubleSoftmaxOverTheRoundedOperands) {
  struct Case {
    std::int32_t dim, first, pos;
    float softcap;
    bool sink;
  };
  const Case cases[] = {{64, 0, 0, 0.0f, false},    {64, 0, 6, 0.0f, false},
                        {64, 0, 63, 0.0f, false},   {64, 0, 64, 0.0f, false},
                        {80, 0, 199, 0.0f, false},  {256, 0, 130, 0.0f, false},
                        {64, 37, 140, 0.0f, false}, {64, 100, 140, 5.0f, false},
                        {64, 0, 77, 0.0f, true},    {64, 70, 77, 0.0f, true}};
  std::uint32_t seed = 5;
  for (const Case& c : cases) {
    const std::int32_t n = c.pos - c.first + 1;
    const Rows r = make_rows(n, c.dim, seed++, 2.0f);
    model::AttnParams p;
    p.head_dim = c.dim;
    p.scale = 1.0f / std::sqrt(static_cast<float>(c.dim));
    p.softcap = c.softcap;
    const float sink = c.sink ? 1.5f : -INFINITY;
    std::vector<float> out(static_cast<std::size_t>(c.dim));
    f16_tile_attention(r.q.data(), r.kp, r.vp, c.first, c.pos, p, sink, out.data());
    const std::vector<double> want = reference(r, c.dim, p, c.sink ? 1.5 : -HUGE_VAL);
    float vmax = 0.0f;
    for (const float x : r.v) vmax = std::max(vmax, std::fabs(x));
    const double tol = std::ldexp(1.0, -10) * vmax + 1e-5;
    for (std::int32_t d = 0; d < c.dim; ++d) {
      const auto i = static_cast<std::size_t>(d);
      ASSERT_TRUE(std::isfinite(out[i]));
      EXPECT_NEAR(out[i], want[i], tol)
          << "dim " << c.dim << " keys [" << c.first << ", " << c.pos << "] output " << d;
    }
  }
}

TEST(F16TileAttention, ASinkFarAboveTheScoresTakesTheWeight) {
  const Rows r = make_rows(20, 64, 3, 1.0f);
  model::AttnParams p;
  p.head_dim = 64;
  p.scale = 0.125f;
  std::vector<float> out(64);
  f16_tile_attention(r.q.data(), r.kp, r.vp, 0, 19, p, 60.0f, out.data());
  for (const float x : out) EXPECT_LT(std::fabs(x), 1e-12f);
}

TEST(F16TileAttention, OperandsPastTheHalfRangeSaturate) {
  Rows r = make_rows(9, 64, 4, 1.0f);
  r.q[0] = 1e6f;
  r.k[5] = -3e5f;
  r.v[70] = 1e9f;
  EXPECT_EQ(f16_saturate_round(1e6f), kF16Max);
  EXPECT_EQ(f16_saturate_round(-1e6f), -kF16Max);
  EXPECT_TRUE(std::isnan(f16_saturate_round(NAN)));
  model::AttnParams p;
  p.head_dim = 64;
  p.scale = 1e-6f;
  std::vector<float> out(64);
  f16_tile_attention(r.q.data(), r.kp, r.vp, 0, 8, p, -INFINITY, out.data());
  for (const float x : out) EXPECT_TRUE(std::isfinite(x));
}

}  // namespace
}  // namespace zinfer::cpu
