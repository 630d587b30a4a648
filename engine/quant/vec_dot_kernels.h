// Internal: per-type dot-product kernels behind vec_dot.h, and the lane helpers that let the
// scalar kernels reproduce the AVX2 summation order. Not part of the public API.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "engine/quant/block_types.h"
#include "engine/quant/fp16.h"
#include "engine/quant/ggml_type.h"

namespace zinfer::quant::detail {

// Dot product of one weight row (n elements) with one activation row already in the
// weight type's vec_dot_type.
using VecDotFn = float (*)(std::int64_t n, const void* w, const void* act);

// Portable kernels (always built).
float dot_f32_scalar(std::int64_t n, const void* w, const void* a);
float dot_f16_scalar(std::int64_t n, const void* w, const void* a);
float dot_bf16_scalar(std::int64_t n, const void* w, const void* a);
float dot_q4_0_scalar(std::int64_t n, const void* w, const void* a);
float dot_q4_1_scalar(std::int64_t n, const void* w, const void* a);
float dot_q5_0_scalar(std::int64_t n, const void* w, const void* a);
float dot_q5_1_scalar(std::int64_t n, const void* w, const void* a);
float dot_q8_0_scalar(std::int64_t n, const void* w, const void* a);
float dot_mxfp4_scalar(std::int64_t n, const void* w, const void* a);
float dot_q2_k_scalar(std::int64_t n, const void* w, const void* a);
float dot_q3_k_scalar(std::int64_t n, const void* w, const void* a);
float dot_q4_k_scalar(std::int64_t n, const void* w, const void* a);
float dot_q5_k_scalar(std::int64_t n, const void* w, const void* a);
float dot_q6_k_scalar(std::int64_t n, const void* w, const void* a);

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define ZINFER_QUANT_AVX2 1
float dot_f32_avx2(std::int64_t n, const void* w, const void* a);
// Exact-path (vec_dot_f32) kernels: weight blocks × float activations (vec_dot_float_avx2.cpp).
// Q4_0, Q4_1, Q5_0, Q8_0: out[r] = Σ dequant(row w + r · stride) · x for r < rows, each row's
// FMAs in element order whatever rows is (rows in fours share the activation loads and keep
// four accumulators going); false for any other type.
bool dot_f32_rows_avx2(GgmlType type, std::int64_t n, const void* w, std::size_t stride,
                       std::int64_t rows, const float* x, float* out);
float dot_f16_avx2(std::int64_t n, const void* w, const void* a);
float dot_bf16_avx2(std::int64_t n, const void* w, const void* a);
float dot_q4_0_avx2(std::int64_t n, const void* w, const void* a);
float dot_q4_1_avx2(std::int64_t n, const void* w, const void* a);
float dot_q5_0_avx2(std::int64_t n, const void* w, const void* a);
float dot_q5_1_avx2(std::int64_t n, const void* w, const void* a);
float dot_q8_0_avx2(std::int64_t n, const void* w, const void* a);
float dot_mxfp4_avx2(std::int64_t n, const void* w, const void* a);
float dot_q2_k_avx2(std::int64_t n, const void* w, const void* a);
float dot_q3_k_avx2(std::int64_t n, const void* w, const void* a);
float dot_q4_k_avx2(std::int64_t n, const void* w, const void* a);
float dot_q5_k_avx2(std::int64_t n, const void* w, const void* a);
float dot_q6_k_avx2(std::int64_t n, const void* w, const void* a);
#endif

// Eight float accumulators laid out like one __m256: lane l of a 32-element block holds the
// products of elements 4l..4l+3 (what maddubs+madd produce). Scalar kernels use this so that
// they round exactly like the AVX2 kernels (and like ggml's x86 kernels).
struct Lanes8 {
  float v[8] = {};

  // v[l] = fma(d, float(lane_sum[l]), v[l])
  void fma_block(float d, const std::int32_t* lane_sum) {
    for (int l = 0; l < 8; ++l) v[l] = std::fma(d, static_cast<float>(lane_sum[l]), v[l]);
  }
  // The reduction order of ggml's hsum_float_8.
  float hsum() const {
    const float c0 = v[0] + v[4], c1 = v[1] + v[5], c2 = v[2] + v[6], c3 = v[3] + v[7];
    return (c0 + c2) + (c1 + c3);
  }
};

// lane[l] = sum_{k<4} a[4l+k] * b[4l+k] over a 32-element block.
inline void lane_dots_32(const std::int8_t* a, const std::int8_t* b, std::int32_t* lane) {
  for (int l = 0; l < 8; ++l) {
    std::int32_t s = 0;
    for (int k = 0; k < 4; ++k) s += static_cast<std::int32_t>(a[4 * l + k]) * b[4 * l + k];
    lane[l] = s;
  }
}

// Σ scale·bsum over the 16 sub-blocks of a K-quant super-block: the Q8_K activation's block sums
// weighted by the 16 integer sub-block scales (the offset/min corrections of Q3_K and Q6_K).
inline std::int32_t weighted_bsums(const std::int16_t* bsums, const std::int8_t* scales16) {
  std::int32_t s = 0;
  for (int k = 0; k < kQKK / 16; ++k) s += static_cast<std::int32_t>(scales16[k]) * bsums[k];
  return s;
}

// sumf + d·Σ w·a over one MXFP4 block and its Q8_0 activation block, summed in integers and
// added with one fma: the scalar tail (an odd last block) of both MXFP4 kernels, as in ggml.
inline float mxfp4_block_fma(const BlockMXFP4& x, const BlockQ8_0& y, float sumf) {
  std::int32_t s = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    s += y.qs[j] * kMxfp4Values[x.qs[j] & 0x0f];
    s += y.qs[j + kQK / 2] * kMxfp4Values[x.qs[j] >> 4];
  }
  return std::fma(fp16_to_f32(y.d) * e8m0_to_f32_half(x.e), static_cast<float>(s), sumf);
}

}  // namespace zinfer::quant::detail
