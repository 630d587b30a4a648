// gelu_kernel: one thread per element; rows on the grid's y axis.
#include "kernels/activation.cuh"
#include "kernels/cuda_check.h"
#include "kernels/gelu.h"
#include "kernels/launch_util.cuh"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void gelu_kernel(float* x, std::int64_t stride, std::int64_t rows, std::int64_t cols) {
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (c >= cols) return;
  for (std::int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float* p = x + r * stride + c;
    *p = gelu_tanh_f32(*p);
  }
}

}  // namespace

Status launch_gelu(MatrixView x, cudaStream_t stream) {
  if (x.rows == 0 || x.cols == 0) return ok_status();
  gelu_kernel<<<grid_2d(x.rows, x.cols, kThreads), kThreads, 0, stream>>>(x.data, x.stride, x.rows,
                                                                          x.cols);
  ZINFER_CUDA_LAUNCH_CHECK("gelu_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
