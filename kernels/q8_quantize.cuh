// Device pieces of activation quantization, shared by the quantize kernels (q8_act.cu) and
// the matvec prologue that quantizes a single row into shared memory (q8_matvec.cu), so both
// produce the same bytes by construction:
//   quantize_group<kKind>  one warp quantizes elements 256g .. 256g + 255 of a row into the
//                          q8_act_layout.h layout, eight consecutive elements a lane: one Q8_K
//                          block, or eight Q8_0 / Q8_1 / Q16 blocks of 32 (four lanes each).
//                          Maxima and integer sums are order-free and the per-element arithmetic
//                          is the CPU's (one float multiply, round half to even), so the bytes
//                          are quantize_act_row's (quantize_q16_row's for Q16)
//   rms_sum_squares        Σ x² of a row in the order of a 256-thread block_sum (each of 256
//                          virtual threads sums i ≡ t mod 256 in double, butterflies per
//                          virtual warp, then the 8 warp sums in order), from blocks of 128 or
//                          256 threads alike
//   rms_scale              1 / sqrt(mean + eps) as rms_norm_kernel computes it
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/launch_util.cuh"
#include "kernels/q8_act_layout.h"

namespace zinfer::cuda::q8 {

// Block formats: Q8_0/Q8_1 and Q16 blocks of 32, Q8_K blocks of 256.
enum Kind { kQ8Small = 0, kQ8K = 1, kQ16 = 2 };

inline Kind kind_of(const Q8ActLayout& l) {
  if (l.q16) return kQ16;
  return l.type == GgmlType::kQ8_K ? kQ8K : kQ8Small;
}

// The fp16 rounding of a float, as a float (what the CPU stores and later widens).
__device__ __forceinline__ float fp16_round(float v) { return __half2float(__float2half_rn(v)); }

// Eight int8 values packed little-endian.
__device__ __forceinline__ uint2 pack8(const int (&q)[8]) {
  uint2 r;
  r.x = (q[0] & 0xff) | ((q[1] & 0xff) << 8) | ((q[2] & 0xff) << 16) |
        (static_cast<unsigned>(q[3] & 0xff) << 24);
  r.y = (q[4] & 0xff) | ((q[5] & 0xff) << 8) | ((q[6] & 0xff) << 16) |
        (static_cast<unsigned>(q[7] & 0xff) << 24);
  return r;
}

// Largest magnitude over the four lanes of a 32-element block (lanes 4i .. 4i + 3).
__device__ __forceinline__ float block32_amax(const float (&v)[8]) {
  float amax = 0.0f;
#pragma unroll
  for (int j = 0; j < 8; ++j) amax = fmaxf(amax, fabsf(v[j]));
  amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
  return fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
}

// Q8_0 / Q8_1: elements e0 .. e0 + 7 (this lane's quarter of block e0 / 32).
__device__ __forceinline__ void quantize8_q8(const float (&v)[8], bool valid, int lane,
                                             const Q8ActLayout& l, std::uint8_t* row,
                                             std::int64_t e0) {
  const float amax = block32_amax(v);
  const float d = __fdiv_rn(amax, 127.0f);
  const float id = amax != 0.0f ? __fdiv_rn(127.0f, amax) : 0.0f;
  int q[8];
  int sum = 0;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    q[j] = __float2int_rn(__fmul_rn(v[j], id));
    sum += q[j];
  }
  sum += __shfl_xor_sync(0xffffffffu, sum, 1);
  sum += __shfl_xor_sync(0xffffffffu, sum, 2);
  if (!valid) return;
  *reinterpret_cast<uint2*>(row + e0) = pack8(q);
  if (lane % 4 == 0) {
    const std::int64_t b = e0 / 32;
    reinterpret_cast<float*>(row + l.d_off)[b] = fp16_round(d);
    if (l.type == quant::GgmlType::kQ8_1) {
      reinterpret_cast<float*>(row + l.s_off)[b] =
          fp16_round(__fmul_rn(static_cast<float>(sum), d));
    }
  }
}

// Q16 (q8_dot.cuh): elements e0 .. e0 + 7: two int8 planes, a float scale per 32, the sums of
// each 16 quants.
__device__ __forceinline__ void quantize8_q16(const float (&v)[8], bool valid, int lane,
                                              const Q8ActLayout& l, std::uint8_t* row,
                                              std::int64_t e0) {
  const float amax = block32_amax(v);
  const float id = amax != 0.0f ? __fdiv_rn(kQ16Max, amax) : 0.0f;
  int hi[8], lo[8];
  int sum = 0;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const int q = max(-32639, min(32639, __float2int_rn(__fmul_rn(v[j], id))));
    const auto low = static_cast<std::int8_t>(static_cast<std::uint8_t>(q & 0xff));
    lo[j] = low;
    hi[j] = (q - low) / 256;
    sum += q;
  }
  sum += __shfl_xor_sync(0xffffffffu, sum, 1);  // lanes 2i, 2i + 1: one 16-element sum
  if (!valid) return;
  *reinterpret_cast<uint2*>(row + e0) = pack8(hi);
  *reinterpret_cast<uint2*>(row + l.lo_off + e0) = pack8(lo);
  if (lane % 2 == 0) reinterpret_cast<std::int32_t*>(row + l.qsum_off)[e0 / 16] = sum;
  if (lane % 4 == 0) reinterpret_cast<float*>(row + l.d_off)[e0 / 32] = __fdiv_rn(amax, kQ16Max);
}

