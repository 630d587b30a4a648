// moe_combine_kernel (moe.h; launch_pdl): one thread per output element, rows on the grid's y axis;
// the k expert outputs of a row are added in slot order, as CpuOps does (o = w₀·y₀, then o +=
// wⱼ·yⱼ, an fma each: what the CPU's contracted loop computes); with accumulate the output's old
// value plus o, as the composed residual add computes it.
#include <string>

#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/moe.h"
#include "kernels/pdl.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void moe_combine_kernel(MatrixView out, MatrixView y, MatrixView weights, MatrixView ids,
                                   std::int32_t n_expert, bool accumulate) {
  pdl_wait();
  pdl_launch_dependents();
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (c >= out.cols) return;
  const auto k = static_cast<int>(weights.cols);
  for (std::int64_t r = blockIdx.y; r < out.rows; r += gridDim.y) {
    const float* wr = weights.data + r * weights.stride;
    const float* ir = ids.data + r * ids.stride;
    float o = 0.0f;
    for (int j = 0; j < k; ++j) {
      if (moe_expert_id(ir[j], n_expert) < 0) continue;  // its slot joined no expert
      const float yj = y.data[(r * k + j) * y.stride + c];
      o = j == 0 ? __fmul_rn(wr[j], yj) : fmaf(wr[j], yj, o);
    }
    float* dst = out.data + r * out.stride + c;
    *dst = accumulate ? __fadd_rn(*dst, o) : o;
  }
}

}  // namespace

Status launch_moe_combine(MatrixView out, MatrixView y, MatrixView weights, MatrixView ids,
                          std::int32_t n_expert, bool accumulate, cudaStream_t stream) {
  if (weights.rows != out.rows || ids.rows != out.rows || ids.cols != weights.cols ||
      y.rows != out.rows * weights.cols || y.cols != out.cols) {
    return make_error(ErrorCode::kInferenceFailed,
                      "moe_combine: bad shapes (out [" + std::to_string(out.rows) + "," +
                          std::to_string(out.cols) + "], k " + std::to_string(weights.cols) + ")");
  }
  if (out.rows == 0 || out.cols == 0) return ok_status();
  launch_pdl(moe_combine_kernel, grid_2d(out.rows, out.cols, kThreads), dim3(kThreads), 0, stream,
             out, y, weights, ids, n_expert, accumulate);
  ZINFER_CUDA_LAUNCH_CHECK("moe_combine_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
