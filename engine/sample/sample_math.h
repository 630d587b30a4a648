// The float arithmetic that decides a sampled token, written once for the host sampler and
// the CUDA sampler (kernels/sample_rows.cu), so both compute bit-identical values.
//
// Contraction: GCC contracts a*b+c into an FMA under C++'s default -ffp-contract=fast when
// -mfma is on (and not otherwise); nvcc contracts by default. So every multiply that feeds an
// add is written as an explicit fmaf (correctly rounded on every target), and no plain
// product here feeds an add or subtract: the result cannot depend on the compiler or flags.
//
// Fixed-point weights: the top-p cut and the draw add up exp weights. A double sum depends on
// its association order, which a parallel device reduction cannot share with the host's
// sequential walk; an integer sum does not. So each weight w in [0, 1] becomes
// fixed_weight(w) = trunc(w * 2^40) and every mass is an exact int64 sum (no overflow for
// vocabularies below 2^23 tokens). A token whose weight is below 2^-40 of the top token's
// counts as 0 — it is never drawn (its probability was below ~1e-12; the uniform draw itself
// has only 24 bits).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define ZINFER_SAMPLE_HD __host__ __device__ __forceinline__
#else
#define ZINFER_SAMPLE_HD inline
#endif

namespace zinfer::sample {

namespace sample_math_detail {

// Cody-Waite ln 2 split and the Cephes expf polynomial.
inline constexpr float kExpMin = -87.3365447f;  // ln(FLT_MIN): below it exp gives 0
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;
inline constexpr float kLn2Lo = -2.12194440e-4f;
inline constexpr float kP0 = 1.9875691500e-4f;
inline constexpr float kP1 = 1.3981999507e-3f;
inline constexpr float kP2 = 8.3334519073e-3f;
inline constexpr float kP3 = 4.1665795894e-2f;
inline constexpr float kP4 = 1.6666665459e-1f;
inline constexpr float kP5 = 5.0000001201e-1f;

ZINFER_SAMPLE_HD float fmul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

ZINFER_SAMPLE_HD float fadd(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

ZINFER_SAMPLE_HD float bits_to_float(std::int32_t bits) {
#if defined(__CUDA_ARCH__)
  return __int_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
#endif
}

}  // namespace sample_math_detail

// exp(x) for x <= 0 (callers subtract the max first), within ~2 ulp. Inputs below
// ln(FLT_MIN) = -87.34 (including -inf) give exactly 0, so masked tokens weigh nothing;
// inputs above 0 are clamped to 0. Cody-Waite reduction x = n ln2 + r, the Cephes expf
// polynomial on |r| <= ln2 / 2, then scaling by 2^n built in the exponent bits.
// vec_math.h's exp_nonpositive8 is the same computation, 8 lanes at a time.
ZINFER_SAMPLE_HD float exp_nonpositive(float x) {
  using namespace sample_math_detail;
  const bool underflow = x < kExpMin;
  float xc = underflow ? kExpMin : x;
  xc = xc > 0.0f ? 0.0f : xc;
  // round(xc * log2 e) for non-positive values: truncation of (v - 0.5) rounds half down.
  const auto n = static_cast<std::int32_t>(fmaf(xc, kLog2e, -0.5f));
  const auto nf = static_cast<float>(n);
  float r = fmaf(nf, -kLn2Hi, xc);
  r = fmaf(nf, -kLn2Lo, r);
  float p = kP0;
  p = fmaf(p, r, kP1);
  p = fmaf(p, r, kP2);
  p = fmaf(p, r, kP3);
  p = fmaf(p, r, kP4);
  p = fmaf(p, r, kP5);
  const float y = fadd(fmaf(fmul(p, r), r, r), 1.0f);
  const float scale = bits_to_float((n + 127) << 23);
  return underflow ? 0.0f : fmul(y, scale);
}

// Fixed-point weights (see the top of this file).
inline constexpr int kWeightFractionBits = 40;
inline constexpr std::int64_t kMaxFixedWeightVocab = std::int64_t{1} << 23;

// trunc(w * 2^40) for w in [0, 1] (the product is exact: a power-of-two scaling).
ZINFER_SAMPLE_HD std::int64_t fixed_weight(float w) {
  return static_cast<std::int64_t>(sample_math_detail::fmul(w, 1099511627776.0f));
}

}  // namespace zinfer::sample
