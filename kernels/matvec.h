// launch_matvec: out[r][j] = Σ_k in[r][k] · W[j][k] for a few activation rows (decode and
// small batches), reading W straight from its quantized blocks: each weight group is
// dequantized in registers (bit-identical to the CPU dequant) and accumulated in fp32.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// Activation rows one warp multiplies with each dequantized weight group; more rows run as
// more tiles of the same kernel. Up to this many rows the matvec is also the fastest path.
inline constexpr std::int64_t kMatvecTileRows = 8;

// in: [rows][w.ne0], out: [rows][w.ne1], rows >= 1; out must not alias in. Batch-invariant:
// out[r] is bitwise the same for the same in[r] and W whatever the other rows are.
Status launch_matvec(MatrixView out, MatrixView in, const QuantMatrixView& w, cudaStream_t stream);

}  // namespace zinfer::cuda
