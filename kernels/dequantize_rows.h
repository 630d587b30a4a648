// launch_dequantize_rows: rows [row0, row0 + n_rows) of a quantized weight to a dense f32
// buffer, bit-identical to quant::dequantize_row (the GEMM path's weight tile).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// dst: device [n_rows][w.ne0] f32, densely packed.
Status launch_dequantize_rows(const QuantMatrixView& w, std::int64_t row0, std::int64_t n_rows,
                              float* dst, cudaStream_t stream);

}  // namespace zinfer::cuda
