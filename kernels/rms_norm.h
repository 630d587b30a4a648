// launch_rms_norm: out = in / sqrt(mean(in²) + eps) [* w], per row.
#pragma once

#include <cuda_runtime.h>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// w: device f32 [in.cols] or null (no scaling). out may alias in.
Status launch_rms_norm(MatrixView out, MatrixView in, const float* w, float eps,
                       cudaStream_t stream);

}  // namespace zinfer::cuda
