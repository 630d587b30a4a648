// The experts' matmuls for few slots a tile (decode; moe_vec.cu): the bits of moe_mma.cuh's
// tensor-core kernel — every output q8mma::mma_reference of its weight row and Q16 activation
// row, then the bias (and, for gate/up, the expert activation) — without its tiles. At one
// token a step each expert has one slot: the tensor-core kernel multiplies 16 weight rows
// against 8 columns of which one is real, and its lanes load each 17-byte block as scattered
// words of 16 rows; here a warp takes one weight row (gate row j and up row j for gate/up), a
// lane one 32-element block of it at a time (MmaTraits<MXFP4>::values: five aligned loads),
// holds its blocks' values in registers for all the tile's slots, and for each slot computes
// its blocks' integer sums with dp4a (exact, as the mma's) and their unit terms
// (legacy_term_q16f). The terms go to shared memory; lane 8m + q adds part q of matrix m in K
// order and lane 0 the parts' sums in part order: q8_mma.cuh's order, the same bits.
//
// A block is kMoeVecWarps warps, weight rows j0 .. j0 + kMoeVecWarps - 1 of one tile (the tile
// index varying fastest, as the tensor-core kernel). Written against a thread context, as
// moe_mma.cuh, so the CPU tests run the same body: thread(), block_x(), smem()
// (kMoeVecSmemBytes), sync() and store(slot, j, v). K's blocks: at most 32 · kMoeVecMaxPasses.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/moe_math.cuh"
#include "kernels/moe_mma.cuh"
#include "kernels/q8_act_layout.h"
#include "kernels/q8_mma.cuh"

