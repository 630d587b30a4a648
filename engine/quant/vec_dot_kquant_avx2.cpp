// AVX2 dot products of the K-quants with Q8_K activations. Lane layout and float order match
// vec_dot_kquant_scalar.cpp exactly (see there): per super-block, 8 int32 lanes of
// scale * (4-element dot), one FMA with d * y.d, min terms in a separate scalar accumulator.
#include "engine/quant/vec_dot_kernels.h"

#if defined(ZINFER_QUANT_AVX2)

#include "engine/quant/block_types.h"
#include "engine/quant/fp16.h"
#include "engine/quant/simd_avx2.h"

namespace zinfer::quant::detail {
namespace {

// (v >> shift) & mask on every byte; the 16-bit shift leaks bits across bytes only above the
// mask.
inline __m256i bits_at(__m256i v, int shift, int mask) {
  return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(shift)),
                          _mm256_set1_epi8(static_cast<char>(mask)));
}

inline __m256i shl_bytes(__m256i v, int shift) {
  return _mm256_sll_epi16(v, _mm_cvtsi32_si128(shift));
}

}  // namespace

float dot_q2_k_avx2(std::int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  __m256 acc = _mm256_setzero_ps();
  float acc_min = 0.0f;
  for (std::int64_t i = 0; i < n / kQKK; ++i) {
    std::int32_t msum = 0;
    for (int k = 0; k < 16; ++k) msum += (x[i].scales[k] >> 4) * y[i].bsums[k];
    __m256i lanes = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i q = avx2_load(x[i].qs + 32 * h);
      for (int gi = 0; gi < 4; ++gi) {
        const int g = 4 * h + gi;
        const __m256i u = bits_at(q, 2 * gi, 3);
        lanes = _mm256_add_epi32(
            lanes, avx2_dot_us8_scaled(u, avx2_load(y[i].qs + 32 * g), x[i].scales[2 * g] & 0x0f,
                                       x[i].scales[2 * g + 1] & 0x0f));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_to_f32(x[i].d) * y[i].d), _mm256_cvtepi32_ps(lanes),
                          acc);
    acc_min = std::fma(fp16_to_f32(x[i].dmin) * y[i].d, static_cast<float>(msum), acc_min);
  }
  return avx2_hsum8(acc) - acc_min;
}

float dot_q3_k_avx2(std::int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  __m256 acc = _mm256_setzero_ps();
  std::int8_t scales[16];
  for (std::int64_t i = 0; i < n / kQKK; ++i) {
    unpack_q3k_scales(x[i].scales, scales);
    __m256i lanes = _mm256_setr_epi32(-4 * weighted_bsums(y[i].bsums, scales), 0, 0, 0, 0, 0, 0, 0);
    const __m256i hm = avx2_load(x[i].hmask);
    for (int h = 0; h < 2; ++h) {
      const __m256i q = avx2_load(x[i].qs + 32 * h);
      for (int gi = 0; gi < 4; ++gi) {
        const int g = 4 * h + gi;
        const __m256i u = _mm256_or_si256(bits_at(q, 2 * gi, 3), shl_bytes(bits_at(hm, g, 1), 2));
        lanes = _mm256_add_epi32(lanes, avx2_dot_us8_scaled(u, avx2_load(y[i].qs + 32 * g),
                                                            scales[2 * g], scales[2 * g + 1]));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_to_f32(x[i].d) * y[i].d), _mm256_cvtepi32_ps(lanes),
                          acc);
  }
  return avx2_hsum8(acc);
}

namespace {

template <typename Block, bool kFiveBit>
float dot_k4_avx2(std::int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const Block*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  __m256 acc = _mm256_setzero_ps();
  float acc_min = 0.0f;
  std::uint8_t sc[8], mn[8];
  for (std::int64_t i = 0; i < n / kQKK; ++i) {
    unpack_k4_scales(x[i].scales, sc, mn);
    std::int32_t msum = 0;
    for (int g = 0; g < 8; ++g) msum += mn[g] * (y[i].bsums[2 * g] + y[i].bsums[2 * g + 1]);
    __m256i lanes = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i q = avx2_load(x[i].qs + 32 * j);
      __m256i lo = _mm256_and_si256(q, _mm256_set1_epi8(0x0f));
      __m256i hi = bits_at(q, 4, 0x0f);
      if constexpr (kFiveBit) {
        const __m256i qh = avx2_load(x[i].qh);
        lo = _mm256_or_si256(lo, shl_bytes(bits_at(qh, 2 * j, 1), 4));
        hi = _mm256_or_si256(hi, shl_bytes(bits_at(qh, 2 * j + 1, 1), 4));
      }
      lanes = _mm256_add_epi32(
          lanes, avx2_dot_us8_scaled(lo, avx2_load(y[i].qs + 64 * j), sc[2 * j], sc[2 * j]));
      lanes = _mm256_add_epi32(lanes, avx2_dot_us8_scaled(hi, avx2_load(y[i].qs + 64 * j + 32),
                                                          sc[2 * j + 1], sc[2 * j + 1]));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_to_f32(x[i].d) * y[i].d), _mm256_cvtepi32_ps(lanes),
                          acc);
    acc_min = std::fma(fp16_to_f32(x[i].dmin) * y[i].d, static_cast<float>(msum), acc_min);
  }
  return avx2_hsum8(acc) - acc_min;
}

}  // namespace

float dot_q4_k_avx2(std::int64_t n, const void* w, const void* a) {
  return dot_k4_avx2<BlockQ4_K, false>(n, w, a);
}
float dot_q5_k_avx2(std::int64_t n, const void* w, const void* a) {
  return dot_k4_avx2<BlockQ5_K, true>(n, w, a);
}

float dot_q6_k_avx2(std::int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < n / kQKK; ++i) {
    __m256i lanes =
        _mm256_setr_epi32(-32 * weighted_bsums(y[i].bsums, x[i].scales), 0, 0, 0, 0, 0, 0, 0);
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = avx2_load(x[i].ql + 64 * h);
      const __m256i ql1 = avx2_load(x[i].ql + 64 * h + 32);
      const __m256i qh = avx2_load(x[i].qh + 32 * h);
      const __m256i u[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, _mm256_set1_epi8(0x0f)),
                          shl_bytes(bits_at(qh, 0, 3), 4)),
          _mm256_or_si256(_mm256_and_si256(ql1, _mm256_set1_epi8(0x0f)),
                          shl_bytes(bits_at(qh, 2, 3), 4)),
          _mm256_or_si256(bits_at(ql0, 4, 0x0f), shl_bytes(bits_at(qh, 4, 3), 4)),
          _mm256_or_si256(bits_at(ql1, 4, 0x0f), shl_bytes(bits_at(qh, 6, 3), 4)),
      };
      for (int gi = 0; gi < 4; ++gi) {
        const int g = 4 * h + gi;
        lanes = _mm256_add_epi32(
            lanes, avx2_dot_us8_scaled(u[gi], avx2_load(y[i].qs + 32 * g), x[i].scales[2 * g],
                                       x[i].scales[2 * g + 1]));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_to_f32(x[i].d) * y[i].d), _mm256_cvtepi32_ps(lanes),
                          acc);
  }
  return avx2_hsum8(acc);
}

}  // namespace zinfer::quant::detail

#endif  // ZINFER_QUANT_AVX2
