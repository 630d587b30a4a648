// launch_rope: in-place rotary position embedding of x = [rows][n_head * head_dim], the
// first n_rot dims of each head, in the "norm" (adjacent pairs) or "neox" (halves) layout.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

struct RopeArgs {
  std::int32_t n_head = 0;
  std::int32_t head_dim = 0;
  std::int32_t n_rot = 0;    // even, <= head_dim
  bool neox = false;         // rotate (x[i], x[i + n_rot/2]) instead of (x[2i], x[2i+1])
  float theta_scale = 1.0f;  // base^(-2/n_rot), computed on the host as CpuOps does
  float freq_scale = 1.0f;
};

// positions: device array of x.rows token positions.
Status launch_rope(MatrixView x, const RopeArgs& a, const std::int32_t* positions,
                   cudaStream_t stream);

}  // namespace zinfer::cuda
