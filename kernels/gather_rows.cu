// gather_rows_kernel: one thread per output element; output rows on the grid's y axis.
#include "kernels/cuda_check.h"
#include "kernels/gather_rows.h"
#include "kernels/launch_util.cuh"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void gather_rows_kernel(float* out, std::int64_t os, const float* in, std::int64_t is,
                                   const std::int32_t* rows, std::int64_t n_rows,
                                   std::int64_t cols) {
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (c >= cols) return;
  for (std::int64_t r = blockIdx.y; r < n_rows; r += gridDim.y)
    out[r * os + c] = in[rows[r] * is + c];
}

}  // namespace

Status launch_gather_rows(MatrixView out, MatrixView in, const std::int32_t* rows,
                          cudaStream_t stream) {
  if (out.cols != in.cols)
    return make_error(ErrorCode::kInferenceFailed, "gather_rows: shape mismatch");
  if (out.rows == 0 || out.cols == 0) return ok_status();
  gather_rows_kernel<<<grid_2d(out.rows, out.cols, kThreads), kThreads, 0, stream>>>(
      out.data, out.stride, in.data, in.stride, rows, out.rows, out.cols);
  ZINFER_CUDA_LAUNCH_CHECK("gather_rows_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
