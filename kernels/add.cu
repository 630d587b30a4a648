// add_kernel: one thread per element; rows on the grid's y axis.
#include "kernels/add.h"
#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void add_kernel(float* out, std::int64_t os, const float* a, std::int64_t as,
                           const float* b, std::int64_t bs, std::int64_t rows, std::int64_t cols) {
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (c >= cols) return;
  for (std::int64_t r = blockIdx.y; r < rows; r += gridDim.y)
    out[r * os + c] = a[r * as + c] + b[r * bs + c];
}

}  // namespace

Status launch_add(MatrixView out, MatrixView a, MatrixView b, cudaStream_t stream) {
  if (a.rows != b.rows || a.cols != b.cols || out.rows != a.rows || out.cols != a.cols) {
    return make_error(ErrorCode::kInferenceFailed, "add: shape mismatch");
  }
  if (a.rows == 0 || a.cols == 0) return ok_status();
  add_kernel<<<grid_2d(a.rows, a.cols, kThreads), kThreads, 0, stream>>>(
      out.data, out.stride, a.data, a.stride, b.data, b.stride, a.rows, a.cols);
  ZINFER_CUDA_LAUNCH_CHECK("add_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
