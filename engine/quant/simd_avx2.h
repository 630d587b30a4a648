// Internal AVX2 helpers shared by the quant kernels: nibble/bit unpacking, int8 lane dots and
// the horizontal float sum in ggml's order. Include only under ZINFER_QUANT_AVX2.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace zinfer::quant::detail {

// 16 bytes of nibbles -> 32 bytes in [0, 15]: low nibbles first, then high nibbles.
inline __m256i avx2_nibbles_32(const std::uint8_t* qs) {
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// 32 bits -> 32 bytes, byte j = 0xFF when bit j is set.
inline __m256i avx2_bits_to_bytes(const std::uint8_t* p) {
  std::uint32_t bits;
  std::memcpy(&bits, p, sizeof(bits));
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
  const __m256i select = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
}

// 8 int32 lanes, lane l = sum of u[4l..4l+3] * s[4l..4l+3]; u unsigned bytes, s signed bytes.
// The int16 intermediate cannot saturate for |s| <= 127 and u <= 127.
inline __m256i avx2_dot_us8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// As above, with the 16 int16 pair sums weighted: int16 lanes 0-7 (elements 0-15) by scale_lo,
// lanes 8-15 (elements 16-31) by scale_hi.
inline __m256i avx2_dot_us8_scaled(__m256i u, __m256i s, int scale_lo, int scale_hi) {
  const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(scale_hi)),
                                          _mm_set1_epi16(static_cast<short>(scale_lo)));
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scales);
}

// Signed x signed version of avx2_dot_us8 (operands in [-127, 127]).
inline __m256i avx2_dot_ss8(__m256i a, __m256i b) {
  return avx2_dot_us8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

// Sum of 8 floats in the order of ggml's hsum_float_8 (and Lanes8::hsum).
inline float avx2_hsum8(__m256 x) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

inline __m256i avx2_load(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

}  // namespace zinfer::quant::detail
