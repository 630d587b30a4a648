// launch_swiglu: out = silu(gate) * up elementwise (same shapes; out may alias gate or up).
#pragma once

#include <cuda_runtime.h>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

Status launch_swiglu(MatrixView out, MatrixView gate, MatrixView up, cudaStream_t stream);

}  // namespace zinfer::cuda
