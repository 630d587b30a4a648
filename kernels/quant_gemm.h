// quant_gemm: out = in · Wᵀ for prompt-sized batches. W is dequantized tile by tile into an
// f32 VRAM buffer (bit-identical to the CPU dequant) and multiplied with cuBLAS in FP32
// (CUBLAS_COMPUTE_32F, no TF32), so prompt logits stay within float-rounding distance of
// the CPU exact oracle. Why not fp16/bf16 tensor cores: a 16-bit copy of W or of the
// activations adds ~1e-3 relative error per matmul, enough to flip greedy tokens against
// the oracle; an f16 path with its own tolerance is a later speed option.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// Floats of dequant tile the caller should provide: enough for `rows_hint` rows of the widest
// weight, capped at 16 Mi floats (64 MiB).
inline constexpr std::int64_t kGemmTileFloats = std::int64_t{16} << 20;

// in: [rows][w.ne0] (any rows >= 1), out: [rows][w.ne1], must not alias in. tile: device
// scratch of tile_floats floats (>= w.ne0; unused for F32 weights). cuBLAS runs on the
// handle's stream, which must be `stream`.
Status quant_gemm(cublasHandle_t cublas, MatrixView out, MatrixView in, const QuantMatrixView& w,
                  float* tile, std::int64_t tile_floats, cudaStream_t stream);

}  // namespace zinfer::cuda
