// launch_layer_norm: out = (in - mean) / sqrt(var + eps) [* w] [+ b], per row.
#pragma once

#include <cuda_runtime.h>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// w, b: device f32 [in.cols] or null. out may alias in.
Status launch_layer_norm(MatrixView out, MatrixView in, const float* w, const float* b, float eps,
                         cudaStream_t stream);

}  // namespace zinfer::cuda
