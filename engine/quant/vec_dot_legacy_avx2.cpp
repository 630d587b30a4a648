// AVX2 dot products of the 32-element block formats with Q8_0/Q8_1 activations. One float
// accumulator of 8 lanes, one FMA per block, in block order: the same rounding as ggml's x86
// kernels and as the scalar kernels in vec_dot_legacy_scalar.cpp.
#include "engine/quant/vec_dot_kernels.h"

#if defined(ZINFER_QUANT_AVX2)

#include <type_traits>

#include "engine/quant/block_types.h"
#include "engine/quant/fp16.h"
#include "engine/quant/simd_avx2.h"

namespace zinfer::quant::detail {

namespace {

// Σ over the blocks of d_w·d_a·p, one FMA per block in block order, where p is the block's 8
// integer lane sums (block_dot(x[i], y[i])) as floats; weights with a min (Q4_1, Q5_1, against
// Q8_1 activations) add Σ m·s, the minimum times the activation block sum.
template <typename BlockW, typename BlockA, typename BlockDot>
float dot_blocks_avx2(std::int64_t n, const void* w, const void* a, BlockDot block_dot) {
  constexpr bool kHasMin = std::is_same_v<BlockA, BlockQ8_1>;
  const auto* x = static_cast<const BlockW*>(w);
  const auto* y = static_cast<const BlockA*>(a);
  __m256 acc = _mm256_setzero_ps();
  float summs = 0.0f;
  for (std::int64_t i = 0; i < n / kQK; ++i) {
    if constexpr (kHasMin) summs = std::fma(fp16_to_f32(x[i].m), fp16_to_f32(y[i].s), summs);
    const __m256 p = _mm256_cvtepi32_ps(block_dot(x[i], y[i]));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d)), p, acc);
  }
  if constexpr (kHasMin) return avx2_hsum8(acc) + summs;
  return avx2_hsum8(acc);
}

}  // namespace

float dot_q4_0_avx2(std::int64_t n, const void* w, const void* a) {
  return dot_blocks_avx2<BlockQ4_0, BlockQ8_0>(n, w, a, [](const BlockQ4_0& x, const BlockQ8_0& y) {
    const __m256i qx = _mm256_sub_epi8(avx2_nibbles_32(x.qs), _mm256_set1_epi8(8));
    return avx2_dot_ss8(qx, avx2_load(y.qs));
  });
}

float dot_q4_1_avx2(std::int64_t n, const void* w, const void* a) {
  return dot_blocks_avx2<BlockQ4_1, BlockQ8_1>(n, w, a, [](const BlockQ4_1& x, const BlockQ8_1& y) {
    return avx2_dot_us8(avx2_nibbles_32(x.qs), avx2_load(y.qs));
  });
}

float dot_q5_0_avx2(std::int64_t n, const void* w, const void* a) {
  return dot_blocks_avx2<BlockQ5_0, BlockQ8_0>(n, w, a, [](const BlockQ5_0& x, const BlockQ8_0& y) {
    // (nibble | bit << 4) - 16 == nibble | 0xF0 (as int8) when the bit is clear, else nibble.
    const __m256i high =
        _mm256_andnot_si256(avx2_bits_to_bytes(x.qh), _mm256_set1_epi8(static_cast<char>(0xf0)));
    return avx2_dot_ss8(_mm256_or_si256(avx2_nibbles_32(x.qs), high), avx2_load(y.qs));
  });
}

float dot_q5_1_avx2(std::int64_t n, const void* w, const void* a) {
  return dot_blocks_avx2<BlockQ5_1, BlockQ8_1>(n, w, a, [](const BlockQ5_1& x, const BlockQ8_1& y) {
    const __m256i high = _mm256_and_si256(avx2_bits_to_bytes(x.qh), _mm256_set1_epi8(0x10));
    return avx2_dot_us8(_mm256_or_si256(avx2_nibbles_32(x.qs), high), avx2_load(y.qs));
  });
}

float dot_q8_0_avx2(std::int64_t n, const void* w, const void* a) {
  return dot_blocks_avx2<BlockQ8_0, BlockQ8_0>(n, w, a, [](const BlockQ8_0& x, const BlockQ8_0& y) {
    return avx2_dot_ss8(avx2_load(x.qs), avx2_load(y.qs));
  });
}

namespace {

inline __m256i mxfp4_values_32(const std::uint8_t* qs) {
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kMxfp4Values));
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(bytes, mask));
  const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(bytes, 4), mask));
  return _mm256_set_m128i(hi, lo);
}

}  // namespace

float dot_mxfp4_avx2(std::int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockMXFP4*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const std::int64_t nb = n / kQK;
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    const __m256 p0 =
        _mm256_cvtepi32_ps(avx2_dot_ss8(mxfp4_values_32(x[i].qs), avx2_load(y[i].qs)));
    const __m256 p1 =
        _mm256_cvtepi32_ps(avx2_dot_ss8(mxfp4_values_32(x[i + 1].qs), avx2_load(y[i + 1].qs)));
    acc0 =
        _mm256_fmadd_ps(_mm256_set1_ps(fp16_to_f32(y[i].d) * e8m0_to_f32_half(x[i].e)), p0, acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(fp16_to_f32(y[i + 1].d) * e8m0_to_f32_half(x[i + 1].e)),
                           p1, acc1);
  }
  float sumf = avx2_hsum8(_mm256_add_ps(acc0, acc1));
  for (; i < nb; ++i) sumf = mxfp4_block_fma(x[i], y[i], sumf);
  return sumf;
}

}  // namespace zinfer::quant::detail

#endif  // ZINFER_QUANT_AVX2
