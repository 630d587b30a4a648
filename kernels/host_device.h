// Helpers for code that runs both in kernels and in the CPU tests (the per-element math of a
// kernel, unit-tested on the host against CpuOps): ZINFER_HD marks such functions, and the
// *_rn operations are one IEEE operation each, never contracted into an FMA on the device
// (__fmul_rn, ...); on the host they are the plain operators.
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

ZINFER_HD float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
ZINFER_HD float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
ZINFER_HD float sub_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
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
