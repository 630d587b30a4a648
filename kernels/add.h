// launch_add: out = a + b elementwise (same shape; out may alias a or b).
#pragma once

#include <cuda_runtime.h>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

Status launch_add(MatrixView out, MatrixView a, MatrixView b, cudaStream_t stream);

}  // namespace zinfer::cuda