namespace zinfer::cuda::moevec {

using moemma::MoeMmaArgs;
using quant::GgmlType;

inline constexpr int kMoeVecWarps = 8;
inline constexpr int kMoeVecThreads = kMoeVecWarps * 32;
// Passes of 32 blocks a lane's registers hold: K up to 4096.
inline constexpr int kMoeVecMaxPasses = 4;
// Shared memory: each warp's unit terms [2 matrices][32 · kMoeVecMaxPasses], then its parts'
// sums [2][kMaxParts].
inline constexpr int kMoeVecTermStride = 32 * kMoeVecMaxPasses;
inline constexpr int kMoeVecWarpFloats = 2 * (kMoeVecTermStride + q8mma::kMaxParts);
inline constexpr std::size_t kMoeVecSmemBytes =
    static_cast<std::size_t>(kMoeVecWarps) * kMoeVecWarpFloats * sizeof(float);

// Blocks of weight rows a tile takes.
ZINFER_HD std::int64_t moe_vec_row_blocks(std::int64_t rows_per_expert) {
  return (rows_per_expert + kMoeVecWarps - 1) / kMoeVecWarps;
}
// Passes of 32 blocks over K (0: K has too many blocks for the kernel).
ZINFER_HD int moe_vec_passes(std::int64_t k) {
  const std::int64_t p = (k / 32 + 31) / 32;
  return p <= kMoeVecMaxPasses ? static_cast<int>(p) : 0;
}

#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <bool kGateUp, int kPasses, typename Ctx>
ZINFER_HD void moe_vec_body(const MoeMmaArgs& p, Ctx& x) {
  using Tr = q8mma::MmaTraits<GgmlType::kMXFP4>;
  constexpr int kM = kGateUp ? 2 : 1;
  const int tid = x.thread();
  const int lane = tid & 31, warp = tid >> 5;
  const std::int64_t tile = x.block_x() % p.max_tiles;
  const std::int64_t j = x.block_x() / p.max_tiles * kMoeVecWarps + warp;
  const int e = p.tile_expert[tile];
  if (e < 0) return;  // the whole block: past the last tile
  const std::int64_t rpe = p.rows_per_expert;
  const bool row_ok = j < rpe;  // a warp past the last row still meets the block's barriers
  const std::int64_t wrow = static_cast<std::int64_t>(e) * rpe + (row_ok ? j : rpe - 1);
  const std::int64_t nb = p.layout.k / Tr::kBlockElems;

  // This lane's blocks b = 32u + lane of the row (a block past K's end reloads the last one,
  // never used): their scales and values, kept for every slot of the tile.
  float wd[kPasses][kM];
  std::uint32_t wv[kPasses][kM][8];
  ZINFER_UNROLL
  for (int u = 0; u < kPasses; ++u) {
    const std::int64_t b = 32 * u + lane < nb ? 32 * u + lane : nb - 1;
    ZINFER_UNROLL
    for (int m = 0; m < kM; ++m) {
      Tr::values(p.w[m] + static_cast<std::size_t>(wrow) * p.row_bytes, b, wd[u][m], wv[u][m]);
    }
  }

  auto* terms = reinterpret_cast<float*>(x.smem()) + warp * kMoeVecWarpFloats;
  float* psum = terms + 2 * kMoeVecTermStride;
  const int own_m = lane >> 3, own_q = lane & 7;
  const bool owner = own_m < kM && own_q < p.parts;
  const std::int64_t own_lo = owner ? q8mma::part_begin(nb, p.parts, own_q) : 0;
  const std::int64_t own_hi = owner ? q8mma::part_begin(nb, p.parts, own_q + 1) : 0;
  const std::int32_t* ts = p.slots + p.tile_begin[tile];
  const int n = p.tile_count[tile];
  for (int c = 0; c < n; ++c) {
    const std::int32_t slot = ts[c];
    const std::uint8_t* arow =
        p.act + static_cast<std::size_t>(slot / p.in_div) * p.layout.row_bytes;
    const auto* dcol = reinterpret_cast<const float*>(arow + p.layout.d_off);
    ZINFER_UNROLL
    for (int u = 0; u < kPasses; ++u) {
      const std::int64_t b = 32 * u + lane;
      if (b < nb) {
        const q8::U4 h0 = q8::ld_u128(arow + 32 * b), h1 = q8::ld_u128(arow + 32 * b + 16);
        const q8::U4 l0 = q8::ld_u128(arow + p.layout.lo_off + 32 * b);
        const q8::U4 l1 = q8::ld_u128(arow + p.layout.lo_off + 32 * b + 16);
        const std::uint32_t hw[8] = {h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w};
        const std::uint32_t lw[8] = {l0.x, l0.y, l0.z, l0.w, l1.x, l1.y, l1.z, l1.w};
        const float da = dcol[b];
        ZINFER_UNROLL
        for (int m = 0; m < kM; ++m) {
          int ch = 0, cl = 0;
          ZINFER_UNROLL
          for (int i = 0; i < 8; ++i) {
            ch = q8::dp4a(wv[u][m][i], hw[i], ch);
            cl = q8::dp4a(wv[u][m][i], lw[i], cl);
          }
          terms[m * kMoeVecTermStride + b] =
              q8mma::legacy_term_q16f({wd[u][m], 0.0f}, false, da, 256 * ch + cl, 0.0f);
        }
      }
    }
    x.sync();
    if (owner) {  // part own_q of matrix own_m: its terms in K order, from 0
      float acc = 0.0f;
      for (std::int64_t b = own_lo; b < own_hi; ++b)
        acc = q8::fadd(acc, terms[own_m * kMoeVecTermStride + b]);
      psum[own_m * q8mma::kMaxParts + own_q] = acc;
    }
    x.sync();
    if (lane == 0 && row_ok) {
      float v[kM];
      ZINFER_UNROLL
      for (int m = 0; m < kM; ++m) {
        float s = psum[m * q8mma::kMaxParts];
        for (int q = 1; q < p.parts; ++q) s = q8::fadd(s, psum[m * q8mma::kMaxParts + q]);
        v[m] = p.bias[m] != nullptr ? q8::fadd(s, p.bias[m][wrow]) : s;
      }
      if constexpr (kGateUp) {
        x.store(slot, j, moe_expert_act(p.act_kind, v[0], v[1], p.alpha, p.limit));
      } else {
        x.store(slot, j, v[0]);
      }
    }
    x.sync();  // the slot's terms and sums are read before the next slot's overwrite them
  }
}

}  // namespace zinfer::cuda::moevec
