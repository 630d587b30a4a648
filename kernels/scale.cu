// scale_kernel: one thread per element; rows on the grid's y axis.
#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/scale.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void scale_kernel(float* x, std::int64_t stride, std::int64_t rows, std::int64_t cols,
                             float s) {
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (c >= cols) return;
  for (std::int64_t r = blockIdx.y; r < rows; r += gridDim.y) x[r * stride + c] *= s;
}

}  // namespace

Status launch_scale(MatrixView x, float s, cudaStream_t stream) {
  if (x.rows == 0 || x.cols == 0) return ok_status();
  scale_kernel<<<grid_2d(x.rows, x.cols, kThreads), kThreads, 0, stream>>>(x.data, x.stride, x.rows,
                                                                           x.cols, s);
  ZINFER_CUDA_LAUNCH_CHECK("scale_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
