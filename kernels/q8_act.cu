// quantize_act kernels: one warp per activation block (and rms_norm_quantize: RMSNorm first).
// Q8_0/Q8_1: lane i quantizes element i of a 32-element block; Q8_K: lane i takes elements 8i .. 8i
// + 7 of a 256-element block. Maxima are order-free and the per-element arithmetic is the CPU's
// (one float multiply, round half to even), so the bytes equal quantize_act_row's.
#include <cuda_fp16.h>

#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/q8_act.h"

namespace zinfer::cuda {
namespace {

constexpr int kWarps = 8;

// The fp16 rounding of a float, as a float (what the CPU stores and later widens).
__device__ __forceinline__ float fp16_round(float v) { return __half2float(__float2half_rn(v)); }

// Quantizes one 32-element block (Q8_0/Q8_1) of row `row` (layout l): lane i holds element i.
__device__ __forceinline__ void quantize_block32(float x, int lane, const q8::Q8ActLayout& l,
                                                 std::uint8_t* row, std::int64_t b) {
  const float amax = warp_max(fabsf(x));
  const float d = __fdiv_rn(amax, 127.0f);
  const float id = amax != 0.0f ? __fdiv_rn(127.0f, amax) : 0.0f;
  const int q = __float2int_rn(__fmul_rn(x, id));
  reinterpret_cast<std::int8_t*>(row)[32 * b + lane] = static_cast<std::int8_t>(q);
  int sum = q;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  if (lane == 0) {
    reinterpret_cast<float*>(row + l.d_off)[b] = fp16_round(d);
    if (l.type == quant::GgmlType::kQ8_1) {
      reinterpret_cast<float*>(row + l.s_off)[b] =
          fp16_round(__fmul_rn(static_cast<float>(sum), d));
    }
  }
}

// Quantizes one 256-element Q8_K block: lane i holds elements 8i .. 8i + 7 in v.
__device__ __forceinline__ void quantize_block256(const float (&v)[8], int lane,
                                                  const q8::Q8ActLayout& l, std::uint8_t* row,
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

// Q16 (q8_dot.cuh): one 32-element block, lane i holding element i: two int8 planes, a float
// scale, the sums of each 16 quants.
__device__ __forceinline__ void quantize_block16(float x, int lane, const q8::Q8ActLayout& l,
                                                 std::uint8_t* row, std::int64_t b) {
  const float amax = warp_max(fabsf(x));
  const float id = amax != 0.0f ? __fdiv_rn(q8::kQ16Max, amax) : 0.0f;
  const int q = max(-32639, min(32639, __float2int_rn(__fmul_rn(x, id))));
  const auto lo = static_cast<std::int8_t>(static_cast<std::uint8_t>(q & 0xff));
  const std::int64_t e = 32 * b + lane;
  reinterpret_cast<std::int8_t*>(row)[e] = static_cast<std::int8_t>((q - lo) / 256);
  reinterpret_cast<std::int8_t*>(row + l.lo_off)[e] = lo;
  int sum = q;
#pragma unroll
  for (int o = 8; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  if (lane % 16 == 0) reinterpret_cast<std::int32_t*>(row + l.qsum_off)[e / 16] = sum;
  if (lane == 0) reinterpret_cast<float*>(row + l.d_off)[b] = __fdiv_rn(amax, q8::kQ16Max);
}

// Eight consecutive floats (16-byte aligned).
__device__ __forceinline__ void load8(const float* x, float (&v)[8]) {
  const float4 v0 = reinterpret_cast<const float4*>(x)[0];
  const float4 v1 = reinterpret_cast<const float4*>(x)[1];
  v[0] = v0.x, v[1] = v0.y, v[2] = v0.z, v[3] = v0.w, v[4] = v1.x, v[5] = v1.y, v[6] = v1.z;
  v[7] = v1.w;
}

// Block formats of the kernels: Q8_0/Q8_1 and Q16 blocks of 32 (one element a lane), Q8_K
// blocks of 256 (eight a lane).
enum Kind { kQ8Small = 0, kQ8K = 1, kQ16 = 2 };

// Quantizes element(s) of block b of a row; v[0] is the lane's element for 32-blocks.
template <int kKind>
__device__ __forceinline__ void quantize_lane(const float (&v)[8], int lane,
                                              const q8::Q8ActLayout& l, std::uint8_t* row,
                                              std::int64_t b) {
  if constexpr (kKind == kQ8K) {
    quantize_block256(v, lane, l, row, b);
  } else if constexpr (kKind == kQ16) {
    quantize_block16(v[0], lane, l, row, b);
  } else {
    quantize_block32(v[0], lane, l, row, b);
  }
}

// One warp per block of the layout.
template <int kKind>
__global__ void __launch_bounds__(kWarps * 32)
    quantize_act_kernel(const float* in, std::int64_t in_stride, q8::Q8ActLayout l,
                        std::int64_t rows, std::uint8_t* out) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const std::int64_t blk = static_cast<std::int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (blk >= rows * l.nb) return;
  const std::int64_t r = blk / l.nb, b = blk % l.nb;
  std::uint8_t* row = out + static_cast<std::size_t>(r) * l.row_bytes;
  float v[8] = {};
  if constexpr (kKind == kQ8K) {
    load8(in + r * in_stride + 256 * b + 8 * lane, v);
  } else {
    v[0] = in[r * in_stride + 32 * b + lane];
  }
  quantize_lane<kKind>(v, lane, l, row, b);
}

// RMSNorm then quantization, one block per row: the scale as rms_norm_kernel computes it
// (squares summed in double, mean rounded to float), each element (x·s)·w with two roundings,
// then the blocks of the row quantized by the block's warps in turn.
template <int kKind>
__global__ void __launch_bounds__(kWarps * 32)
    rms_norm_quantize_kernel(const float* in, std::int64_t in_stride, const float* w, float eps,
                             q8::Q8ActLayout l, std::uint8_t* out) {
  __shared__ double scratch[32];
  const std::int64_t r = blockIdx.x;
  const float* x = in + r * in_stride;
  double sum = 0.0;
  for (std::int64_t i = threadIdx.x; i < l.k; i += kWarps * 32)
    sum += static_cast<double>(__fmul_rn(x[i], x[i]));
  sum = block_sum(sum, scratch);
  const float mean = static_cast<float>(sum / static_cast<double>(l.k));
  const float s = 1.0f / sqrtf(mean + eps);
  const int lane = static_cast<int>(threadIdx.x) % 32;
  std::uint8_t* row = out + static_cast<std::size_t>(r) * l.row_bytes;
  for (std::int64_t b = threadIdx.x / 32; b < l.nb; b += kWarps) {
    float v[8] = {};
    if constexpr (kKind == kQ8K) {
      const std::int64_t e = 256 * b + 8 * lane;
      load8(x + e, v);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        v[j] = __fmul_rn(v[j], s);
        if (w != nullptr) v[j] = __fmul_rn(v[j], w[e + j]);
      }
    } else {
      const std::int64_t e = 32 * b + lane;
      v[0] = __fmul_rn(x[e], s);
      if (w != nullptr) v[0] = __fmul_rn(v[0], w[e]);
    }
    quantize_lane<kKind>(v, lane, l, row, b);
  }
}

Kind kind_of(const q8::Q8ActLayout& l) {
  if (l.q16) return kQ16;
  return l.type == quant::GgmlType::kQ8_K ? kQ8K : kQ8Small;
}

bool layout_fits(const q8::Q8ActLayout& l, const MatrixView& in) {
  const std::int64_t block = kind_of(l) == kQ8K ? 256 : 32;
  return in.cols == l.k && l.nb > 0 && l.k % block == 0;
}

}  // namespace

Status launch_quantize_act(const q8::Q8ActLayout& layout, MatrixView in, std::uint8_t* out,
                           cudaStream_t stream) {
  if (!layout_fits(layout, in)) {
    return make_error(ErrorCode::kInferenceFailed, "quantize_act: row length does not fit");
  }
  if (in.rows == 0) return ok_status();
  const std::int64_t blocks = in.rows * layout.nb;
  const dim3 grid(static_cast<unsigned>((blocks + kWarps - 1) / kWarps));
  if (layout.type == quant::GgmlType::kQ8_K) {
    quantize_act_kernel<true>
        <<<grid, kWarps * 32, 0, stream>>>(in.data, in.stride, layout, in.rows, out);
  } else {
    quantize_act_kernel<false>
        <<<grid, kWarps * 32, 0, stream>>>(in.data, in.stride, layout, in.rows, out);
  }
  ZINFER_CUDA_LAUNCH_CHECK("quantize_act kernel");
  return ok_status();
}

Status launch_rms_norm_quantize_act(const q8::Q8ActLayout& layout, MatrixView in, const float* w,
                                    float eps, std::uint8_t* out, cudaStream_t stream) {
  if (!layout_fits(layout, in) || in.rows > 0x7fffffff) {
    return make_error(ErrorCode::kInferenceFailed,
                      "rms_norm_quantize_act: row length does not fit");
  }
  if (in.rows == 0) return ok_status();
  const dim3 grid(static_cast<unsigned>(in.rows));
  switch (kind_of(layout)) {
    case kQ8K:
      rms_norm_quantize_kernel<kQ8K>
          <<<grid, kWarps * 32, 0, stream>>>(in.data, in.stride, w, eps, layout, out);
      break;
    case kQ16:
      rms_norm_quantize_kernel<kQ16>
          <<<grid, kWarps * 32, 0, stream>>>(in.data, in.stride, w, eps, layout, out);
      break;
    default:
      rms_norm_quantize_kernel<kQ8Small>
          <<<grid, kWarps * 32, 0, stream>>>(in.data, in.stride, w, eps, layout, out);
  }
  ZINFER_CUDA_LAUNCH_CHECK("rms_norm_quantize_act kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
