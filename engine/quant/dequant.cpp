// Scalar dequantization of every supported block format (see dequant.h).
// Each formula mirrors the operation order of ggml's dequantize_row_* so results are exact.
#include "engine/quant/dequant.h"

#include <array>
#include <cassert>
#include <cstring>

#include "engine/quant/block_types.h"
#include "engine/quant/fp16.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define ZINFER_DEQUANT_AVX2 1
#endif

namespace zinfer::quant {
namespace {

// Every product that feeds an add below (fp16 scale x 5-bit quant, or fp16 x 6-bit scale x 5-bit
// quant) needs at most 22 significant bits, so it is exact in float. Hence a compiler
// contracting d * q + m into an FMA (GCC does under -mfma) cannot change any result: such a
// formula rounds once either way, and the output stays bit-exact with gguf-py.

void dequant_f32(const void* src, float* y, std::int64_t nb) {
  std::memcpy(y, src, static_cast<std::size_t>(nb) * sizeof(float));
}

void dequant_f16(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const std::uint16_t*>(src);
  for (std::int64_t i = 0; i < nb; ++i) y[i] = fp16_to_f32(x[i]);
}

void dequant_bf16(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const std::uint16_t*>(src);
  for (std::int64_t i = 0; i < nb; ++i) y[i] = bf16_to_f32(x[i]);
}

void dequant_q4_0(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ4_0*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * static_cast<float>((x[i].qs[j] & 0x0f) - 8);
      y[j + kQK / 2] = d * static_cast<float>((x[i].qs[j] >> 4) - 8);
    }
  }
}

void dequant_q4_1(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ4_1*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_f32(x[i].d);
    const float m = fp16_to_f32(x[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * static_cast<float>(x[i].qs[j] & 0x0f) + m;
      y[j + kQK / 2] = d * static_cast<float>(x[i].qs[j] >> 4) + m;
    }
  }
}

inline std::uint32_t load_u32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

void dequant_q5_0(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ5_0*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_f32(x[i].d);
    const std::uint32_t qh = load_u32(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      y[j] = d * static_cast<float>(((x[i].qs[j] & 0x0f) | h0) - 16);
      y[j + kQK / 2] = d * static_cast<float>(((x[i].qs[j] >> 4) | h1) - 16);
    }
  }
}

void dequant_q5_1(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ5_1*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_f32(x[i].d);
    const float m = fp16_to_f32(x[i].m);
    const std::uint32_t qh = load_u32(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      y[j] = d * static_cast<float>((x[i].qs[j] & 0x0f) | h0) + m;
      y[j + kQK / 2] = d * static_cast<float>((x[i].qs[j] >> 4) | h1) + m;
    }
  }
}

