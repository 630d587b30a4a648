// The ops front (see ops.h): every shape check of every op, once, for both backends; and
// the fused ops' definitions, compositions of the basic ops (the CPU backend runs these; the
// CUDA backend replaces them with single kernels computing the same operations).
#include "engine/model/ops.h"

#include <algorithm>
#include <cassert>
#include <string>

namespace zinfer::model {
namespace {

Status shape_error(const char* op, const std::string& what) {
  return make_error(ErrorCode::kInferenceFailed, std::string(op) + ": " + what);
}

bool same_shape(const Tensor& a, const Tensor& b) { return a.rows == b.rows && a.cols == b.cols; }

// An absent weight, or an f32 vector of n elements.
bool optional_f32_vector(const Weight& w, std::int64_t n) {
  return !w.present() || (w.ne0 == n && w.type == quant::GgmlType::kF32);
}

}  // namespace

Status Ops::embed(Tensor out, const Weight& table, std::span<const std::int32_t> tokens) {
  if (out.rows != static_cast<std::int64_t>(tokens.size()) || out.cols != table.ne0) {
    return shape_error("embed", "output shape does not match tokens × n_embd");
  }
  assert(std::all_of(tokens.begin(), tokens.end(),
                     [&](std::int32_t t) { return t >= 0 && t < table.ne1; }));
  return do_embed(out, table, tokens);
}

Status Ops::rms_norm(Tensor out, Tensor in, const Weight& w, float eps) {
  if (!same_shape(out, in)) return shape_error("rms_norm", "shape mismatch");
  if (!optional_f32_vector(w, in.cols))
    return shape_error("rms_norm", "weight must be f32 [" + std::to_string(in.cols) + "]");
  return do_rms_norm(out, in, w, eps);
}

Status Ops::layer_norm(Tensor out, Tensor in, const Weight& w, const Weight& b, float eps) {
  if (!same_shape(out, in)) return shape_error("layer_norm", "shape mismatch");
  if (!optional_f32_vector(w, in.cols) || !optional_f32_vector(b, in.cols)) {
    return shape_error("layer_norm",
                       "weight and bias must be f32 [" + std::to_string(in.cols) + "]");
  }
  return do_layer_norm(out, in, w, b, eps);
}

Status Ops::matmul(Tensor out, Tensor in, const Weight& w) {
  if (in.cols != w.ne0 || out.cols != w.ne1 || out.rows != in.rows) {
    return shape_error(
        "matmul", "in [" + std::to_string(in.rows) + "," + std::to_string(in.cols) + "] × w [" +
                      std::to_string(w.ne1) + "," + std::to_string(w.ne0) + "] → out [" +
                      std::to_string(out.rows) + "," + std::to_string(out.cols) + "]");
  }
  return by_kind(in.rows, w, [&](std::int64_t r0, std::int64_t n) {
    return do_matmul(out.rows_slice(r0, n), in.rows_slice(r0, n), w);
  });
}

void Ops::set_row_kinds(const Batch& batch, std::span<const std::int32_t> logit_rows) {
  step_rows_ = batch.n_tokens();
  logit_count_ = static_cast<std::int64_t>(logit_rows.size());
  step_runs_.clear();
  logit_runs_.clear();
  auto push = [](std::vector<RowRun>& runs, std::int64_t row, bool generated) {
    if (!runs.empty() && runs.back().generated == generated && runs.back().end == row) {
      ++runs.back().end;
    } else {
      runs.push_back({row, row + 1, generated});
    }
  };
  std::vector<bool> kind(static_cast<std::size_t>(step_rows_), false);
  for (const SeqSpan& s : batch.seqs) {
    for (std::int64_t r = s.row_start; r < std::int64_t{s.row_start} + s.n_tokens; ++r) {
      kind[static_cast<std::size_t>(r)] = s.generated;
    }
  }
  for (std::int64_t r = 0; r < step_rows_; ++r)
    push(step_runs_, r, kind[static_cast<std::size_t>(r)]);
  for (std::int64_t i = 0; i < logit_count_; ++i) {
    push(logit_runs_, i, kind[static_cast<std::size_t>(logit_rows[static_cast<std::size_t>(i)])]);
  }
}

std::span<const Ops::RowRun> Ops::row_runs(std::int64_t rows) const {
  if (rows == step_rows_ && !step_runs_.empty()) return step_runs_;
  if (rows == logit_count_ && !logit_runs_.empty()) return logit_runs_;
  return {};
}

Status Ops::add_bias(Tensor x, const Weight& b) {
  if (!b.present() || b.ne0 != x.cols || b.type != quant::GgmlType::kF32) {
    return shape_error("add_bias", "bias must be f32 [cols]");
  }
  return do_add_bias(x, b);
}

Status Ops::add(Tensor out, Tensor a, Tensor b) {
  if (!same_shape(a, b) || !same_shape(out, a)) return shape_error("add", "shape mismatch");
  return do_add(out, a, b);
}

Status Ops::softcap(Tensor x, float cap) {
  if (!(cap > 0.0f)) return shape_error("softcap", "cap must be > 0");
  return do_softcap(x, cap);
}

Status Ops::rope(Tensor x, const RopeParams& p, const Batch& batch) {
  if (x.cols != static_cast<std::int64_t>(p.n_head) * p.head_dim || x.rows != batch.n_tokens()) {
    return shape_error("rope", "x must be [n_tokens, n_head * head_dim]");
  }
  if (p.n_rot <= 0 || p.n_rot % 2 != 0 || p.n_rot > p.head_dim) {
    return shape_error("rope", "n_rot must be even and in (0, head_dim]");
  }
  return do_rope(x, p, batch);
}

Status Ops::attention(Tensor out, Tensor q, Tensor k, Tensor v, const AttnParams& p,
                      const Batch& batch) {
  const std::int64_t dkv = static_cast<std::int64_t>(p.n_head_kv) * p.head_dim;
  if (dkv != kv_.n_embd_kv || k.cols != dkv || v.cols != dkv ||
      q.cols != static_cast<std::int64_t>(p.n_head) * p.head_dim || out.cols != q.cols) {
    return shape_error("attention", "q/k/v/out widths do not match the head geometry");
  }
  if (q.rows != batch.n_tokens() || k.rows != q.rows || v.rows != q.rows || out.rows != q.rows) {
    return shape_error("attention", "q/k/v/out rows must equal the batch's tokens");
  }
  if (p.layer < 0 || p.layer >= kv_.n_layer) return shape_error("attention", "layer out of range");
  if (p.n_head_kv <= 0 || p.n_head % p.n_head_kv != 0) {
    return shape_error("attention", "n_head must be a multiple of n_head_kv");
  }
  if (!optional_f32_vector(p.sinks, p.n_head) || (p.sinks.present() && p.sinks.ne1 != 1)) {
    return shape_error("attention", "sinks must be f32 [" + std::to_string(p.n_head) + "]");
  }
  for (const SeqSpan& s : batch.seqs) {
    if (static_cast<std::int64_t>(s.block_table.size()) * kv_.block_size < s.n_past + s.n_tokens) {
      return shape_error("attention", "block table too short");
    }
  }
  return do_attention(out, q, k, v, p, batch);
}

Status Ops::swiglu(Tensor out, Tensor gate, Tensor up) {
  if (!same_shape(gate, up) || !same_shape(out, gate))
    return shape_error("swiglu", "shape mismatch");
  return do_swiglu(out, gate, up);
}

Status Ops::geglu(Tensor out, Tensor gate, Tensor up) {
  if (!same_shape(gate, up) || !same_shape(out, gate))
    return shape_error("geglu", "shape mismatch");
  return do_geglu(out, gate, up);
}

Status Ops::gather_rows(Tensor out, Tensor in, std::span<const std::int32_t> rows) {
  if (out.rows != static_cast<std::int64_t>(rows.size()) || out.cols != in.cols) {
    return shape_error("gather_rows", "shape mismatch");
  }
  for (std::int32_t r : rows) {
    if (r < 0 || r >= in.rows) return shape_error("gather_rows", "row index out of range");
  }
  return do_gather_rows(out, in, rows);
}

Status Ops::topk_softmax(Tensor weights, Tensor ids, Tensor logits, const Weight* bias) {
  if (!same_shape(weights, ids) || weights.rows != logits.rows) {
    return shape_error("topk_softmax", "weights and ids must be [rows of logits][k]");
  }
  if (weights.cols < 1 || weights.cols > logits.cols) {
    return shape_error("topk_softmax", "k must be in [1, n_expert]");
  }
  if (logits.cols >= (std::int64_t{1} << 24)) {
    return shape_error("topk_softmax", "expert ids must be exact as floats");
  }
  if (bias != nullptr &&
      (!bias->present() || bias->ne0 != logits.cols || bias->type != quant::GgmlType::kF32)) {
    return shape_error("topk_softmax", "bias must be f32 [n_expert]");
  }
  return do_topk_softmax(weights, ids, logits, bias);
}

namespace {

// moe_ffn's shape checks (moe_ffn_add's too, with out = x).
Status check_moe_ffn(Tensor out, Tensor x, Tensor ids, Tensor weights, const ExpertWeights& w) {
  const std::int64_t d = x.cols, ne = w.n_expert, ff = w.n_ff;
  const bool mats_ok = ne > 0 && ff > 0 && w.gate.ne0 == d && w.up.ne0 == d &&
                       w.gate.ne1 == ne * ff && w.up.ne1 == ne * ff && w.gate.type == w.up.type &&
                       w.down.ne0 == ff && w.down.ne1 == ne * d;
  if (!mats_ok) {
    return shape_error("moe_ffn",
                       "expert matrices must be gate/up [n_expert * n_ff][n_embd] "
                       "and down [n_expert * n_embd][n_ff]");
  }
  auto bias_ok = [&](const Weight& b, std::int64_t n) {
    return !b.present() || (b.type == quant::GgmlType::kF32 && b.ne0 == n && b.ne1 == ne);
  };
  if (!bias_ok(w.gate_b, ff) || !bias_ok(w.up_b, ff) || !bias_ok(w.down_b, d)) {
    return shape_error("moe_ffn", "expert biases must be f32 [n_expert][n_ff or n_embd]");
  }
  if (!same_shape(out, x) || !same_shape(ids, weights) || ids.rows != x.rows || ids.cols < 1 ||
      ids.cols > ne) {
    return shape_error("moe_ffn", "out must match x; ids and weights must be [rows][k ≤ n_expert]");
  }
  return ok_status();
}

}  // namespace

Status Ops::moe_ffn(Tensor out, Tensor x, Tensor ids, Tensor weights, const ExpertWeights& w,
                    const ExpertActParams& act) {
  ZINFER_RETURN_IF_ERROR(check_moe_ffn(out, x, ids, weights, w));
  return do_moe_ffn(out, x, ids, weights, w, act);
}

Status Ops::moe_ffn_add(Tensor x, Tensor h, Tensor ids, Tensor weights, const ExpertWeights& w,
                        const ExpertActParams& act) {
  ZINFER_RETURN_IF_ERROR(check_moe_ffn(x, h, ids, weights, w));
  return do_moe_ffn_add(x, h, ids, weights, w, act);
}

Status Ops::do_topk_softmax(Tensor, Tensor, Tensor, const Weight*) {
  return make_error(ErrorCode::kInferenceFailed,
                    "topk_softmax: mixture-of-experts routing is not implemented by this backend");
}

Status Ops::do_moe_ffn(Tensor, Tensor, Tensor, Tensor, const ExpertWeights&,
                       const ExpertActParams&) {
  return make_error(ErrorCode::kInferenceFailed,
                    "moe_ffn: mixture-of-experts layers are not implemented by this backend");
}

Status Ops::do_moe_ffn_add(Tensor x, Tensor h, Tensor ids, Tensor weights, const ExpertWeights& w,
                           const ExpertActParams& act) {
  ScratchScope scope(*this);
  Tensor t = alloc(x.rows, x.cols);
  ZINFER_RETURN_IF_ERROR(moe_ffn(t, h, ids, weights, w, act));
  return add(x, x, t);
}

// Fused ops: the front checks the whole op's shapes once; the defaults compose basic ops.

Status Ops::matmul_add(Tensor x, Tensor in, const Weight& w, const Weight* bias) {
  if (in.cols != w.ne0 || x.cols != w.ne1 || x.rows != in.rows) {
    return shape_error(
        "matmul_add", "in [" + std::to_string(in.rows) + "," + std::to_string(in.cols) + "] × w [" +
                          std::to_string(w.ne1) + "," + std::to_string(w.ne0) + "] → x [" +
                          std::to_string(x.rows) + "," + std::to_string(x.cols) + "]");
  }
  if (bias != nullptr &&
      (!bias->present() || bias->ne0 != w.ne1 || bias->type != quant::GgmlType::kF32)) {
    return shape_error("matmul_add", "bias must be f32 [w rows]");
  }
  return by_kind(in.rows, w, [&](std::int64_t r0, std::int64_t n) {
    return do_matmul_add(x.rows_slice(r0, n), in.rows_slice(r0, n), w, bias);
  });
}

Status Ops::norm_gated_matmul(Tensor out, Tensor x, const Weight& norm, float eps,
                              const Weight& gate, const Weight& up, GatedActivation act) {
  if (x.cols != gate.ne0 || out.cols != gate.ne1 || out.rows != x.rows || gate.type != up.type ||
      gate.ne0 != up.ne0 || gate.ne1 != up.ne1) {
    return shape_error("norm_gated_matmul", "x, out, gate and up shapes do not match");
  }
  if (!optional_f32_vector(norm, x.cols)) {
    return shape_error("norm_gated_matmul",
                       "norm weight must be f32 [" + std::to_string(x.cols) + "]");
  }
  return by_kind(x.rows, gate, [&](std::int64_t r0, std::int64_t n) {
    return do_norm_gated_matmul(out.rows_slice(r0, n), x.rows_slice(r0, n), norm, eps, gate, up,
                                act);
  });
}

Status Ops::norm_qkv_rope(Tensor q, Tensor k, Tensor v, Tensor x, const Weight& norm, float eps,
                          const QkvWeights& w, const RopeParams& rq, const RopeParams& rk,
                          const Batch& batch) {
  const bool weights_ok = w.wq.ne0 == x.cols && w.wk.ne0 == x.cols && w.wv.ne0 == x.cols &&
                          q.cols == w.wq.ne1 && k.cols == w.wk.ne1 && v.cols == w.wv.ne1;
  const bool rows_ok =
      x.rows == batch.n_tokens() && q.rows == x.rows && k.rows == x.rows && v.rows == x.rows;
  const bool rope_ok = q.cols == static_cast<std::int64_t>(rq.n_head) * rq.head_dim &&
                       k.cols == static_cast<std::int64_t>(rk.n_head) * rk.head_dim;
  if (!weights_ok || !rows_ok || !rope_ok) {
    return shape_error("norm_qkv_rope", "x, q, k, v, weights and head geometry do not match");
  }
  if (!optional_f32_vector(norm, x.cols) || !optional_f32_vector(w.bq, q.cols) ||
      !optional_f32_vector(w.bk, k.cols) || !optional_f32_vector(w.bv, v.cols)) {
    return shape_error("norm_qkv_rope",
                       "norm weight and biases must be f32 vectors of their widths");
  }
  return do_norm_qkv_rope(q, k, v, x, norm, eps, w, rq, rk, batch);
}

Status Ops::do_matmul_add(Tensor x, Tensor in, const Weight& w, const Weight* bias) {
  ScratchScope scope(*this);
  Tensor t = alloc(x.rows, x.cols);
  ZINFER_RETURN_IF_ERROR(matmul(t, in, w));
  if (bias != nullptr) ZINFER_RETURN_IF_ERROR(add_bias(t, *bias));
  return add(x, x, t);
}

Status Ops::do_norm_gated_matmul(Tensor out, Tensor x, const Weight& norm, float eps,
                                 const Weight& gate, const Weight& up, GatedActivation act) {
  ScratchScope scope(*this);
  Tensor h = alloc(x.rows, x.cols);
  Tensor u = alloc(out.rows, out.cols);
  ZINFER_RETURN_IF_ERROR(rms_norm(h, x, norm, eps));
  ZINFER_RETURN_IF_ERROR(matmul(out, h, gate));
  ZINFER_RETURN_IF_ERROR(matmul(u, h, up));
  return act == GatedActivation::kSilu ? swiglu(out, out, u) : geglu(out, out, u);
}

Status Ops::norm_qkv_composed(Tensor q, Tensor k, Tensor v, Tensor x, const Weight& norm, float eps,
                              const QkvWeights& w) {
  ScratchScope scope(*this);
  Tensor h = alloc(x.rows, x.cols);
  ZINFER_RETURN_IF_ERROR(rms_norm(h, x, norm, eps));
  ZINFER_RETURN_IF_ERROR(matmul(q, h, w.wq));
  ZINFER_RETURN_IF_ERROR(matmul(k, h, w.wk));
  ZINFER_RETURN_IF_ERROR(matmul(v, h, w.wv));
  if (w.bq.present()) ZINFER_RETURN_IF_ERROR(add_bias(q, w.bq));
  if (w.bk.present()) ZINFER_RETURN_IF_ERROR(add_bias(k, w.bk));
  if (w.bv.present()) ZINFER_RETURN_IF_ERROR(add_bias(v, w.bv));
  return ok_status();
}

Status Ops::do_norm_qkv_rope(Tensor q, Tensor k, Tensor v, Tensor x, const Weight& norm, float eps,
                             const QkvWeights& w, const RopeParams& rq, const RopeParams& rk,
                             const Batch& batch) {
  ZINFER_RETURN_IF_ERROR(norm_qkv_composed(q, k, v, x, norm, eps, w));
  ZINFER_RETURN_IF_ERROR(rope(q, rq, batch));
  return rope(k, rk, batch);
}

}  // namespace zinfer::model
