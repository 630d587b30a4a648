// topk_softmax_kernel: one thread per row running topk_softmax_row (k passes over the row's
// logits; a router has tens to hundreds of experts and k of 2 to 8, so a row is a few hundred
// comparisons), after adding the router's bias to the row when there is one.
#include <string>

#include "kernels/cuda_check.h"
#include "kernels/moe_math.cuh"
#include "kernels/topk_softmax.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 128;

__global__ void topk_softmax_kernel(MatrixView weights, MatrixView ids, MatrixView logits,
                                    const float* bias) {
  const std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (r >= logits.rows) return;
  float* l = logits.data + r * logits.stride;
  if (bias != nullptr) {
    for (std::int64_t e = 0; e < logits.cols; ++e) l[e] = __fadd_rn(l[e], bias[e]);
  }
  topk_softmax_row(l, static_cast<int>(logits.cols), static_cast<int>(weights.cols),
                   weights.data + r * weights.stride, ids.data + r * ids.stride);
}

}  // namespace

Status launch_topk_softmax(MatrixView weights, MatrixView ids, MatrixView logits, const float* bias,
                           cudaStream_t stream) {
  if (weights.rows != logits.rows || ids.rows != logits.rows || ids.cols != weights.cols ||
      weights.cols <= 0 || weights.cols > logits.cols || logits.cols > 0x7fffffff) {
    return make_error(ErrorCode::kInferenceFailed, "topk_softmax: bad shapes (logits [" +
                                                       std::to_string(logits.rows) + "," +
                                                       std::to_string(logits.cols) + "], k " +
                                                       std::to_string(weights.cols) + ")");
  }
  if (logits.rows == 0) return ok_status();
  const auto blocks = static_cast<unsigned>((logits.rows + kThreads - 1) / kThreads);
  topk_softmax_kernel<<<blocks, kThreads, 0, stream>>>(weights, ids, logits, bias);
  ZINFER_CUDA_LAUNCH_CHECK("topk_softmax_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
