// quant_gemm (see quant_gemm.h). Row-major out[r][j] = Σ_k in[r][k] W[j][k] is, in cuBLAS's
// column-major terms, C (ne1 × rows, ldc = out.stride) = op_T(W: ne0 × ne1, ld ne0) ·
// B (ne0 × rows, ldb = in.stride).
#include "kernels/quant_gemm.h"

#include <algorithm>
#include <string>

#include "kernels/cuda_check.h"
#include "kernels/dequantize_rows.h"

namespace zinfer::cuda {

Status quant_gemm(cublasHandle_t cublas, MatrixView out, MatrixView in, const QuantMatrixView& w,
                  float* tile, std::int64_t tile_floats, cudaStream_t stream) {
  if (in.cols != w.ne0 || out.cols != w.ne1 || out.rows != in.rows || in.rows < 1) {
    return make_error(ErrorCode::kInferenceFailed, "quant_gemm: bad shapes");
  }
  const bool is_f32 = w.type == quant::GgmlType::kF32;
  if (!is_f32 && (tile == nullptr || tile_floats < w.ne0)) {
    return make_error(ErrorCode::kInferenceFailed,
                      "quant_gemm: dequant tile smaller than one weight row");
  }
  if (w.ne1 == 0) return ok_status();
  const std::int64_t rows_per_tile =
      is_f32 ? w.ne1 : std::max<std::int64_t>(1, tile_floats / w.ne0);
  const float alpha = 1.0f, beta = 0.0f;
  for (std::int64_t j0 = 0; j0 < w.ne1; j0 += rows_per_tile) {
    const std::int64_t nj = std::min(rows_per_tile, w.ne1 - j0);
    const float* a = nullptr;
    if (is_f32) {
      a = static_cast<const float*>(w.data);
    } else {
      ZINFER_RETURN_IF_ERROR(launch_dequantize_rows(w, j0, nj, tile, stream));
      a = tile;
    }
    ZINFER_CUBLAS_CHECK(cublasGemmEx(
        cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(nj), static_cast<int>(in.rows),
        static_cast<int>(w.ne0), &alpha, a, CUDA_R_32F, static_cast<int>(w.ne0), in.data,
        CUDA_R_32F, static_cast<int>(in.stride), &beta, out.data + j0, CUDA_R_32F,
        static_cast<int>(out.stride), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
  return ok_status();
}

}  // namespace zinfer::cuda
