// launch_norm_qkv_rope (fused_matvec.h): RMSNorm → Q/K/V matvecs → biases → RoPE on Q and K.
#include <string>

#include "engine/quant/ggml_type.h"
#include "kernels/cuda_check.h"
#include "kernels/fused_matvec.cuh"

namespace zinfer::cuda {

Status launch_norm_qkv_rope(MatrixView in, const QkvRopeArgs& a, cudaStream_t stream) {
  const std::int64_t hd = a.head_dim;
  const std::int64_t dq = static_cast<std::int64_t>(a.n_head) * hd;
  const std::int64_t dkv = static_cast<std::int64_t>(a.n_head_kv) * hd;
  const bool same = a.wq.type == a.wk.type && a.wq.type == a.wv.type && a.wq.ne0 == a.wk.ne0 &&
                    a.wq.ne0 == a.wv.ne0;
  if (in.rows < 1 || !same || hd <= 0 || hd % 2 != 0 || a.n_rot < 0 || a.n_rot % 2 != 0 ||
      a.n_rot > hd || a.wq.ne1 != dq || a.wk.ne1 != dkv || a.wv.ne1 != dkv || in.cols != a.wq.ne0 ||
      a.q.rows != in.rows || a.k.rows != in.rows || a.v.rows != in.rows || a.q.cols != dq ||
      a.k.cols != dkv || a.v.cols != dkv || a.positions == nullptr ||
      !matvec_pieces_supported(a.wq, in) || !matvec_pieces_supported(a.wk, in) ||
      !matvec_pieces_supported(a.wv, in) || reinterpret_cast<std::uintptr_t>(a.norm_w) % 16 != 0 ||
      !fused_grid_fits((dq + 2 * dkv) / 2, in.rows)) {
    return make_error(ErrorCode::kInferenceFailed,
                      "norm_qkv_rope: bad shapes (in [" + std::to_string(in.rows) + "," +
                          std::to_string(in.cols) + "], n_head " + std::to_string(a.n_head) +
                          ", n_head_kv " + std::to_string(a.n_head_kv) + ", head_dim " +
                          std::to_string(hd) + ")");
  }
  FusedMatvecParams p;
  p.in = in.data;
  p.in_stride = in.stride;
  p.rows = in.rows;
  p.n_units = (dq + 2 * dkv) / 2;
  p.k = a.wq.ne0;
  p.row_bytes = quant::row_size(a.wq.type, a.wq.ne0);
  set_qkv_rope_params(p, a);
  p.norm = true;
  p.norm_w = a.norm_w;
  p.eps = a.eps;
  if (!dispatch_fused_matvec<MatvecMode::kQkvRope>(a.wq.type, p, stream)) {
    return make_error(ErrorCode::kInvalidParameter, "norm_qkv_rope: unsupported weight type");
  }
  ZINFER_CUDA_LAUNCH_CHECK("fused_matvec_kernel<qkv_rope>");
  return ok_status();
}

}  // namespace zinfer::cuda
