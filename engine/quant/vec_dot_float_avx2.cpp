// AVX2 fast paths of the exact dot product (vec_dot_f32) for the legacy block formats the
// real models use most (Q4_0, Q4_1, Q8_0). They dequantize 8 elements at a time in registers
// with the same two roundings as dequant.cpp (multiply, then add — never fused) and feed one
// 8-lane FMA accumulator in element order, so the result is bit-identical to the generic
// dequantize-into-a-buffer path; they just skip the buffer and the scalar unpacking.
#include <cstdint>

#include "engine/quant/block_types.h"
#include "engine/quant/fp16.h"
#include "engine/quant/vec_dot_kernels.h"

#if defined(ZINFER_QUANT_AVX2)
#include "engine/quant/simd_avx2.h"

namespace zinfer::quant::detail {
namespace {

// Bytes 0..7 and 8..15 of v as 8 floats each.
inline __m256 bytes_lo_ps(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)); }
inline __m256 bytes_hi_ps(__m128i v) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)));
}

// The 32 unsigned nibbles of a 4-bit block's 16 bytes as 4×8 floats in element order: the
// low nibbles of bytes 0..15 are elements 0..15, the high nibbles elements 16..31.
inline void nibbles_ps(const std::uint8_t* qs, __m256 y[4]) {
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i lo = _mm_and_si128(q, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
  y[0] = bytes_lo_ps(lo);
  y[1] = bytes_hi_ps(lo);
  y[2] = bytes_lo_ps(hi);
  y[3] = bytes_hi_ps(hi);
}

// Σ w·x over the blocks, one 8-lane FMA accumulator in element order: dequant(block, y)
// writes the block's 32 weights as 4×8 floats, rounded as dequant.cpp rounds them.
template <typename Block, typename Dequant>
float dot_f32_blocks(std::int64_t n, const void* w, const float* x, Dequant dequant) {
  const auto* b = static_cast<const Block*>(w);
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    __m256 y[4];
    dequant(b[i], y);
    for (int k = 0; k < 4; ++k) acc = _mm256_fmadd_ps(y[k], _mm256_loadu_ps(x + 8 * k), acc);
  }
  return avx2_hsum8(acc);
}

}  // namespace

float dot_f32_q4_0_avx2(std::int64_t n, const void* w, const float* x) {
  const __m256 eight = _mm256_set1_ps(8.0f);
  return dot_f32_blocks<BlockQ4_0>(n, w, x, [&](const BlockQ4_0& b, __m256 y[4]) {
    const __m256 d = _mm256_set1_ps(fp16_to_f32(b.d));
    nibbles_ps(b.qs, y);
    // (q - 8) is exact in float, then one rounding for the multiply, as the scalar code.
    for (int k = 0; k < 4; ++k) y[k] = _mm256_mul_ps(d, _mm256_sub_ps(y[k], eight));
  });
}

float dot_f32_q4_1_avx2(std::int64_t n, const void* w, const float* x) {
  return dot_f32_blocks<BlockQ4_1>(n, w, x, [](const BlockQ4_1& b, __m256 y[4]) {
    const __m256 d = _mm256_set1_ps(fp16_to_f32(b.d));
    const __m256 m = _mm256_set1_ps(fp16_to_f32(b.m));
    nibbles_ps(b.qs, y);
    for (int k = 0; k < 4; ++k) y[k] = _mm256_add_ps(_mm256_mul_ps(d, y[k]), m);
  });
}

float dot_f32_q8_0_avx2(std::int64_t n, const void* w, const float* x) {
  return dot_f32_blocks<BlockQ8_0>(n, w, x, [](const BlockQ8_0& b, __m256 y[4]) {
    const __m256 d = _mm256_set1_ps(fp16_to_f32(b.d));
    for (int k = 0; k < 4; ++k) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 8 * k));
      y[k] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
    }
  });
}

}  // namespace zinfer::quant::detail
#endif