// Quantizes one 256-element Q8_K block: lane i holds elements 8i .. 8i + 7 in v.
__device__ __forceinline__ void quantize_block256(const float (&v)[8], int lane,
                                                  const Q8ActLayout& l, std::uint8_t* row,
                                                  std::int64_t b) {
  // The signed value of largest magnitude, the first one on ties (quantize_row_q8_K_ref).
  float amax = 0.0f, max = 0.0f;
  int idx = 0x7fffffff;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const float ax = fabsf(v[j]);
    if (ax > amax) {
      amax = ax;
      max = v[j];
      idx = 8 * lane + j;
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float a2 = __shfl_xor_sync(0xffffffffu, amax, o);
    const float m2 = __shfl_xor_sync(0xffffffffu, max, o);
    const int i2 = __shfl_xor_sync(0xffffffffu, idx, o);
    if (a2 > amax || (a2 == amax && i2 < idx)) {
      amax = a2;
      max = m2;
      idx = i2;
    }
  }
  auto* qs = reinterpret_cast<std::int8_t*>(row) + 256 * b + 8 * lane;
  auto* bsums = reinterpret_cast<std::int16_t*>(row + l.bsums_off) + 16 * b;
  if (amax == 0.0f) {
#pragma unroll
    for (int j = 0; j < 8; ++j) qs[j] = 0;
    if (lane % 2 == 0) bsums[lane / 2] = 0;
    if (lane == 0) reinterpret_cast<float*>(row + l.d_off)[b] = 0.0f;
    return;
  }
  const float iscale = __fdiv_rn(-127.0f, max);
  int sum = 0;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const int q = min(127, __float2int_rn(__fmul_rn(iscale, v[j])));
    qs[j] = static_cast<std::int8_t>(q);
    sum += q;
  }
  sum += __shfl_xor_sync(0xffffffffu, sum, 1);  // lanes 2i, 2i + 1: one 16-element sum
  if (lane % 2 == 0) bsums[lane / 2] = static_cast<std::int16_t>(sum);
  if (lane == 0) reinterpret_cast<float*>(row + l.d_off)[b] = __fdiv_rn(1.0f, iscale);
}

// Σ x[i]² for i < k in the order described above. blockDim.x: 128 or 256. scratch: 8 doubles
// in shared memory. Every thread gets the total; the block synchronizes.
__device__ __forceinline__ double rms_sum_squares(const float* x, std::int64_t k, double* scratch) {
  constexpr int kVirtual = 256;
  const int nt = static_cast<int>(blockDim.x);
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp = static_cast<int>(threadIdx.x) / 32;
  __syncthreads();  // scratch may still be read by a previous call
  for (int j = 0; j < kVirtual / nt; ++j) {
    const int v = static_cast<int>(threadIdx.x) + j * nt;
    double s = 0.0;
    for (std::int64_t i = v; i < k; i += kVirtual) s += static_cast<double>(__fmul_rn(x[i], x[i]));
    s = warp_sum(s);
    if (lane == 0) scratch[warp + j * (nt / 32)] = s;
  }
  __syncthreads();
  double total = 0.0;
  for (int w = 0; w < kVirtual / 32; ++w) total += scratch[w];
  return total;
}

__device__ __forceinline__ float rms_scale(double sum_squares, std::int64_t k, float eps) {
  const float mean = static_cast<float>(sum_squares / static_cast<double>(k));
  return 1.0f / sqrtf(mean + eps);
}

// The value quantized for element e of a row: x[e], or (x[e]·s)·w[e] with two roundings when
// normalizing (w may be null), as rms_norm_kernel writes it.
__device__ __forceinline__ float norm_value(float x, bool norm, float s, const float* w,
                                            std::int64_t e) {
  if (!norm) return x;
  float v = __fmul_rn(x, s);
  if (w != nullptr) v = __fmul_rn(v, w[e]);
  return v;
}

// Elements 256g + 8·lane .. + 7 of one row (x: the f32 row, any alignment) quantized into
// `row` by one warp; lanes past the end of the row (k is a multiple of 32, of 256 for Q8_K)
// only join the shuffles.
template <int kKind>
__device__ __forceinline__ void quantize_group(const float* x, bool norm, float s, const float* w,
                                               int lane, const Q8ActLayout& l, std::uint8_t* row,
                                               std::int64_t g) {
  const std::int64_t e0 = 256 * g + 8 * lane;
  const bool valid = e0 < l.k;
  float v[8] = {};
  if (valid) {
    if (reinterpret_cast<std::uintptr_t>(x + e0) % 16 == 0) {
      const float4 a = *reinterpret_cast<const float4*>(x + e0);
      const float4 b = *reinterpret_cast<const float4*>(x + e0 + 4);
      v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z;
      v[7] = b.w;
    } else {
#pragma unroll
      for (int j = 0; j < 8; ++j) v[j] = x[e0 + j];
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) v[j] = norm_value(v[j], norm, s, w, e0 + j);
  }
  if constexpr (kKind == kQ8K) {
    quantize_block256(v, lane, l, row, g);
  } else if constexpr (kKind == kQ16) {
    quantize8_q16(v, valid, lane, l, row, e0);
  } else {
    quantize8_q8(v, valid, lane, l, row, e0);
  }
}

// 256-element groups of a row of k elements.
__host__ __device__ inline std::int64_t quant_groups(std::int64_t k) { return (k + 255) / 256; }

}  // namespace zinfer::cuda::q8
