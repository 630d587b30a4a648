// Activation quantizers (see act_quant.h): Q8_0, Q8_1 (two ggml rules), Q8_K, F16, BF16, F32.
#include "engine/quant/act_quant.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "engine/quant/block_types.h"
#include "engine/quant/fp16.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace zinfer::quant {
namespace {

struct Q8Scale {
  float d;   // block scale before fp16 rounding (also used for Q8_1's s)
  float id;  // multiplier applied to x
};

Q8Scale q8_scale(float amax, ActQuantRule rule) {
  const float d = amax / 127.0f;
  if (rule == ActQuantRule::kGgmlSimd) return {d, amax != 0.0f ? 127.0f / amax : 0.0f};
  return {d, d != 0.0f ? 1.0f / d : 0.0f};
}

// Quantizes one block of 32 into qs; returns the scale and the sum of the quants.
struct Q8BlockResult {
  float d;
  int sum;
};

Q8BlockResult quantize_block_q8_scalar(const float* x, std::int8_t* qs, ActQuantRule rule) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  const Q8Scale s = q8_scale(amax, rule);
  int sum = 0;
  for (int j = 0; j < kQK; ++j) {
    const float v = x[j] * s.id;
    // Half to even (x86 ROUNDPS "nearest") versus C roundf's half away from zero.
    const int q =
        static_cast<int>(rule == ActQuantRule::kGgmlSimd ? std::nearbyint(v) : std::round(v));
    qs[j] = static_cast<std::int8_t>(q);
    sum += q;
  }
  return {s.d, sum};
}

void quantize_q8_0_scalar(const float* x, void* dst, std::int64_t nb, ActQuantRule rule) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (std::int64_t i = 0; i < nb; ++i) {
    y[i].d = f32_to_fp16(quantize_block_q8_scalar(x + i * kQK, y[i].qs, rule).d);
  }
}

void quantize_q8_1_scalar(const float* x, void* dst, std::int64_t nb, ActQuantRule rule) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (std::int64_t i = 0; i < nb; ++i) {
    const Q8BlockResult r = quantize_block_q8_scalar(x + i * kQK, y[i].qs, rule);
    y[i].d = f32_to_fp16(r.d);
    y[i].s = f32_to_fp16(static_cast<float>(r.sum) * r.d);
  }
}

// ggml's quantize_row_q8_K_ref: the scale is taken from the signed value of largest
// magnitude (first one on ties) so that it maps to exactly -127.
void quantize_q8_k(const float* x, void* dst, std::int64_t nb) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  for (std::int64_t i = 0; i < nb; ++i, x += kQKK) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQKK; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQKK; ++j) {
      const int v = static_cast<int>(std::nearbyint(iscale * x[j]));
      y[i].qs[j] = static_cast<std::int8_t>(std::min(127, v));
    }
    for (int j = 0; j < kQKK / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * j + l];
      y[i].bsums[j] = static_cast<std::int16_t>(sum);
    }
    y[i].d = 1.0f / iscale;
  }
}

void convert_f16_scalar(const float* x, void* dst, std::int64_t n) {
  auto* y = static_cast<std::uint16_t*>(dst);
  for (std::int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}

void convert_bf16(const float* x, void* dst, std::int64_t n) {
  auto* y = static_cast<std::uint16_t*>(dst);
  for (std::int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

#if defined(__AVX2__)
// One block of 32 with the SIMD rule: returns d and writes the quants; *sum gets their sum.
float quantize_block_q8_avx2(const float* x, std::int8_t* qs, int* sum) {
  __m256 v0 = _mm256_loadu_ps(x);
  __m256 v1 = _mm256_loadu_ps(x + 8);
  __m256 v2 = _mm256_loadu_ps(x + 16);
  __m256 v3 = _mm256_loadu_ps(x + 24);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1));
  m = _mm256_max_ps(m, _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float amax = _mm_cvtss_f32(m4);
  const Q8Scale s = q8_scale(amax, ActQuantRule::kGgmlSimd);
  const __m256 id = _mm256_set1_ps(s.id);
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, id), kRound));
  const __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, id), kRound));
  const __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, id), kRound));
  const __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, id), kRound));
  if (sum != nullptr) {
    const __m256i s8 = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
    s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
    *sum = _mm_cvtsi128_si32(s4);
  }
  // packs work per 128-bit lane; the final permute restores element order.
  const __m256i p16a = _mm256_packs_epi32(i0, i1);
  const __m256i p16b = _mm256_packs_epi32(i2, i3);
  const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
  const __m256i ordered =
      _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), ordered);
  return s.d;
}

void quantize_q8_0_avx2(const float* x, void* dst, std::int64_t nb) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (std::int64_t i = 0; i < nb; ++i) {
    y[i].d = f32_to_fp16(quantize_block_q8_avx2(x + i * kQK, y[i].qs, nullptr));
  }
}

void quantize_q8_1_avx2(const float* x, void* dst, std::int64_t nb) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (std::int64_t i = 0; i < nb; ++i) {
    int sum = 0;
    const float d = quantize_block_q8_avx2(x + i * kQK, y[i].qs, &sum);
    y[i].d = f32_to_fp16(d);
    y[i].s = f32_to_fp16(static_cast<float>(sum) * d);
  }
}

void convert_f16_avx2(const float* x, void* dst, std::int64_t n) {
  auto* y = static_cast<std::uint16_t*>(dst);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), h);
  }
  for (; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}
#endif

void quantize_impl(GgmlType type, const float* x, void* dst, std::int64_t n, ActQuantRule rule,
                   bool allow_simd) {
  assert(is_act_type(type) && n % traits(type).block_size == 0);
  const std::int64_t nb = n / traits(type).block_size;
#if defined(__AVX2__)
  const bool simd = allow_simd && rule == ActQuantRule::kGgmlSimd;
#else
  (void)allow_simd;
#endif
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, x, static_cast<std::size_t>(n) * sizeof(float));
      return;
    case GgmlType::kF16:
#if defined(__AVX2__)
      if (allow_simd) return convert_f16_avx2(x, dst, n);
#endif
      return convert_f16_scalar(x, dst, n);
    case GgmlType::kBF16:
      return convert_bf16(x, dst, n);
    case GgmlType::kQ8_0:
#if defined(__AVX2__)
      if (simd) return quantize_q8_0_avx2(x, dst, nb);
#endif
      return quantize_q8_0_scalar(x, dst, nb, rule);
    case GgmlType::kQ8_1:
#if defined(__AVX2__)
      if (simd) return quantize_q8_1_avx2(x, dst, nb);
#endif
      return quantize_q8_1_scalar(x, dst, nb, rule);
    case GgmlType::kQ8_K:
      return quantize_q8_k(x, dst, nb);
    default:
      return;
  }
}

}  // namespace

bool is_act_type(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
    case GgmlType::kQ8_0:
    case GgmlType::kQ8_1:
    case GgmlType::kQ8_K:
      return true;
    default:
      return false;
  }
}

std::size_t act_row_size(GgmlType vec_dot_type, std::int64_t n) {
  return row_size(vec_dot_type, n);
}

void quantize_act_row(GgmlType vec_dot_type, const float* x, void* dst, std::int64_t n,
                      ActQuantRule rule) {
  quantize_impl(vec_dot_type, x, dst, n, rule, /*allow_simd=*/true);
}

void quantize_act_row_scalar(GgmlType vec_dot_type, const float* x, void* dst, std::int64_t n,
                             ActQuantRule rule) {
  quantize_impl(vec_dot_type, x, dst, n, rule, /*allow_simd=*/false);
}

}  // namespace zinfer::quant
