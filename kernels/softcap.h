// launch_softcap: x = cap · tanh(x / cap) elementwise (Gemma's logit soft-capping).
#pragma once

#include <cuda_runtime.h>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// cap > 0 (kInvalidParameter otherwise).
Status launch_softcap(MatrixView x, float cap, cudaStream_t stream);

}  // namespace zinfer::cuda
