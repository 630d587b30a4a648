// The per-row and per-element math of the mixture-of-experts kernels, shared by the device
// and the CPU tests (tests/engine/backend/moe_math_host_test.cpp runs it against CpuOps):
// top-k routing of one row with the softmax over the k picks, the experts' gated
// activations, and the bound on the number of expert tiles a routing can produce.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"

namespace zinfer::cuda {

// Slots of one expert that one block of the expert kernels multiplies together.
inline constexpr int kMoeTileRows = 8;
// Experts a layer may have (the grouping kernel keeps per-expert counts in shared memory).
inline constexpr int kMoeMaxExperts = 1024;

// Upper bound of the tiles of kMoeTileRows slots that n_slots routed slots over n_expert
// experts fill: each tile holds at least one slot, and each used expert wastes less than
// one tile. A function of the shapes only, so a launch grid sized by it is the same for
// every step of the same shape (CUDA graphs).
ZINFER_HD std::int64_t moe_max_tiles(std::int64_t n_slots, std::int64_t n_expert) {
  const std::int64_t used = n_expert < n_slots ? n_expert : n_slots;
  const std::int64_t bound = (n_slots + used * (kMoeTileRows - 1)) / kMoeTileRows;
  return bound < n_slots ? bound : n_slots;
}

// The expert of a routing id as topk_softmax stores it (a float holding an integer), or -1
// when it is not one of the n_expert experts.
ZINFER_HD int moe_expert_id(float v, int n_expert) {
  if (!(v >= 0.0f && v < static_cast<float>(n_expert))) return -1;
  return static_cast<int>(v);
}

// Whether logit a ranks before logit b in CpuOps' top-k order: larger first, ties to the
// lower expert.
ZINFER_HD bool moe_ranks_before(const float* l, int a, int b) {
  return l[a] > l[b] || (l[a] == l[b] && a < b);
}

// The softmax over a row's k picks ids[0..k) (rank order, as floats): the sum of the
// exponentials in double, in rank order, as CpuOps::do_topk_softmax.
ZINFER_HD void topk_softmax_weights(const float* l, int k, const float* ids, float* weights) {
  const float mx = l[static_cast<int>(ids[0])];
  double sum = 0.0;
  for (int j = 0; j < k; ++j)
    sum += static_cast<double>(expf(sub_rn(l[static_cast<int>(ids[j])], mx)));
  const auto inv = static_cast<float>(1.0 / sum);
  for (int j = 0; j < k; ++j) {
    weights[j] = mul_rn(expf(sub_rn(l[static_cast<int>(ids[j])], mx)), inv);
  }
}

// The warp form of one pick (kernels/topk_softmax.cu): lane takes the experts e = lane,
// lane + lanes, ... and keeps the best of those ranked after prev (-1: none yet), or -1; the
// lanes' candidates then meet through topk_first. The order is total on finite logits, so
// whatever tree the candidates meet in, the pick is topk_softmax_row's.
ZINFER_HD int topk_lane_best(const float* l, int n_expert, int prev, int lane, int lanes) {
  int best = -1;
  for (int e = lane; e < n_expert; e += lanes) {
    if (prev >= 0 && !moe_ranks_before(l, prev, e)) continue;
    if (best < 0 || moe_ranks_before(l, e, best)) best = e;
  }
  return best;
}
// Of two candidates (-1: none), the one ranked first.
ZINFER_HD int topk_first(const float* l, int a, int b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return moe_ranks_before(l, b, a) ? b : a;
}

// CpuOps::do_topk_softmax for one row of n_expert logits: the k best experts in rank order
// (ids[j], as floats) and the softmax over their logits (weights[j]). Pick j is the best
// expert ranked after pick j - 1, so no per-row set of picks is kept.
ZINFER_HD void topk_softmax_row(const float* l, int n_expert, int k, float* weights, float* ids) {
  int prev = -1;
  for (int j = 0; j < k; ++j) {
    int best = topk_lane_best(l, n_expert, prev, 0, 1);  // one lane: every expert
    if (best < 0) best = prev >= 0 ? prev : 0;           // only with NaN logits: keep indices valid
    ids[j] = static_cast<float>(best);
    prev = best;
  }
  topk_softmax_weights(l, k, ids, weights);
}

// The gated activations of an expert (model::ExpertActivation).
enum class MoeAct { kSilu, kSwigluOai };

// silu(g) · u, or gpt-oss's clamped SwiGLU min(g, limit) · sigmoid(alpha · min(g, limit)) ·
// (clamp(u, ±limit) + 1): cpu::silu and cpu::swiglu_oai with one rounding per operation.
ZINFER_HD float moe_expert_act(MoeAct act, float g, float u, float alpha, float limit) {
  if (act == MoeAct::kSilu) return mul_rn(div_rn(g, add_rn(1.0f, expf(-g))), u);
  const float x = fminf(g, limit);
  const float y = fminf(fmaxf(u, -limit), limit);
  return mul_rn(div_rn(x, add_rn(1.0f, expf(mul_rn(-alpha, x)))), add_rn(y, 1.0f));
}

}  // namespace zinfer::cuda
