// The experts' matmuls on tensor cores (moe.h launch_moe_mma_gate_up / launch_moe_mma_down):
// one block per (tile of <= kMoeTileRows slots of one expert, 16 weight rows of that expert),
// the tile index varying fastest. The tile's slots are the 8 columns of mma.sync.m16n8k32 —
// column c is slot c's Q16 activation row (x[slot / k] quantized, or h[slot]), read in place
// through the slot list — and the 16 weight rows its A operand; a warp per part of K
// (q8mma::mma_parts), each adding its blocks' unit terms in K order, the parts' sums added in
// part order in shared memory. That is q8_mma.cuh's order: every output is bit for bit
// q8mma::mma_reference of its weight row and activation row, then the bias (and, for gate/up,
// the expert activation) — whichever other slots share the tile (batch invariance).
//
// Weight types: the 32-element blocks without a minimum (MXFP4, gpt-oss's experts; the body
// takes Q4_0, Q5_0 and Q8_0 too, but only MXFP4 is instantiated). Q16 activations.
//
// Written against a thread context, as q8_mma_lane.cuh, so the CPU tests run the same body:
// thread(), block_x(), smem() (kMoeMmaSmemBytes), sync(), mma_k32(c, a, b0, b1) and
// store(slot, j, v).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/moe_math.cuh"
#include "kernels/q8_act_layout.h"
#include "kernels/q8_mma.cuh"

