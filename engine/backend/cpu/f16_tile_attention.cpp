// f16_tile_attention (see f16_tile_attention.h).
#include "engine/backend/cpu/f16_tile_attention.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include "engine/quant/fp16.h"

namespace zinfer::cpu {

float f16_saturate_round(float x) {
  const float c = x > kF16Max ? kF16Max : (x < -kF16Max ? -kF16Max : x);
  return quant::fp16_to_f32(quant::f32_to_fp16(c));
}

void f16_tile_attention(const float* q, std::span<const float* const> k_rows,
                        std::span<const float* const> v_rows, std::int32_t first, std::int32_t pos,
                        const model::AttnParams& p, float sink, float* out) {
  const auto dim = static_cast<std::size_t>(p.head_dim);
  std::vector<float> qh(dim), acc(dim, 0.0f), s(static_cast<std::size_t>(kF16KeyTile));
  for (std::size_t d = 0; d < dim; ++d) qh[d] = f16_saturate_round(q[d]);
  float m = -FLT_MAX;  // finite: a tile of masked keys (-inf) leaves it, and exp(m - m) = 1
  float l = 0.0f;
  for (std::int32_t t0 = first / kF16KeyTile * kF16KeyTile; t0 <= pos; t0 += kF16KeyTile) {
    const std::int32_t j0 = std::max(first, t0), j1 = std::min(pos, t0 + kF16KeyTile - 1);
    float mt = -INFINITY;
    for (std::int32_t j = j0; j <= j1; ++j) {
      const float* kr = k_rows[static_cast<std::size_t>(j - first)];
      float dot = 0.0f;
      for (std::size_t d = 0; d < dim; ++d) dot += qh[d] * f16_saturate_round(kr[d]);
      float sc = dot * p.scale;
      if (p.softcap > 0.0f) sc = p.softcap * std::tanh(sc / p.softcap);
      s[static_cast<std::size_t>(j - j0)] = sc;
      mt = std::max(mt, sc);
    }
    const float m_new = std::max(m, mt);
    const float corr = std::exp(m - m_new);
    l *= corr;
    for (float& a : acc) a *= corr;
    m = m_new;
    for (std::int32_t j = j0; j <= j1; ++j) {
      const float pj = f16_saturate_round(std::exp(s[static_cast<std::size_t>(j - j0)] - m));
      l += pj;
      const float* vr = v_rows[static_cast<std::size_t>(j - first)];
      for (std::size_t d = 0; d < dim; ++d) acc[d] += pj * f16_saturate_round(vr[d]);
    }
  }
  float f = 1.0f;
  if (sink != -INFINITY) {  // one more logit in the max and the denominator, no value row
    const float m_all = std::max(m, sink);
    f = std::exp(m - m_all);
    l = l * f + std::exp(sink - m_all);
  }
  const float inv = 1.0f / l;
  for (std::size_t d = 0; d < dim; ++d) out[d] = acc[d] * f * inv;
}

}  // namespace zinfer::cpu
