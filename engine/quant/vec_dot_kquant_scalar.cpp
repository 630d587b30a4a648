// Portable dot products of the K-quants (Q2_K..Q6_K) with Q8_K activations.
// Per super-block, integer sums land in 8 lanes exactly as the AVX2 kernels build them (lane l
// holds elements 4l..4l+3 of every 32-element group, times the group's integer scale); offset
// corrections that share the block scale are folded into lane 0, and the min terms go to a
// separate float accumulator. Both paths therefore return the same bits.
#include <cstring>

#include "engine/quant/block_types.h"
#include "engine/quant/fp16.h"
#include "engine/quant/vec_dot_kernels.h"

namespace zinfer::quant::detail {
namespace {

// lanes[l] += scale(l) * sum_k u[4l+k] * q8[4l+k] over one 32-element group; lanes 0-3 cover
// elements 0-15 (scale_lo), lanes 4-7 elements 16-31 (scale_hi).
inline void add_group(const std::uint8_t* u, const std::int8_t* q8, int scale_lo, int scale_hi,
                      std::int32_t* lanes) {
  for (int l = 0; l < 8; ++l) {
    std::int32_t s = 0;
    for (int k = 0; k < 4; ++k) s += static_cast<std::int32_t>(u[4 * l + k]) * q8[4 * l + k];
    lanes[l] += (l < 4 ? scale_lo : scale_hi) * s;
  }
}

}  // namespace

float dot_q2_k_scalar(std::int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  Lanes8 acc;
  float acc_min = 0.0f;
  std::uint8_t u[32];
  for (std::int64_t i = 0; i < n / kQKK; ++i) {
    std::int32_t lanes[8] = {};
    std::int32_t msum = 0;
    for (int k = 0; k < 16; ++k) msum += (x[i].scales[k] >> 4) * y[i].bsums[k];
    for (int g = 0; g < 8; ++g) {
      const std::uint8_t* q = x[i].qs + 32 * (g / 4);
      for (int l = 0; l < 32; ++l) u[l] = static_cast<std::uint8_t>((q[l] >> (2 * (g % 4))) & 3);
      add_group(u, y[i].qs + 32 * g, x[i].scales[2 * g] & 0x0f, x[i].scales[2 * g + 1] & 0x0f,
                lanes);
    }
    acc.fma_block(fp16_to_f32(x[i].d) * y[i].d, lanes);
    acc_min = std::fma(fp16_to_f32(x[i].dmin) * y[i].d, static_cast<float>(msum), acc_min);
  }
  return acc.hsum() - acc_min;
}

float dot_q3_k_scalar(std::int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  Lanes8 acc;
  std::uint8_t u[32];
  std::int8_t scales[16];
  for (std::int64_t i = 0; i < n / kQKK; ++i) {
    unpack_q3k_scales(x[i].scales, scales);
    std::int32_t lanes[8] = {};
    // Quants are used as q + 4 in [0, 7]; the +4 comes back out through the block sums.
    lanes[0] = -4 * weighted_bsums(y[i].bsums, scales);
    for (int g = 0; g < 8; ++g) {
      const std::uint8_t* q = x[i].qs + 32 * (g / 4);
      for (int l = 0; l < 32; ++l) {
        u[l] = static_cast<std::uint8_t>(((q[l] >> (2 * (g % 4))) & 3) |
                                         (((x[i].hmask[l] >> g) & 1) << 2));
      }
      add_group(u, y[i].qs + 32 * g, scales[2 * g], scales[2 * g + 1], lanes);
    }
    acc.fma_block(fp16_to_f32(x[i].d) * y[i].d, lanes);
  }
  return acc.hsum();
}

namespace {

// Shared by Q4_K and Q5_K (same header: d, dmin, 12 scale bytes; Q5_K then has qh).
float dot_k4_scalar(std::int64_t nb, std::size_t stride, const void* w, const BlockQ8_K* y,
                    bool five_bit) {
  Lanes8 acc;
  float acc_min = 0.0f;
  std::uint8_t u[32];
  for (std::int64_t i = 0; i < nb; ++i) {
    const auto* base = static_cast<const std::uint8_t*>(w) + i * stride;
    std::uint16_t d, dmin;
    std::memcpy(&d, base, 2);
    std::memcpy(&dmin, base + 2, 2);
    const std::uint8_t* scale_bytes = base + 4;
    const std::uint8_t* qh = five_bit ? base + 4 + kKScaleBytes : nullptr;
    const std::uint8_t* qs = base + 4 + kKScaleBytes + (five_bit ? kQKK / 8 : 0);
    std::uint8_t sc[8], mn[8];
    unpack_k4_scales(scale_bytes, sc, mn);
    std::int32_t lanes[8] = {};
    std::int32_t msum = 0;
    for (int g = 0; g < 8; ++g) msum += mn[g] * (y[i].bsums[2 * g] + y[i].bsums[2 * g + 1]);
    for (int g = 0; g < 8; ++g) {
      const std::uint8_t* q = qs + 32 * (g / 2);
      for (int l = 0; l < 32; ++l) {
        int v = (q[l] >> (4 * (g % 2))) & 0x0f;
        if (five_bit) v |= ((qh[l] >> g) & 1) << 4;
        u[l] = static_cast<std::uint8_t>(v);
      }
      add_group(u, y[i].qs + 32 * g, sc[g], sc[g], lanes);
    }
    acc.fma_block(fp16_to_f32(d) * y[i].d, lanes);
    acc_min = std::fma(fp16_to_f32(dmin) * y[i].d, static_cast<float>(msum), acc_min);
  }
  return acc.hsum() - acc_min;
}

}  // namespace

float dot_q4_k_scalar(std::int64_t n, const void* w, const void* a) {
  return dot_k4_scalar(n / kQKK, sizeof(BlockQ4_K), w, static_cast<const BlockQ8_K*>(a), false);
}

float dot_q5_k_scalar(std::int64_t n, const void* w, const void* a) {
  return dot_k4_scalar(n / kQKK, sizeof(BlockQ5_K), w, static_cast<const BlockQ8_K*>(a), true);
}

float dot_q6_k_scalar(std::int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  Lanes8 acc;
  std::uint8_t u[32];
  for (std::int64_t i = 0; i < n / kQKK; ++i) {
    std::int32_t lanes[8] = {};
    // Quants are used as q + 32 in [0, 63]; the +32 comes back out through the block sums.
    lanes[0] = -32 * weighted_bsums(y[i].bsums, x[i].scales);
    for (int g = 0; g < 8; ++g) {
      const int half = g / 4;
      const int gi = g % 4;
      const std::uint8_t* ql = x[i].ql + 64 * half + 32 * (gi % 2);
      const std::uint8_t* qh = x[i].qh + 32 * half;
      for (int l = 0; l < 32; ++l) {
        u[l] = static_cast<std::uint8_t>(((ql[l] >> (4 * (gi / 2))) & 0x0f) |
                                         (((qh[l] >> (2 * gi)) & 3) << 4));
      }
      add_group(u, y[i].qs + 32 * g, x[i].scales[2 * g], x[i].scales[2 * g + 1], lanes);
    }
    acc.fma_block(fp16_to_f32(x[i].d) * y[i].d, lanes);
  }
  return acc.hsum();
}

}  // namespace zinfer::quant::detail
