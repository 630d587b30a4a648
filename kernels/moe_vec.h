// The few-token form of the experts' tensor-core matmuls (moe_vec.cuh), which moe_mma.cu's
// launchers take where a step has at most kMoeVecMaxTokens tokens: the same bits, a warp per
// weight row instead of 16-row tensor-core tiles.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"
#include "kernels/moe_mma.cuh"

namespace zinfer::cuda {

// Tokens (routed rows) up to which the launchers take the vec kernel unless ZINFER_MOE_KERNEL
// says otherwise (mma or vec: a measurement switch, the same bits).
inline constexpr std::int64_t kMoeVecMaxTokens = 8;

// Tests: 0 by tokens, 1 the tensor-core kernel, 2 the vec kernel (where it fits), -1 back to
// the default (ZINFER_MOE_KERNEL). Set it between steps, not while one is queued.
void set_moe_kernel(int v);

// Weight rows a warp of the vec kernel takes by default (gate/up: at most 2); see moe_vec.cuh.
inline constexpr int kMoeVecRows = 2;

// Tests: the rows a warp takes (1, 2 or 4; 0 back to the default). Between steps only.
void set_moe_vec_rows(int rows);

// Whether the vec kernel takes these arguments (K at most 32 · 32 · kMoeVecMaxPasses).
bool moe_vec_fits(const moemma::MoeMmaArgs& p);
// One stage (gate/up: h = act(gate, up); down) on the vec kernel; p as the tensor-core kernel
// takes it (p.parts set).
Status launch_moe_vec(const moemma::MoeMmaArgs& p, bool gate_up, MatrixView out,
                      cudaStream_t stream);

}  // namespace zinfer::cuda
