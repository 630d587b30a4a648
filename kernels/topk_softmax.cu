// topk_softmax_kernel (launched with launch_pdl, pdl.h): one warp per row — the router's bias added
// to the row first when there is one, then k picks, each the lanes' best candidates (experts lane,
// lane + 32, ...) met by a shuffle tree, and lane 0 writes the ids and the softmax (moe_math.cuh:
// topk_softmax_row's picks and bits; a thread per row took ~18 µs at gpt-oss's 32 experts on an
// H100).
#include <string>

#include "kernels/cuda_check.h"
#include "kernels/moe_math.cuh"
#include "kernels/pdl.h"
#include "kernels/topk_softmax.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kRowsPerBlock = kThreads / 32;

__global__ void topk_softmax_kernel(MatrixView weights, MatrixView ids, MatrixView logits,
                                    const float* bias) {
  pdl_wait();
  pdl_launch_dependents();
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const std::int64_t r =
      static_cast<std::int64_t>(blockIdx.x) * kRowsPerBlock + static_cast<int>(threadIdx.x) / 32;
  if (r >= logits.rows) return;  // the whole warp
  float* l = logits.data + r * logits.stride;
  const auto n = static_cast<int>(logits.cols);
  if (bias != nullptr) {
    for (int e = lane; e < n; e += 32) l[e] = __fadd_rn(l[e], bias[e]);
    __syncwarp();  // the biased logits visible to every lane
  }
  float* id = ids.data + r * ids.stride;
  const auto k = static_cast<int>(weights.cols);
  int prev = -1;
  for (int j = 0; j < k; ++j) {
    int best = topk_lane_best(l, n, prev, lane, 32);
    for (int off = 16; off > 0; off >>= 1) {
      best = topk_first(l, best, __shfl_xor_sync(0xffffffffu, best, off));
    }
    best = __shfl_sync(0xffffffffu, best, 0);   // one pick even where NaNs break the order
    if (best < 0) best = prev >= 0 ? prev : 0;  // only with NaN logits: keep indices valid
    if (lane == 0) id[j] = static_cast<float>(best);
    prev = best;
  }
  if (lane == 0) topk_softmax_weights(l, k, id, weights.data + r * weights.stride);
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
  const auto blocks = static_cast<unsigned>((logits.rows + kRowsPerBlock - 1) / kRowsPerBlock);
  launch_pdl(topk_softmax_kernel, dim3(blocks), dim3(kThreads), 0, stream, weights, ids, logits,
             bias);
  ZINFER_CUDA_LAUNCH_CHECK("topk_softmax_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
