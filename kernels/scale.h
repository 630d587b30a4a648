// launch_scale: x *= s elementwise.
#pragma once

#include <cuda_runtime.h>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

Status launch_scale(MatrixView x, float s, cudaStream_t stream);

}  // namespace zinfer::cuda
