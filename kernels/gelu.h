// launch_gelu: x = gelu_tanh(x) elementwise.
#pragma once

#include <cuda_runtime.h>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

Status launch_gelu(MatrixView x, cudaStream_t stream);

}  // namespace zinfer::cuda
