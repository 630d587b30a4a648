// rope_kernel: one thread per (row, rotation pair i, head); it rebuilds angle i the way CpuOps
// (and ggml's rope cache) does — theta = pos · theta_scale^i by repeated float
// multiplication, YaRN's ramp when enabled (rope_cos_sin) — then rotates pair i of its head
// (q's heads first, then k's when given). A block covers kPairs pairs of kHeads heads: a
// thread per head rather than a loop over heads, whose load-after-store chain (q and k may
// alias) cost a decode step ~10–16 µs per layer on an H100.
#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/pdl.h"
#include "kernels/rope.h"

namespace zinfer::cuda {
namespace {

constexpr int kPairs = 32;
constexpr int kHeads = 8;

// Rotates pair i (cos c, sin s) of head v.
__device__ __forceinline__ void rotate_pair(float* v, int i, float c, float s, const RopeArgs& a) {
  const int half = a.n_rot / 2;
  const int i0 = a.neox ? i : 2 * i;
  const int i1 = a.neox ? i + half : 2 * i + 1;
  const float x0 = v[i0], x1 = v[i1];
  v[i0] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
  v[i1] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
}

// x2 (n_head2 heads; null when 0) is rotated with the same angles as x.
__global__ void rope_kernel(float* x, std::int64_t stride, float* x2, std::int64_t stride2,
                            int n_head2, std::int64_t rows, const std::int32_t* positions,
                            RopeArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  const int half = a.n_rot / 2;
  const int i = static_cast<int>(blockIdx.x) * kPairs + static_cast<int>(threadIdx.x);
  const int h = static_cast<int>(blockIdx.z) * kHeads + static_cast<int>(threadIdx.y);
  if (i >= half || h >= a.n_head + n_head2) return;
  for (std::int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float c = 1.0f, s = 0.0f;
    rope_cos_sin(static_cast<float>(positions[r]), i, a.angle, c, s);
    float* v = h < a.n_head
                   ? x + r * stride + static_cast<std::int64_t>(h) * a.head_dim
                   : x2 + r * stride2 + static_cast<std::int64_t>(h - a.n_head) * a.head_dim;
    rotate_pair(v, i, c, s, a);
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
  dim3 grid = grid_2d(q.rows, a.n_rot / 2, kPairs);
  grid.z = static_cast<unsigned>((a.n_head + n_head_k + kHeads - 1) / kHeads);
  launch_pdl(rope_kernel, grid, dim3(kPairs, kHeads), 0, stream, q.data, q.stride, k.data, k.stride,
             n_head_k, q.rows, positions, a);
  ZINFER_CUDA_LAUNCH_CHECK("rope_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
