// CpuOps' mixture-of-experts ops: top-k routing with a softmax over the selected logits, and
// the expert FFNs. Tokens are grouped by expert, so each selected expert's gate, up and down
// matrices are read once per step and multiplied with all of its rows through do_matmul (the
// same exact or Q8 path as every other matmul); each (token, slot) result is kept apart and
// the weighted sum is taken per token in slot order, so a row's output does not depend on
// which other rows share the batch.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "engine/backend/cpu/cpu_ops.h"

namespace zinfer::cpu {

using model::Tensor;
using model::Weight;

namespace {

inline float* row(Tensor t, std::int64_t r) { return t.data + r * t.stride; }

}  // namespace

float swiglu_oai(float g, float u, float alpha, float limit) {
  const float x = std::min(g, limit);
  const float y = std::min(std::max(u, -limit), limit);
  return x / (1.0f + std::exp(-alpha * x)) * (y + 1.0f);
}

Status CpuOps::do_topk_softmax(Tensor weights, Tensor ids, Tensor logits,
                               const model::Weight* bias) {
  if (bias != nullptr) ZINFER_RETURN_IF_ERROR(do_add_bias(logits, *bias));
  const std::int64_t k = weights.cols;
  std::vector<std::int32_t> order(static_cast<std::size_t>(logits.cols));
  for (std::int64_t r = 0; r < logits.rows; ++r) {
    const float* l = row(logits, r);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(
        order.begin(), order.begin() + k, order.end(),
        [l](std::int32_t a, std::int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
    const float mx = l[order[0]];
    double sum = 0.0;
    for (std::int64_t j = 0; j < k; ++j)
      sum += std::exp(l[order[static_cast<std::size_t>(j)]] - mx);
    const float inv = static_cast<float>(1.0 / sum);
    for (std::int64_t j = 0; j < k; ++j) {
      const std::int32_t e = order[static_cast<std::size_t>(j)];
      row(ids, r)[j] = static_cast<float>(e);
      row(weights, r)[j] = std::exp(l[e] - mx) * inv;
    }
  }
  return ok_status();
}

Status CpuOps::do_moe_ffn(Tensor out, Tensor x, Tensor ids, Tensor weights,
                          const model::ExpertWeights& w, const model::ExpertActParams& act) {
  const std::int64_t n = x.rows, k = ids.cols, d = x.cols, ff = w.n_ff;
  model::ScratchScope scope(*this);
  // y[r * k + j]: expert ids[r][j]'s output for row r, before the routing weight.
  Tensor y = alloc(n * k, d);
  // Slots (r * k + j) grouped by expert, in row order within an expert.
  std::vector<std::vector<std::int64_t>> slots(static_cast<std::size_t>(w.n_expert));
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t j = 0; j < k; ++j) {
      const auto e = static_cast<std::int64_t>(row(ids, r)[j]);
      assert(e >= 0 && e < w.n_expert);
      slots[static_cast<std::size_t>(e)].push_back(r * k + j);
    }
  }
  for (std::int32_t e = 0; e < w.n_expert; ++e) {
    const auto& sl = slots[static_cast<std::size_t>(e)];
    if (sl.empty()) continue;
    const auto c = static_cast<std::int64_t>(sl.size());
    model::ScratchScope expert_scope(*this);
    Tensor xe = alloc(c, d), g = alloc(c, ff), u = alloc(c, ff), ye = alloc(c, d);
    for (std::int64_t i = 0; i < c; ++i) {
      std::memcpy(row(xe, i), row(x, sl[static_cast<std::size_t>(i)] / k), sizeof(float) * d);
    }
    ZINFER_RETURN_IF_ERROR(do_matmul(g, xe, w.gate.rows_slice(e * ff, ff)));
    ZINFER_RETURN_IF_ERROR(do_matmul(u, xe, w.up.rows_slice(e * ff, ff)));
    if (w.gate_b.present()) ZINFER_RETURN_IF_ERROR(do_add_bias(g, w.gate_b.rows_slice(e, 1)));
    if (w.up_b.present()) ZINFER_RETURN_IF_ERROR(do_add_bias(u, w.up_b.rows_slice(e, 1)));
    for (std::int64_t i = 0; i < c; ++i) {
      float* gi = row(g, i);
      const float* ui = row(u, i);
      for (std::int64_t f = 0; f < ff; ++f) {
        gi[f] = act.kind == model::ExpertActivation::kSwigluOai
                    ? swiglu_oai(gi[f], ui[f], act.alpha, act.limit)
                    : silu(gi[f]) * ui[f];
      }
    }
    ZINFER_RETURN_IF_ERROR(do_matmul(ye, g, w.down.rows_slice(e * d, d)));
    if (w.down_b.present()) ZINFER_RETURN_IF_ERROR(do_add_bias(ye, w.down_b.rows_slice(e, 1)));
    for (std::int64_t i = 0; i < c; ++i) {
      std::memcpy(row(y, sl[static_cast<std::size_t>(i)]), row(ye, i), sizeof(float) * d);
    }
  }
  for (std::int64_t r = 0; r < n; ++r) {
    float* o = row(out, r);
    const float* wr = row(weights, r);
    const float* y0 = row(y, r * k);
    for (std::int64_t c = 0; c < d; ++c) o[c] = wr[0] * y0[c];
    for (std::int64_t j = 1; j < k; ++j) {
      const float* yj = row(y, r * k + j);
      for (std::int64_t c = 0; c < d; ++c) o[c] += wr[j] * yj[c];
    }
  }
  return ok_status();
}

}  // namespace zinfer::cpu