void dequant_q8_0(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void dequant_q8_1(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ8_1*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

#if defined(ZINFER_DEQUANT_AVX2)
inline __m256i load32(const std::uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
inline __m128i load16(const std::uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// out[0..32) = d * v - m for 32 unsigned bytes v.
inline void store_affine_u8x32(__m256i v, float d, float m, float* out) {
  const __m256 dv = _mm256_set1_ps(d);
  const __m256 mv = _mm256_set1_ps(m);
  const __m128i lo = _mm256_castsi256_si128(v);
  const __m128i hi = _mm256_extracti128_si256(v, 1);
  const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
  for (int k = 0; k < 4; ++k) {
    const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[k]));
    _mm256_storeu_ps(out + 8 * k, _mm256_fmsub_ps(dv, f, mv));
  }
}
#endif

// The K-quant loops below run over 16 or 32 elements that share their shift and scale, so the
// compiler can vectorize them; the per-element formulas are those of gguf-py.

// Groups of 32 elements: group g takes bit pair g%4 of bytes qs[32*(g/4) ...] (Q2_K, Q3_K).
void dequant_q2_k(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ2_K*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = fp16_to_f32(x[i].d);
    const float dmin = fp16_to_f32(x[i].dmin);
    for (int k = 0; k < kQKK / 16; ++k) {  // 16 elements per scale
      const int g = k / 2;
      const std::uint8_t* q = x[i].qs + 32 * (g / 4) + 16 * (k % 2);
      const int shift = 2 * (g % 4);
      const float dl = d * static_cast<float>(x[i].scales[k] & 0x0f);
      const float ml = dmin * static_cast<float>(x[i].scales[k] >> 4);
      float* out = y + 16 * k;
      for (int l = 0; l < 16; ++l) out[l] = dl * static_cast<float>((q[l] >> shift) & 3) - ml;
    }
  }
}

void dequant_q3_k(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ3_K*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = fp16_to_f32(x[i].d);
    std::int8_t scales[16];
    unpack_q3k_scales(x[i].scales, scales);
    for (int k = 0; k < kQKK / 16; ++k) {
      const int g = k / 2;
      const std::uint8_t* q = x[i].qs + 32 * (g / 4) + 16 * (k % 2);
      const std::uint8_t* hm = x[i].hmask + 16 * (k % 2);
      const int shift = 2 * (g % 4);
      const float dl = d * static_cast<float>(scales[k]);
      float* out = y + 16 * k;
      for (int l = 0; l < 16; ++l) {
        // A set high bit means no offset; a clear one subtracts 4.
        const int v = ((q[l] >> shift) & 3) - 4 + 4 * ((hm[l] >> g) & 1);
        out[l] = dl * static_cast<float>(v);
      }
    }
  }
}

// Q4_K and Q5_K: sub-block s is nibble s%2 of bytes qs[32*(s/2) ...]; Q5_K adds bit s of qh.
template <typename Block, bool kFiveBit>
void dequant_k4(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const Block*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = fp16_to_f32(x[i].d);
    const float dmin = fp16_to_f32(x[i].dmin);
    std::uint8_t sc[8], mn[8];
    unpack_k4_scales(x[i].scales, sc, mn);
    for (int s = 0; s < 8; ++s) {
      const float d1 = d * static_cast<float>(sc[s]);
      const float m1 = dmin * static_cast<float>(mn[s]);
      const std::uint8_t* q = x[i].qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);
      float* out = y + 32 * s;
#if defined(ZINFER_DEQUANT_AVX2)
      // Same values: d1 * v is exact, so the fused multiply-subtract rounds like the scalar code.
      __m256i v = _mm256_and_si256(_mm256_srl_epi16(load32(q), _mm_cvtsi32_si128(shift)),
                                   _mm256_set1_epi8(0x0f));
      if constexpr (kFiveBit) {
        const __m256i h = _mm256_and_si256(_mm256_srl_epi16(load32(x[i].qh), _mm_cvtsi32_si128(s)),
                                           _mm256_set1_epi8(1));
        v = _mm256_or_si256(v, _mm256_slli_epi16(h, 4));
      }
      store_affine_u8x32(v, d1, m1, out);
#else
      for (int l = 0; l < 32; ++l) {
        int v = (q[l] >> shift) & 0x0f;
        if constexpr (kFiveBit) v |= ((x[i].qh[l] >> s) & 1) << 4;
        out[l] = d1 * static_cast<float>(v) - m1;
      }
#endif
    }
  }
}

void dequant_q4_k(const void* src, float* y, std::int64_t nb) {
  dequant_k4<BlockQ4_K, false>(src, y, nb);
}
void dequant_q5_k(const void* src, float* y, std::int64_t nb) {
  dequant_k4<BlockQ5_K, true>(src, y, nb);
}

