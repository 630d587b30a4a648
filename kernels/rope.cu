// rope_kernel: one thread per (row, rotation pair i); it rebuilds angle i the way CpuOps
// (and ggml's rope cache) does — theta = pos · theta_scale^i by repeated float
// multiplication, YaRN's ramp when enabled (rope_cos_sin) — then rotates pair i of every head.
#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/rope.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 64;

__global__ void rope_kernel(float* x, std::int64_t stride, std::int64_t rows,
                            const std::int32_t* positions, RopeArgs a) {
  const int half = a.n_rot / 2;
  const int i = static_cast<int>(blockIdx.x) * kThreads + static_cast<int>(threadIdx.x);
  if (i >= half) return;
  for (std::int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float c = 1.0f, s = 0.0f;
    rope_cos_sin(static_cast<float>(positions[r]), i, a.angle, c, s);
    float* row = x + r * stride;
    for (int h = 0; h < a.n_head; ++h) {
      float* v = row + static_cast<std::int64_t>(h) * a.head_dim;
      const int i0 = a.neox ? i : 2 * i;
      const int i1 = a.neox ? i + half : 2 * i + 1;
      const float x0 = v[i0], x1 = v[i1];
      v[i0] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
      v[i1] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
    }
  }
}

}  // namespace

Status launch_rope(MatrixView x, const RopeArgs& a, const std::int32_t* positions,
                   cudaStream_t stream) {
  if (x.cols != static_cast<std::int64_t>(a.n_head) * a.head_dim || a.n_rot < 0 ||
      a.n_rot % 2 != 0 || a.n_rot > a.head_dim) {
    return make_error(ErrorCode::kInferenceFailed,
                      "rope: x must be [n_tokens, n_head * head_dim] with an even "
                      "n_rot <= head_dim");
  }
  if (x.rows == 0 || a.n_rot == 0) return ok_status();
  rope_kernel<<<grid_2d(x.rows, a.n_rot / 2, kThreads), kThreads, 0, stream>>>(
      x.data, x.stride, x.rows, positions, a);
  ZINFER_CUDA_LAUNCH_CHECK("rope_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
