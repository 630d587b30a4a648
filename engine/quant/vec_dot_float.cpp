// Dot products of float weight types with activations of the same type (F32xF32, F16xF16,
// BF16xBF16). Four 8-lane FMA accumulators over chunks of 32, a fixed reduction, then the tail
// in order; the scalar kernels emulate those lanes so both paths return the same bits.
#include <cstdint>

#include "engine/quant/fp16.h"
#include "engine/quant/vec_dot_kernels.h"

#if defined(ZINFER_QUANT_AVX2)
#include "engine/quant/simd_avx2.h"
#endif

namespace zinfer::quant::detail {
namespace {

struct F32Elem {
  static float get(const void* p, std::int64_t i) { return static_cast<const float*>(p)[i]; }
};
struct F16Elem {
  static float get(const void* p, std::int64_t i) {
    return fp16_to_f32(static_cast<const std::uint16_t*>(p)[i]);
  }
};
struct BF16Elem {
  static float get(const void* p, std::int64_t i) {
    return bf16_to_f32(static_cast<const std::uint16_t*>(p)[i]);
  }
};

template <typename Elem>
float dot_lanes_scalar(std::int64_t n, const void* w, const void* a) {
  float acc[32] = {};  // acc[8k + l] = lane l of accumulator k
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int j = 0; j < 32; ++j)
      acc[j] = std::fma(Elem::get(w, i + j), Elem::get(a, i + j), acc[j]);
  }
  Lanes8 r;
  for (int l = 0; l < 8; ++l) r.v[l] = (acc[l] + acc[16 + l]) + (acc[8 + l] + acc[24 + l]);
  float sum = r.hsum();
  for (; i < n; ++i) sum = std::fma(Elem::get(w, i), Elem::get(a, i), sum);
  return sum;
}

}  // namespace

float dot_f32_scalar(std::int64_t n, const void* w, const void* a) {
  return dot_lanes_scalar<F32Elem>(n, w, a);
}
float dot_f16_scalar(std::int64_t n, const void* w, const void* a) {
  return dot_lanes_scalar<F16Elem>(n, w, a);
}
float dot_bf16_scalar(std::int64_t n, const void* w, const void* a) {
  return dot_lanes_scalar<BF16Elem>(n, w, a);
}

#if defined(ZINFER_QUANT_AVX2)
namespace {

struct F32Load {
  static __m256 load(const void* p, std::int64_t i) {
    return _mm256_loadu_ps(static_cast<const float*>(p) + i);
  }
};
struct F16Load {
  static __m256 load(const void* p, std::int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(
        reinterpret_cast<const __m128i*>(static_cast<const std::uint16_t*>(p) + i)));
  }
};
struct BF16Load {
  static __m256 load(const void* p, std::int64_t i) {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const std::uint16_t*>(p) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
};

template <typename Load, typename Elem>
float dot_lanes_avx2(std::int64_t n, const void* w, const void* a) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k)
      acc[k] = _mm256_fmadd_ps(Load::load(w, i + 8 * k), Load::load(a, i + 8 * k), acc[k]);
  }
  const __m256 r = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
  float sum = avx2_hsum8(r);
  for (; i < n; ++i) sum = std::fma(Elem::get(w, i), Elem::get(a, i), sum);
  return sum;
}

}  // namespace

float dot_f32_avx2(std::int64_t n, const void* w, const void* a) {
  return dot_lanes_avx2<F32Load, F32Elem>(n, w, a);
}
float dot_f16_avx2(std::int64_t n, const void* w, const void* a) {
  return dot_lanes_avx2<F16Load, F16Elem>(n, w, a);
}
float dot_bf16_avx2(std::int64_t n, const void* w, const void* a) {
  return dot_lanes_avx2<BF16Load, BF16Elem>(n, w, a);
}
#endif

}  // namespace zinfer::quant::detail
