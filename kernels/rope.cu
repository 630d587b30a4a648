// rope_kernel: one thread per (row, rotation pair i); it rebuilds angle i the way CpuOps
// (and ggml's rope cache) does — theta = pos · theta_scale^i by repeated float
// multiplication, YaRN's ramp when enabled (rope_cos_sin) — then rotates pair i of every head
// (of q and then k when both are given).
#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/rope.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 64;

// Rotates pair i (cos c, sin s) of each of n_head heads of one row.
__device__ __forceinline__ void rotate_heads(float* row, int n_head, int i, float c, float s,
                                             const RopeArgs& a) {
  const int half = a.n_rot / 2;
  for (int h = 0; h < n_head; ++h) {
    float* v = row + static_cast<std::int64_t>(h) * a.head_dim;
    const int i0 = a.neox ? i : 2 * i;
    const int i1 = a.neox ? i + half : 2 * i + 1;
    const float x0 = v[i0], x1 = v[i1];
    v[i0] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
    v[i1] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
  }
}

// x2 (n_head2 heads; null when 0) is rotated with the same angles as x.
__global__ void rope_kernel(float* x, std::int64_t stride, float* x2, std::int64_t stride2,
                            int n_head2, std::int64_t rows, const std::int32_t* positions,
                            RopeArgs a) {
  const int half = a.n_rot / 2;
  const int i = static_cast<int>(blockIdx.x) * kThreads + static_cast<int>(threadIdx.x);
  if (i >= half) return;
  for (std::int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float c = 1.0f, s = 0.0f;
    rope_cos_sin(static_cast<float>(positions[r]), i, a.angle, c, s);
    rotate_heads(x + r * stride, a.n_head, i, c, s, a);
    if (n_head2 > 0) rotate_heads(x2 + r * stride2, n_head2, i, c, s, a);
  }
}

Status check_rope(MatrixView x, const RopeArgs& a, std::int32_t n_head) {
  if (x.cols != static_cast<std::int64_t>(n_head) * a.head_dim || a.n_rot < 0 || a.n_rot % 2 != 0 ||
      a.n_rot > a.head_dim) {
    return make_error(ErrorCode::kInferenceFailed,
                      "rope: x must be [n_tokens, n_head * head_dim] with an even "
                      "n_rot <= head_dim");
  }
  return ok_status();
}

}  // namespace

Status launch_rope(MatrixView x, const RopeArgs& a, const std::int32_t* positions,
                   cudaStream_t stream) {
  return launch_rope_qk(x, MatrixView{nullptr, x.rows, 0, 0}, a, 0, positions, stream);
}

Status launch_rope_qk(MatrixView q, MatrixView k, const RopeArgs& a, std::int32_t n_head_k,
                      const std::int32_t* positions, cudaStream_t stream) {
  ZINFER_RETURN_IF_ERROR(check_rope(q, a, a.n_head));
  ZINFER_RETURN_IF_ERROR(check_rope(k, a, n_head_k));
  if (q.rows != k.rows) return make_error(ErrorCode::kInferenceFailed, "rope: q/k rows differ");
  if (q.rows == 0 || a.n_rot == 0) return ok_status();
  rope_kernel<<<grid_2d(q.rows, a.n_rot / 2, kThreads), kThreads, 0, stream>>>(
      q.data, q.stride, k.data, k.stride, n_head_k, q.rows, positions, a);
  ZINFER_CUDA_LAUNCH_CHECK("rope_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
