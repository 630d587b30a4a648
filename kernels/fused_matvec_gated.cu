// launch_norm_gated_matvec (fused_matvec.h): RMSNorm → gate/up matvecs → SwiGLU/GeGLU.
#include <string>

#include "engine/quant/ggml_type.h"
#include "kernels/cuda_check.h"
#include "kernels/fused_matvec.cuh"

namespace zinfer::cuda {

Status launch_norm_gated_matvec(MatrixView out, MatrixView in, const float* norm_w, float eps,
                                const QuantMatrixView& gate, const QuantMatrixView& up,
                                GatedAct act, cudaStream_t stream) {
  if (in.rows < 1 || out.rows != in.rows || gate.type != up.type || gate.ne0 != up.ne0 ||
      gate.ne1 != up.ne1 || in.cols != gate.ne0 || out.cols != gate.ne1 ||
      !matvec_pieces_supported(gate, in) || !matvec_pieces_supported(up, in) ||
      reinterpret_cast<std::uintptr_t>(norm_w) % 16 != 0 || !fused_grid_fits(gate.ne1, in.rows)) {
    return make_error(ErrorCode::kInferenceFailed,
                      "norm_gated_matvec: bad shapes (in [" + std::to_string(in.rows) + "," +
                          std::to_string(in.cols) + "], gate/up [" + std::to_string(gate.ne1) +
                          "," + std::to_string(gate.ne0) + "])");
  }
  FusedMatvecParams p;
  p.in = in.data;
  p.in_stride = in.stride;
  p.rows = in.rows;
  p.n_units = gate.ne1;
  p.k = gate.ne0;
  p.row_bytes = quant::row_size(gate.type, gate.ne0);
  p.w[0] = static_cast<const std::uint8_t*>(gate.data);
  p.w[1] = static_cast<const std::uint8_t*>(up.data);
  p.out[0] = out.data;
  p.out_stride[0] = out.stride;
  p.act = act;
  p.norm = true;
  p.norm_w = norm_w;
  p.eps = eps;
  if (!dispatch_fused_matvec<MatvecMode::kGated>(gate.type, p, stream)) {
    return make_error(ErrorCode::kInvalidParameter, "norm_gated_matvec: unsupported weight type");
  }
  ZINFER_CUDA_LAUNCH_CHECK("fused_matvec_kernel<gated>");
  return ok_status();
}

}  // namespace zinfer::cuda
