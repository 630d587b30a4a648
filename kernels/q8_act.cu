// quantize_act kernels: one warp per activation block. Q8_0/Q8_1: lane i quantizes element i
// of a 32-element block; Q8_K: lane i takes elements 8i .. 8i + 7 of a 256-element block.
// Maxima are order-free and the per-element arithmetic is the CPU's (one float multiply, round
// half to even), so the bytes equal quantize_act_row's.
#include <cuda_fp16.h>

#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/q8_act.h"

namespace zinfer::cuda {
namespace {

constexpr int kWarps = 8;

// The fp16 rounding of a float, as a float (what the CPU stores and later widens).
__device__ __forceinline__ float fp16_round(float v) { return __half2float(__float2half_rn(v)); }

// One warp per block of the layout: kQ8K: 256 elements, 8 a lane; else 32, one a lane.
template <bool kQ8K>
__global__ void __launch_bounds__(kWarps * 32)
    quantize_act_kernel(const float* in, std::int64_t in_stride, q8::Q8ActLayout l,
                        std::int64_t rows, std::uint8_t* out) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const std::int64_t blk = static_cast<std::int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (blk >= rows * l.nb) return;
  const std::int64_t r = blk / l.nb, b = blk % l.nb;
  if constexpr (!kQ8K) {
    const float x = in[r * in_stride + 32 * b + lane];
    const float amax = warp_max(fabsf(x));
    const float d = __fdiv_rn(amax, 127.0f);
    const float id = amax != 0.0f ? __fdiv_rn(127.0f, amax) : 0.0f;
    const int q = __float2int_rn(__fmul_rn(x, id));
    std::uint8_t* row = out + static_cast<std::size_t>(r) * l.row_bytes;
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
  } else {
    const float* x = in + r * in_stride + 256 * b + 8 * lane;
    float v[8];
    const float4 v0 = reinterpret_cast<const float4*>(x)[0];
    const float4 v1 = reinterpret_cast<const float4*>(x)[1];
    v[0] = v0.x, v[1] = v0.y, v[2] = v0.z, v[3] = v0.w, v[4] = v1.x, v[5] = v1.y, v[6] = v1.z;
    v[7] = v1.w;
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
    std::uint8_t* row = out + static_cast<std::size_t>(r) * l.row_bytes;
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
}

}  // namespace

Status launch_quantize_act(const q8::Q8ActLayout& layout, MatrixView in, std::uint8_t* out,
                           cudaStream_t stream) {
  if (in.cols != layout.k || layout.nb <= 0 ||
      layout.k % (layout.type == quant::GgmlType::kQ8_K ? 256 : 32) != 0) {
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

}  // namespace zinfer::cuda
