// launch_rope: in-place rotary position embedding of x = [rows][n_head * head_dim], the
// first n_rot dims of each head, in the "norm" (adjacent pairs) or "neox" (halves) layout,
// with linear or YaRN frequency scaling (rope_angle.cuh).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"
#include "kernels/rope_angle.cuh"

namespace zinfer::cuda {

struct RopeArgs {
  std::int32_t n_head = 0;
  std::int32_t head_dim = 0;
  std::int32_t n_rot = 0;  // even, <= head_dim
  bool neox = false;       // rotate (x[i], x[i + n_rot/2]) instead of (x[2i], x[2i+1])
  RopeAngle angle;         // make_rope_angle, on the host as CpuOps computes it
};

// positions: device array of x.rows token positions.
Status launch_rope(MatrixView x, const RopeArgs& a, const std::int32_t* positions,
                   cudaStream_t stream);

// q and k of one attention input in one launch: q's a.n_head heads and k's n_head_k heads,
// the same head_dim, layout and angles (each pair's angle computed once for both), the same
// bits as two launch_rope calls.
Status launch_rope_qk(MatrixView q, MatrixView k, const RopeArgs& a, std::int32_t n_head_k,
                      const std::int32_t* positions, cudaStream_t stream);

}  // namespace zinfer::cuda
