// f32 activation rows to fp16 with a power-of-two row scale (f16_act.h).
#include <cuda_fp16.h>

#include <string>

#include "kernels/cuda_check.h"
#include "kernels/f16_act.h"
#include "kernels/pdl.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 256;
// Largest |value| a row keeps after its scale (engine/quant/f16_round.h: kF16RowMax).
constexpr float kRowMax = 32768.0f;

__global__ void __launch_bounds__(kThreads)
    f16_act_kernel(MatrixView x, std::uint16_t* out, float* scale, std::int64_t stride) {
  pdl_wait();
  pdl_launch_dependents();
  const std::int64_t r = blockIdx.x;
  const float* row = x.data + r * x.stride;
  float amax = 0.0f;
  for (std::int64_t i = threadIdx.x; i < x.cols; i += kThreads) amax = fmaxf(amax, fabsf(row[i]));
  __shared__ float warp_max[kThreads / 32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = amax;
  __syncthreads();
  amax = 0.0f;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) amax = fmaxf(amax, warp_max[w]);
  float s = 1.0f;  // the smallest power of two with amax / s <= kRowMax (f16_row_scale)
  while (amax / s > kRowMax && s < 0x1p126f) s *= 2.0f;
  std::uint16_t* o = out + r * stride;
  for (std::int64_t i = threadIdx.x; i < stride; i += kThreads) {
    o[i] = i < x.cols ? __half_as_ushort(__float2half_rn(row[i] / s)) : std::uint16_t{0};
  }
  if (threadIdx.x == 0) scale[r] = s;
}

}  // namespace

Status launch_f16_act(MatrixView x, std::uint16_t* out, float* scale, cudaStream_t stream) {
  if (x.rows < 1 || x.cols < 1 || x.rows > 2147483647 || x.data == nullptr || out == nullptr ||
      scale == nullptr || reinterpret_cast<std::uintptr_t>(out) % 16 != 0) {
    return make_error(ErrorCode::kInferenceFailed, "f16_act: bad shape [" + std::to_string(x.rows) +
                                                       "," + std::to_string(x.cols) +
                                                       "] or unaligned output");
  }
  launch_pdl(f16_act_kernel, dim3(static_cast<unsigned>(x.rows)), dim3(kThreads), 0, stream, x, out,
             scale, f16_act_stride(x.cols));
  ZINFER_CUDA_LAUNCH_CHECK("f16_act_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