namespace zinfer::cuda::moemma {

using quant::GgmlType;

// Threads a block runs: one warp per part of K, the most parts there can be.
inline constexpr int kMoeMmaThreads = q8mma::kMaxParts * 32;
// Blocks of K a warp loads before it multiplies them (moe_mma_body).
inline constexpr int kMoeMmaUnroll = 4;
// Shared memory of the parts' sums: [parts][matrices][16 rows][8 slots] floats.
inline constexpr std::size_t kMoeMmaSmemBytes = q8mma::kMaxParts * 2 * 16 * 8 * sizeof(float);

struct MoeMmaArgs {
  const std::uint8_t* act = nullptr;  // Q16 activation rows (layout); row slot / in_div feeds slot
  q8::Q8ActLayout layout;
  std::int32_t in_div = 1;
  const std::uint8_t* w[2] = {};  // the experts' stacked matrices: gate, up (gate/up); down
  const float* bias[2] = {};      // [n_expert · rows_per_expert] or null
  std::size_t row_bytes = 0;
  std::int64_t rows_per_expert = 0;
  int parts = 1;  // mma_parts(K's blocks)
  MoeAct act_kind = MoeAct::kSwigluOai;
  float alpha = 1.702f, limit = 7.0f;
  const std::int32_t* slots = nullptr;  // MoeRouting's grouping
  const std::int32_t* tile_expert = nullptr;
  const std::int32_t* tile_begin = nullptr;
  const std::int32_t* tile_count = nullptr;
  std::int64_t max_tiles = 0;
};

#ifdef __CUDACC__
// The device side of the thread context the expert kernels' bodies take (this file's and
// moe_vec.cuh's): the thread and block index, shared memory, the block barrier and the store of
// a slot's output j.
struct MoeDeviceCtx {
  std::uint8_t* sm;
  float* out;
  std::int64_t out_stride;
  __device__ int thread() const { return static_cast<int>(threadIdx.x); }
  __device__ std::int64_t block_x() const { return blockIdx.x; }
  __device__ std::uint8_t* smem() const { return sm; }
  __device__ void sync() const { __syncthreads(); }
  __device__ void store(std::int64_t slot, std::int64_t j, float v) const {
    out[slot * out_stride + j] = v;
  }
};
#endif

// Blocks of weight rows a tile takes (16 rows each).
ZINFER_HD std::int64_t moe_mma_row_blocks(std::int64_t rows_per_expert) {
  return (rows_per_expert + 15) / 16;
}

#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <GgmlType T, bool kGateUp, typename Ctx>
ZINFER_HD void moe_mma_body(const MoeMmaArgs& p, Ctx& x) {
  using Tr = q8mma::MmaTraits<T>;
  static_assert(q8mma::family<T>() == q8mma::Family::kLegacy && !Tr::kMin && Tr::kSubK == 32,
                "32-element blocks without a minimum");
  constexpr int kM = kGateUp ? 2 : 1;
  constexpr std::int64_t kE = Tr::kBlockElems;
  const int tid = x.thread();
  const int lane = tid & 31, part = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const std::int64_t tile = x.block_x() % p.max_tiles;
  const std::int64_t j0 = x.block_x() / p.max_tiles * 16;
  const int e = p.tile_expert[tile];
  if (e < 0) return;  // the whole block: past the last tile
  const std::int32_t* ts = p.slots + p.tile_begin[tile];
  const int n = p.tile_count[tile];
  // The activation row of tile column c (columns past the tile's slots repeat its last one:
  // computed, never stored).
  auto act_row = [&](int c) {
    const std::int32_t s = ts[c < n ? c : n - 1];
    return p.act + static_cast<std::size_t>(s / p.in_div) * p.layout.row_bytes;
  };
  const std::uint8_t* bcol = act_row(g);
  const float* dcol[2] = {reinterpret_cast<const float*>(act_row(2 * t) + p.layout.d_off),
                          reinterpret_cast<const float*>(act_row(2 * t + 1) + p.layout.d_off)};
  const std::int64_t rpe = p.rows_per_expert;
  const std::int64_t first = static_cast<std::int64_t>(e) * rpe;
  const std::int64_t jg = j0 + g < rpe ? j0 + g : rpe - 1;
  const std::int64_t jg8 = j0 + g + 8 < rpe ? j0 + g + 8 : rpe - 1;
  const std::uint8_t* rg[kM];
  const std::uint8_t* rg8[kM];
  ZINFER_UNROLL
  for (int m = 0; m < kM; ++m) {
    rg[m] = p.w[m] + static_cast<std::size_t>(first + jg) * p.row_bytes;
    rg8[m] = p.w[m] + static_cast<std::size_t>(first + jg8) * p.row_bytes;
  }
  float acc[kM][4] = {};
  if (part < p.parts) {
    const std::int64_t nb = p.layout.k / kE;
    const std::int64_t b_begin = q8mma::part_begin(nb, p.parts, part);
    const std::int64_t b_end = q8mma::part_begin(nb, p.parts, part + 1);
    const auto* hi = reinterpret_cast<const std::int8_t*>(bcol);
    const auto* lo = reinterpret_cast<const std::int8_t*>(bcol + p.layout.lo_off);
    // kMoeMmaUnroll blocks at a time: every load of the group first (a block past the part's
    // end reloads its last block, never used), then the products and unit terms in K order, so
    // a warp keeps several blocks' weights in flight (at one or two slots a tile the kernel
    // is bound by load latency) and the sums are the same bits as one block at a time.
    for (std::int64_t b0 = b_begin; b0 < b_end; b0 += kMoeMmaUnroll) {
      std::uint32_t bw[kMoeMmaUnroll][4];  // hi words b0, b1; lo words b0, b1
      float da[kMoeMmaUnroll][2];
      std::uint32_t wa[kMoeMmaUnroll][kM][4];
      q8mma::LegacyHead wh[kMoeMmaUnroll][kM][2];
      ZINFER_UNROLL
      for (int u = 0; u < kMoeMmaUnroll; ++u) {
        const std::int64_t b = b0 + u < b_end ? b0 + u : b_end - 1;
        q8mma::act_words(hi, kE * b, t, true, bw[u][0], bw[u][1]);
        q8mma::act_words(lo, kE * b, t, true, bw[u][2], bw[u][3]);
        da[u][0] = dcol[0][b];
        da[u][1] = dcol[1][b];
        ZINFER_UNROLL
        for (int m = 0; m < kM; ++m) {
          Tr::words(rg[m], b, 0, t, wa[u][m][0], wa[u][m][2]);
          Tr::words(rg8[m], b, 0, t, wa[u][m][1], wa[u][m][3]);
          wh[u][m][0] = Tr::head(rg[m], b);
          wh[u][m][1] = Tr::head(rg8[m], b);
        }
      }
      ZINFER_UNROLL
      for (int u = 0; u < kMoeMmaUnroll; ++u) {
        if (b0 + u >= b_end) break;
        ZINFER_UNROLL
        for (int m = 0; m < kM; ++m) {
          int ch[4], cl[4];
          x.mma_k32(ch, wa[u][m], bw[u][0], bw[u][1]);
          x.mma_k32(cl, wa[u][m], bw[u][2], bw[u][3]);
          ZINFER_UNROLL
          for (int i = 0; i < 4; ++i) {
            const float term = q8mma::legacy_term_q16f(wh[u][m][i >> 1], false, da[u][i & 1],
                                                       256 * ch[i] + cl[i], 0.0f);
            acc[m][i] = q8::fadd(acc[m][i], term);
          }
        }
      }
    }
  }
  // The parts' sums meet in shared memory: red[part][m][row][column].
  auto* red = reinterpret_cast<float*>(x.smem());
  auto at = [](int q, int m, int r, int c) { return ((q * kM + m) * 16 + r) * 8 + c; };
  if (part < p.parts) {
    ZINFER_UNROLL
    for (int m = 0; m < kM; ++m) {
      ZINFER_UNROLL
      for (int i = 0; i < 4; ++i) red[at(part, m, g + 8 * (i >> 1), 2 * t + (i & 1))] = acc[m][i];
    }
  }
  x.sync();
  if (tid >= 16 * 8) return;
  const int r = tid & 15, c = tid >> 4;
  const std::int64_t j = j0 + r;
  if (j >= rpe || c >= n) return;
  float v[kM];
  ZINFER_UNROLL
  for (int m = 0; m < kM; ++m) {
    float s = red[at(0, m, r, c)];
    for (int q = 1; q < p.parts; ++q) s = q8::fadd(s, red[at(q, m, r, c)]);
    v[m] = p.bias[m] != nullptr ? q8::fadd(s, p.bias[m][first + j]) : s;
  }
  if constexpr (kGateUp) {
    x.store(ts[c], j, moe_expert_act(p.act_kind, v[0], v[1], p.alpha, p.limit));
  } else {
    x.store(ts[c], j, v[0]);
  }
}

}  // namespace zinfer::cuda::moemma
