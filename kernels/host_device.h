// Helpers for code that runs both in kernels and in the CPU tests (the per-element math of a
// kernel, unit-tested on the host against CpuOps): ZINFER_HD marks such functions, and the
// *_rn operations are one IEEE operation each, never contracted into an FMA on the device
// (__fmul_rn, ...); on the host they are the plain operators behind a compiler barrier: the
// host build has -mfma and GCC contracts a * b + c into one FMA across inlined calls unless
// the product is opaque to it (a reference computed that way differs from the kernel in the
// last bit).
#pragma once

#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define ZINFER_HD __host__ __device__ __forceinline__
#define ZINFER_UNROLL _Pragma("unroll")
#else
#define ZINFER_HD inline
#define ZINFER_UNROLL
#endif

namespace zinfer::cuda {

#ifndef __CUDA_ARCH__
// The value unchanged, but opaque to the optimizer: no FMA contraction through it.
inline float opaque(float v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+x"(v));
#elif defined(__GNUC__) && defined(__aarch64__)
  asm("" : "+w"(v));
#else
  volatile float keep = v;
  v = keep;
#endif
  return v;
}
#endif

ZINFER_HD float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return opaque(a * b);
#endif
}
ZINFER_HD float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return opaque(a) + opaque(b);
#endif
}
ZINFER_HD float sub_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return opaque(a) - opaque(b);
#endif
}
// a · b + c with one rounding (an IEEE fused multiply-add on both sides).
ZINFER_HD float fma_rn(float a, float b, float c) {
#ifdef __CUDA_ARCH__
  return __fmaf_rn(a, b, c);
#else
  return __builtin_fmaf(a, b, c);
#endif
}
ZINFER_HD float div_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
ZINFER_HD float f32_from_bits(std::uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
#endif
}

}  // namespace zinfer::cuda
