// Small helpers shared by the launchers: grid shapes for row-wise and element-wise kernels
// over strided matrices, and warp reductions.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace zinfer::cuda {

inline constexpr int kMaxGridY = 65535;

// A 2-D grid over [rows][cols]: x covers columns in blocks of `threads`, y covers rows
// (kernels loop over rows beyond kMaxGridY with a gridDim.y stride).
inline dim3 grid_2d(std::int64_t rows, std::int64_t cols, int threads) {
  const auto gx = static_cast<unsigned>((cols + threads - 1) / threads);
  const auto gy =
      static_cast<unsigned>(std::min<std::int64_t>(std::max<std::int64_t>(rows, 1), kMaxGridY));
  return dim3(std::max(gx, 1u), gy, 1);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread
// gets the result. scratch holds 32 values.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* scratch) {
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int n_warps = static_cast<int>(blockDim.x / 32);
  T total = 0;
  for (int w = 0; w < n_warps; ++w) total += scratch[w];
  return total;
}

}  // namespace zinfer::cuda
