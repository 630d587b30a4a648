// geglu_kernel: one thread per element; rows on the grid's y axis.
#include "kernels/activation.cuh"
#include "kernels/cuda_check.h"
#include "kernels/geglu.h"
#include "kernels/launch_util.cuh"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void geglu_kernel(float* out, std::int64_t os, const float* gate, std::int64_t gs,
                             const float* up, std::int64_t us, std::int64_t rows,
                             std::int64_t cols) {
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (c >= cols) return;
  for (std::int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    out[r * os + c] = gelu_tanh_f32(gate[r * gs + c]) * up[r * us + c];
  }
}

}  // namespace

Status launch_geglu(MatrixView out, MatrixView gate, MatrixView up, cudaStream_t stream) {
  if (gate.rows != up.rows || gate.cols != up.cols || out.rows != gate.rows ||
      out.cols != gate.cols) {
    return make_error(ErrorCode::kInferenceFailed, "geglu: shape mismatch");
  }
  if (gate.rows == 0 || gate.cols == 0) return ok_status();
  geglu_kernel<<<grid_2d(gate.rows, gate.cols, kThreads), kThreads, 0, stream>>>(
      out.data, out.stride, gate.data, gate.stride, up.data, up.stride, gate.rows, gate.cols);
  ZINFER_CUDA_LAUNCH_CHECK("geglu_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
