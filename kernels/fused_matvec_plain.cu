// launch_matvec_pieces (fused_matvec.h): plain and residual-add matvecs on the piece kernel.
#include <string>

#include "engine/quant/ggml_type.h"
#include "kernels/cuda_check.h"
#include "kernels/fused_matvec.cuh"

namespace zinfer::cuda {

bool matvec_pieces_supported(const QuantMatrixView& w, const MatrixView& in) {
  return cuda_weight_type_supported(w.type) && w.ne0 % kPieceElems == 0 && w.ne0 > 0 &&
         reinterpret_cast<std::uintptr_t>(in.data) % 16 == 0 && in.stride % 4 == 0 &&
         reinterpret_cast<std::uintptr_t>(w.data) % 16 == 0;
}

Status launch_matvec_pieces(MatrixView out, MatrixView in, const QuantMatrixView& w,
                            bool accumulate, cudaStream_t stream) {
  const std::int64_t n_units = (w.ne1 + 1) / 2;
  if (in.rows < 1 || out.rows != in.rows || in.cols != w.ne0 || out.cols != w.ne1 ||
      !matvec_pieces_supported(w, in) || !fused_grid_fits(n_units, in.rows)) {
    return make_error(ErrorCode::kInferenceFailed,
                      "matvec_pieces: bad shapes (in [" + std::to_string(in.rows) + "," +
                          std::to_string(in.cols) + "], w [" + std::to_string(w.ne1) + "," +
                          std::to_string(w.ne0) + "] " + std::string(quant::type_name(w.type)) +
                          ")");
  }
  FusedMatvecParams p;
  p.in = in.data;
  p.in_stride = in.stride;
  p.rows = in.rows;
  p.n_units = n_units;
  p.k = w.ne0;
  p.row_bytes = quant::row_size(w.type, w.ne0);
  p.w[0] = static_cast<const std::uint8_t*>(w.data);
  p.out[0] = out.data;
  p.out_stride[0] = out.stride;
  p.ne1 = w.ne1;
  p.accumulate = accumulate;
  if (!dispatch_fused_matvec<MatvecMode::kPlain>(w.type, p, stream)) {
    return make_error(ErrorCode::kInvalidParameter, "matvec_pieces: unsupported weight type");
  }
  ZINFER_CUDA_LAUNCH_CHECK("fused_matvec_kernel<plain>");
  return ok_status();
}

}  // namespace zinfer::cuda