// Q6_K: in each half of 128, group g (0..3) takes nibble g/2 of ql[32*(g%2) ...] and bit pair
// g of qh; the scale changes every 16 elements.
void dequant_q6_k(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ6_K*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = fp16_to_f32(x[i].d);
    for (int k = 0; k < kQKK / 16; ++k) {
      const int half = k / 8;
      const int g = (k % 8) / 2;
      const int off = 16 * (k % 2);
      const std::uint8_t* ql = x[i].ql + 64 * half + 32 * (g % 2) + off;
      const std::uint8_t* qh = x[i].qh + 32 * half + off;
      const int lo_shift = 4 * (g / 2);
      const int hi_shift = 2 * g;
      const float d1 = d * static_cast<float>(x[i].scales[k]);
      float* out = y + 16 * k;
#if defined(ZINFER_DEQUANT_AVX2)
      const __m128i lo = _mm_and_si128(_mm_srl_epi16(load16(ql), _mm_cvtsi32_si128(lo_shift)),
                                       _mm_set1_epi8(0x0f));
      const __m128i hi =
          _mm_and_si128(_mm_srl_epi16(load16(qh), _mm_cvtsi32_si128(hi_shift)), _mm_set1_epi8(3));
      const __m128i v = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
      const __m256 dv = _mm256_set1_ps(d1);
      _mm256_storeu_ps(out, _mm256_mul_ps(dv, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v))));
      _mm256_storeu_ps(
          out + 8,
          _mm256_mul_ps(dv, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)))));
#else
      for (int l = 0; l < 16; ++l) {
        const int v = (((ql[l] >> lo_shift) & 0x0f) | (((qh[l] >> hi_shift) & 3) << 4)) - 32;
        out[l] = d1 * static_cast<float>(v);
      }
#endif
    }
  }
}

void dequant_q8_k(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ8_K*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQKK) {
    for (int j = 0; j < kQKK; ++j) y[j] = x[i].d * static_cast<float>(x[i].qs[j]);
  }
}

void dequant_mxfp4(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockMXFP4*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = e8m0_to_f32_half(x[i].e);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * static_cast<float>(kMxfp4Values[x[i].qs[j] & 0x0f]);
      y[j + kQK / 2] = d * static_cast<float>(kMxfp4Values[x[i].qs[j] >> 4]);
    }
  }
}

using DequantFn = void (*)(const void*, float*, std::int64_t n_blocks);

// Indexed by the raw ggml type id.
constexpr std::array<DequantFn, 40> make_table() {
  std::array<DequantFn, 40> t{};
  t[static_cast<int>(GgmlType::kF32)] = dequant_f32;
  t[static_cast<int>(GgmlType::kF16)] = dequant_f16;
  t[static_cast<int>(GgmlType::kBF16)] = dequant_bf16;
  t[static_cast<int>(GgmlType::kQ4_0)] = dequant_q4_0;
  t[static_cast<int>(GgmlType::kQ4_1)] = dequant_q4_1;
  t[static_cast<int>(GgmlType::kQ5_0)] = dequant_q5_0;
  t[static_cast<int>(GgmlType::kQ5_1)] = dequant_q5_1;
  t[static_cast<int>(GgmlType::kQ8_0)] = dequant_q8_0;
  t[static_cast<int>(GgmlType::kQ8_1)] = dequant_q8_1;
  t[static_cast<int>(GgmlType::kQ2_K)] = dequant_q2_k;
  t[static_cast<int>(GgmlType::kQ3_K)] = dequant_q3_k;
  t[static_cast<int>(GgmlType::kQ4_K)] = dequant_q4_k;
  t[static_cast<int>(GgmlType::kQ5_K)] = dequant_q5_k;
  t[static_cast<int>(GgmlType::kQ6_K)] = dequant_q6_k;
  t[static_cast<int>(GgmlType::kQ8_K)] = dequant_q8_k;
  t[static_cast<int>(GgmlType::kMXFP4)] = dequant_mxfp4;
  return t;
}

constexpr std::array<DequantFn, 40> kDequant = make_table();

DequantFn lookup(GgmlType type) {
  const auto id = static_cast<std::uint32_t>(type);
  return id < kDequant.size() ? kDequant[id] : nullptr;
}

}  // namespace

bool can_dequantize(GgmlType type) { return lookup(type) != nullptr; }

void dequantize_row(GgmlType type, const void* src, float* dst, std::int64_t n) {
  const DequantFn fn = lookup(type);
  const std::int64_t bs = traits(type).block_size;
  assert(fn != nullptr && n % bs == 0);
  if (fn == nullptr) return;
  fn(src, dst, n / bs);
}

}  // namespace zinfer::quant
