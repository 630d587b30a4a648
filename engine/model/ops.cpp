// The fused ops' definitions (ops.h): compositions of the basic ops. The CPU backend runs
// these; the CUDA backend replaces them with single kernels computing the same operations.
#include "engine/model/ops.h"

namespace zinfer::model {
namespace {

// Releases the scratch a composition allocated when it goes out of scope.
class ScratchScope {
 public:
  explicit ScratchScope(Ops& ops) : ops_(ops), mark_(ops.scratch_mark()) {}
  ~ScratchScope() { ops_.scratch_release(mark_); }
  ScratchScope(const ScratchScope&) = delete;
  ScratchScope& operator=(const ScratchScope&) = delete;

 private:
  Ops& ops_;
  Ops::ScratchMark mark_;
};

}  // namespace

Status Ops::matmul_add(Tensor x, Tensor in, const Weight& w) {
  ScratchScope scope(*this);
  Tensor t = alloc(x.rows, x.cols);
  ZINFER_RETURN_IF_ERROR(matmul(t, in, w));
  return add(x, x, t);
}

Status Ops::norm_gated_matmul(Tensor out, Tensor x, const Weight& norm, float eps,
                              const Weight& gate, const Weight& up, GatedActivation act) {
  ScratchScope scope(*this);
  Tensor h = alloc(x.rows, x.cols);
  Tensor u = alloc(out.rows, out.cols);
  ZINFER_RETURN_IF_ERROR(rms_norm(h, x, norm, eps));
  ZINFER_RETURN_IF_ERROR(matmul(out, h, gate));
  ZINFER_RETURN_IF_ERROR(matmul(u, h, up));
  return act == GatedActivation::kSilu ? swiglu(out, out, u) : geglu(out, out, u);
}

Status Ops::norm_qkv_rope(Tensor q, Tensor k, Tensor v, Tensor x, const Weight& norm, float eps,
                          const QkvWeights& w, const RopeParams& rq, const RopeParams& rk,
                          const Batch& batch) {
  ScratchScope scope(*this);
  Tensor h = alloc(x.rows, x.cols);
  ZINFER_RETURN_IF_ERROR(rms_norm(h, x, norm, eps));
  ZINFER_RETURN_IF_ERROR(matmul(q, h, w.wq));
  ZINFER_RETURN_IF_ERROR(matmul(k, h, w.wk));
  ZINFER_RETURN_IF_ERROR(matmul(v, h, w.wv));
  if (w.bq.present()) ZINFER_RETURN_IF_ERROR(add_bias(q, w.bq));
  if (w.bk.present()) ZINFER_RETURN_IF_ERROR(add_bias(k, w.bk));
  if (w.bv.present()) ZINFER_RETURN_IF_ERROR(add_bias(v, w.bv));
  ZINFER_RETURN_IF_ERROR(rope(q, rq, batch));
  return rope(k, rk, batch);
}

}  // namespace zinfer::model
