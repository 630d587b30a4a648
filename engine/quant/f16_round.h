// fp16 rounding of a matmul's operands (LlmOptions::fp16_matmul): the numerics of an fp16
// tensor-core mode — activations and dequantized weights held as IEEE halves, products summed
// in fp32 — emulated on the CPU so that its agreement with transformers can be measured
// (tests/engine/model/hf_golden_test.cpp) before any kernel relies on it.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/quant/fp16.h"

namespace zinfer::quant {

// Largest |value| an activation row keeps after its scale: 2^15, half of fp16's range, so sums
// of a few of them cannot overflow an fp16 operand either.
inline constexpr float kF16RowMax = 32768.0f;

// The power of two an activation row is divided by before it is rounded to fp16 (1 unless its
// largest |value| passes kF16RowMax): exact, so only the fp16 rounding changes the values.
inline float f16_row_scale(const float* x, std::int64_t n) {
  float amax = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(x[i]));
  float s = 1.0f;
  while (amax / s > kF16RowMax && s < 0x1p126f) s *= 2.0f;  // (an infinite row: 2^126)
  return s;
}

// y[0..n) <- x rounded to fp16 after dividing by `scale` (a power of two), times scale again.
inline void f16_round_row(const float* x, float* y, std::int64_t n, float scale = 1.0f) {
  std::int64_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
  // Eight at a time: x · (1 / scale) is x / scale exactly (a power of two), and VCVTPS2PH
  // rounds to nearest even as f32_to_fp16 does.
  const __m256 inv = _mm256_set1_ps(1.0f / scale), sc = _mm256_set1_ps(scale);
  for (; i + 8 <= n; i += 8) {
    const __m128i h =
        _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), inv), _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtph_ps(h), sc));
  }
#endif
  for (; i < n; ++i) y[i] = fp16_to_f32(f32_to_fp16(x[i] / scale)) * scale;
}

}  // namespace zinfer::quant
