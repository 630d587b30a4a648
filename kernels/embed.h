// launch_embed: out[i] = dequantized row tokens[i] of an embedding table (any supported
// weight type, bit-identical to quant::dequantize_row).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// tokens: device array of out.rows ids, each already checked to be in [0, table.ne1).
// out: [n_tokens][table.ne0].
Status launch_embed(MatrixView out, const QuantMatrixView& table, const std::int32_t* tokens,
                    cudaStream_t stream);

}  // namespace zinfer::cuda
