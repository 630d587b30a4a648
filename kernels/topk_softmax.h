// launch_topk_softmax: mixture-of-experts routing on the GPU — per row the k largest logits
// (ties to the lower expert) in descending order and the softmax over them, CpuOps'
// do_topk_softmax (the row's math is topk_softmax_row, moe_math.cuh).
#pragma once

#include <cuda_runtime.h>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// logits: [rows][n_expert]; weights, ids: [rows][k], k <= n_expert (ids as floats). bias
// (n_expert floats, or null): added to each row's logits in place first, as add_bias would.
Status launch_topk_softmax(MatrixView weights, MatrixView ids, MatrixView logits, const float* bias,
                           cudaStream_t stream);

}  // namespace zinfer::cuda
