// Q16 activation quants (`--q16-act`): per 32 elements a float scale d = amax / 32639 and
// integer quants q = round-half-even(x · (32639 / amax)), |q| <= 32639, so that a GPU kernel can
// hold q as two int8 planes (256·hi + lo) and take exact integer dot products with the weight
// quants. One definition for the GPU layout's host quantizer (kernels/q8_act_layout.h) and the
// CPU's emulation of the mode (CpuOps, values rounded to the Q16 grid).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace zinfer::quant {

// Largest Q16 quant: 127·256 + 127, so that hi and lo are both int8.
inline constexpr float kQ16Max = 32639.0f;
inline constexpr int kQ16Block = 32;

// The quants of one block of kQ16Block floats into q; returns the block's scale d.
inline float q16_quantize_block(const float* x, int* q) {
  float amax = 0.0f;
  for (int i = 0; i < kQ16Block; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float id = amax != 0.0f ? kQ16Max / amax : 0.0f;
  for (int i = 0; i < kQ16Block; ++i) {
    q[i] = std::clamp(static_cast<int>(std::nearbyint(x[i] * id)), -32639, 32639);
  }
  return amax / kQ16Max;
}

// y[0..n) <- x rounded to the Q16 grid, q·d per element (n a multiple of kQ16Block): what a
// Q16 matmul multiplies the weights with, up to float rounding of the sum.
inline void q16_round_row(const float* x, float* y, std::int64_t n) {
  int q[kQ16Block];
  for (std::int64_t b = 0; b < n / kQ16Block; ++b) {
    const float d = q16_quantize_block(x + kQ16Block * b, q);
    for (int i = 0; i < kQ16Block; ++i) y[kQ16Block * b + i] = static_cast<float>(q[i]) * d;
  }
}

}  // namespace zinfer::quant
