// launch_gather_rows: out[i] = in[rows[i]].
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// rows: device array of out.rows indices, each already checked to be in [0, in.rows).
Status launch_gather_rows(MatrixView out, MatrixView in, const std::int32_t* rows,
                          cudaStream_t stream);

}  // namespace zinfer::cuda
