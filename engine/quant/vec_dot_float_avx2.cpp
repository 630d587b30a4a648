// AVX2 fast paths of the exact dot product (vec_dot_f32) for the legacy block formats the
// real models use most (Q4_0, Q4_1, Q5_0, Q8_0), one row or four at a time. They dequantize 8
// elements at a time in registers with the same two roundings as dequant.cpp (multiply, then add —
// never fused) and feed one 8-lane FMA accumulator in element order, so the result is bit-identical
// to the generic dequantize-into-a-buffer path; they just skip the buffer and the scalar unpacking.
#include <cstddef>
#include <cstdint>
#include <cstring>

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

// Bits 0..15 of bits as 16 bytes: 0x10 where the bit is set, else 0 (Q5_0's fifth bits).
inline __m128i fifth_bits(std::uint32_t bits) {
  const __m128i v = _mm_set1_epi16(static_cast<short>(bits & 0xffffu));
  const __m128i spread =
      _mm_shuffle_epi8(v, _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const __m128i pick = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  const __m128i set = _mm_cmpeq_epi8(_mm_and_si128(spread, pick), pick);
  return _mm_and_si128(set, _mm_set1_epi8(0x10));
}

// Bytes 0..7 and 8..15 of v, signed, as 8 floats each.
inline __m256 sbytes_lo_ps(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); }
inline __m256 sbytes_hi_ps(__m128i v) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)));
}

// Each format's block as 4×8 floats, rounded as dequant.cpp rounds them.
struct DequantQ4_0 {
  using Block = BlockQ4_0;
  void operator()(const Block& b, __m256 y[4]) const {
    const __m256 d = _mm256_set1_ps(fp16_to_f32(b.d));
    const __m256 eight = _mm256_set1_ps(8.0f);
    nibbles_ps(b.qs, y);
    // (q - 8) is exact in float, then one rounding for the multiply, as the scalar code.
    for (int k = 0; k < 4; ++k) y[k] = _mm256_mul_ps(d, _mm256_sub_ps(y[k], eight));
  }
};

struct DequantQ4_1 {
  using Block = BlockQ4_1;
  void operator()(const Block& b, __m256 y[4]) const {
    const __m256 d = _mm256_set1_ps(fp16_to_f32(b.d));
    const __m256 m = _mm256_set1_ps(fp16_to_f32(b.m));
    nibbles_ps(b.qs, y);
    for (int k = 0; k < 4; ++k) y[k] = _mm256_add_ps(_mm256_mul_ps(d, y[k]), m);
  }
};

struct DequantQ5_0 {
  using Block = BlockQ5_0;
  void operator()(const Block& b, __m256 y[4]) const {
    const __m256 d = _mm256_set1_ps(fp16_to_f32(b.d));
    std::uint32_t qh;
    std::memcpy(&qh, b.qh, sizeof(qh));
    const __m128i mask = _mm_set1_epi8(0x0f);
    const __m128i sixteen = _mm_set1_epi8(16);
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
    // (nibble | fifth bit) - 16 is in [-16, 15]: exact as int8 and as float; then one rounding
    // for the multiply, as the scalar code.
    const __m128i lo = _mm_sub_epi8(_mm_or_si128(_mm_and_si128(q, mask), fifth_bits(qh)), sixteen);
    const __m128i hi = _mm_sub_epi8(
        _mm_or_si128(_mm_and_si128(_mm_srli_epi16(q, 4), mask), fifth_bits(qh >> 16)), sixteen);
    y[0] = _mm256_mul_ps(d, sbytes_lo_ps(lo));
    y[1] = _mm256_mul_ps(d, sbytes_hi_ps(lo));
    y[2] = _mm256_mul_ps(d, sbytes_lo_ps(hi));
    y[3] = _mm256_mul_ps(d, sbytes_hi_ps(hi));
  }
};

struct DequantQ8_0 {
  using Block = BlockQ8_0;
  void operator()(const Block& b, __m256 y[4]) const {
    const __m256 d = _mm256_set1_ps(fp16_to_f32(b.d));
    for (int k = 0; k < 4; ++k) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 8 * k));
      y[k] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
    }
  }
};

// Σ w·x over the blocks of R rows (w, w + stride, ...), one 8-lane FMA accumulator a row in
// element order: each row's result is the same bits whatever R. R > 1 only adds independent
// accumulators — one alone waits on the FMA latency; four keep the FMA units busy.
template <typename D, int R>
void dot_f32_blocks(std::int64_t n, const void* w, std::size_t stride, const float* x, float* out) {
  using Block = typename D::Block;
  const auto* base = static_cast<const std::uint8_t*>(w);
  const Block* b[R];
  __m256 acc[R];
  for (int r = 0; r < R; ++r) {
    b[r] = reinterpret_cast<const Block*>(base + static_cast<std::size_t>(r) * stride);
    acc[r] = _mm256_setzero_ps();
  }
  const D dequant;
  for (std::int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    __m256 xv[4];
    for (int k = 0; k < 4; ++k) xv[k] = _mm256_loadu_ps(x + 8 * k);
    for (int r = 0; r < R; ++r) {
      __m256 y[4];
      dequant(b[r][i], y);
      for (int k = 0; k < 4; ++k) acc[r] = _mm256_fmadd_ps(y[k], xv[k], acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = avx2_hsum8(acc[r]);
}

// Rows in fours, the rest one at a time.
template <typename D>
void dot_rows(std::int64_t n, const void* w, std::size_t stride, std::int64_t rows, const float* x,
              float* out) {
  const auto* base = static_cast<const std::uint8_t*>(w);
  std::int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    dot_f32_blocks<D, 4>(n, base + static_cast<std::size_t>(r) * stride, stride, x, out + r);
  for (; r < rows; ++r)
    dot_f32_blocks<D, 1>(n, base + static_cast<std::size_t>(r) * stride, 0, x, out + r);
}

}  // namespace

bool dot_f32_rows_avx2(GgmlType type, std::int64_t n, const void* w, std::size_t stride,
                       std::int64_t rows, const float* x, float* out) {
  switch (type) {
    case GgmlType::kQ4_0:
      dot_rows<DequantQ4_0>(n, w, stride, rows, x, out);
      return true;
    case GgmlType::kQ4_1:
      dot_rows<DequantQ4_1>(n, w, stride, rows, x, out);
      return true;
    case GgmlType::kQ5_0:
      dot_rows<DequantQ5_0>(n, w, stride, rows, x, out);
      return true;
    case GgmlType::kQ8_0:
      dot_rows<DequantQ8_0>(n, w, stride, rows, x, out);
      return true;
    default:
      return false;
  }
}

}  // namespace zinfer::quant::detail
#endif
