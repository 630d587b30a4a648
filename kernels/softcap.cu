// softcap_kernel: one thread per element; multiplies by 1/cap like CpuOps.
#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/softcap.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void softcap_kernel(float* x, std::int64_t stride, std::int64_t rows, std::int64_t cols,
                               float cap, float inv) {
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (c >= cols) return;
  for (std::int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float* p = x + r * stride + c;
    *p = cap * tanhf(*p * inv);
  }
}

}  // namespace

Status launch_softcap(MatrixView x, float cap, cudaStream_t stream) {
  if (!(cap > 0.0f)) return make_error(ErrorCode::kInvalidParameter, "softcap: cap must be > 0");
  if (x.rows == 0 || x.cols == 0) return ok_status();
  softcap_kernel<<<grid_2d(x.rows, x.cols, kThreads), kThreads, 0, stream>>>(
      x.data, x.stride, x.rows, x.cols, cap, 1.0f / cap);
  ZINFER_CUDA_LAUNCH_CHECK("softcap_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
