// launch_matvec: out[r][j] = Σ_k in[r][k] · W[j][k] for a few activation rows (decode and
// small batches), reading W straight from its quantized blocks: each weight group is
// dequantized in registers (bit-identical to the CPU dequant) and accumulated in fp32.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// Largest number of activation rows one matvec launch handles; larger batches go through
// the dequantize + GEMM path (quant_gemm.h).
inline constexpr std::int64_t kMatvecMaxRows = 8;

// in: [rows][w.ne0], out: [rows][w.ne1], 1 <= rows <= kMatvecMaxRows; out must not alias in.
Status launch_matvec(MatrixView out, MatrixView in, const QuantMatrixView& w, cudaStream_t stream);

}  // namespace zinfer::cuda
