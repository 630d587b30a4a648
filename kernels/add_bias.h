// launch_add_bias: x[r] += b for every row (b: device f32 [x.cols]).
#pragma once

#include <cuda_runtime.h>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

Status launch_add_bias(MatrixView x, const float* b, cudaStream_t stream);

}  // namespace zinfer::cuda
