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
// A block is kMoeVecWarps warps, each taking kRows weight rows of one tile (the tile index
// varying fastest, as the tensor-core kernel). Written against a thread context, as
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
// (weight row, matrix) pairs a warp takes at most: rows per warp × matrices (2 for gate/up).
inline constexpr int kMoeVecMaxPairs = 4;
// Shared memory: each warp's unit terms [pairs][32 · kMoeVecMaxPasses], then its parts' sums
// [pairs][kMaxParts].
inline constexpr int kMoeVecTermStride = 32 * kMoeVecMaxPasses;
inline constexpr int kMoeVecWarpFloats = kMoeVecMaxPairs * (kMoeVecTermStride + q8mma::kMaxParts);
inline constexpr std::size_t kMoeVecSmemBytes =
    static_cast<std::size_t>(kMoeVecWarps) * kMoeVecWarpFloats * sizeof(float);

// Blocks of weight rows a tile takes (kRows rows a warp).
ZINFER_HD std::int64_t moe_vec_row_blocks(std::int64_t rows_per_expert, int rows = 1) {
  const std::int64_t per_block = static_cast<std::int64_t>(kMoeVecWarps) * rows;
  return (rows_per_expert + per_block - 1) / per_block;
}
// Passes of 32 blocks over K (0: K has too many blocks for the kernel).
ZINFER_HD int moe_vec_passes(std::int64_t k) {
  const std::int64_t p = (k / 32 + 31) / 32;
  return p <= kMoeVecMaxPasses ? static_cast<int>(p) : 0;
}

// kRows: weight rows a warp takes (rows j0 + r · kMoeVecWarps, r < kRows), their loads all
// issued before any is used — more bytes in flight a warp and fewer blocks, each paying the
// routing's dependent reads once. kRows · matrices <= kMoeVecMaxPairs.
#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <bool kGateUp, int kPasses, int kRows, typename Ctx>
ZINFER_HD void moe_vec_body(const MoeMmaArgs& p, Ctx& x) {
  using Tr = q8mma::MmaTraits<GgmlType::kMXFP4>;
  constexpr int kM = kGateUp ? 2 : 1;
  constexpr int kPairs = kRows * kM;  // pair i = r · kM + m
  static_assert(kPairs <= kMoeVecMaxPairs, "rows a warp × matrices");
  const int tid = x.thread();
  const int lane = tid & 31, warp = tid >> 5;
  const std::int64_t tile = x.block_x() % p.max_tiles;
  const std::int64_t j0 = x.block_x() / p.max_tiles * kMoeVecWarps * kRows + warp;
  const int e = p.tile_expert[tile];
  if (e < 0) return;  // the whole block: past the last tile
  const std::int64_t rpe = p.rows_per_expert;
  const std::int64_t nb = p.layout.k / Tr::kBlockElems;

  // This lane's blocks b = 32u + lane of each row (a block past K's end reloads the last one,
  // never used; a row past the expert's last computes its last, never stored): their words,
  // every load issued before any is decoded, kept for every slot of the tile.
  const std::uint8_t* wr[kPairs];
  std::uint32_t ww[kPasses][kPairs][5];
  ZINFER_UNROLL
  for (int r = 0; r < kRows; ++r) {
    const std::int64_t j = j0 + r * kMoeVecWarps;
    const std::int64_t wrow = static_cast<std::int64_t>(e) * rpe + (j < rpe ? j : rpe - 1);
    ZINFER_UNROLL
    for (int m = 0; m < kM; ++m)
      wr[r * kM + m] = p.w[m] + static_cast<std::size_t>(wrow) * p.row_bytes;
  }
  ZINFER_UNROLL
  for (int u = 0; u < kPasses; ++u) {
    const std::int64_t b = 32 * u + lane < nb ? 32 * u + lane : nb - 1;
    ZINFER_UNROLL
    for (int i = 0; i < kPairs; ++i) Tr::load_words(Tr::block(wr[i], b), ww[u][i]);
  }

  auto* terms = reinterpret_cast<float*>(x.smem()) + warp * kMoeVecWarpFloats;
  float* psum = terms + kMoeVecMaxPairs * kMoeVecTermStride;
  const int own_i = lane >> 3, own_q = lane & 7;  // lane 8i + q: part q of pair i
  const bool owner = own_i < kPairs && own_q < p.parts;
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
        for (int i = 0; i < kPairs; ++i) {
          float d = 0.0f;
          std::uint32_t v[8];
          Tr::decode(Tr::block(wr[i], b), ww[u][i], d, v);
          int ch = 0, cl = 0;
          ZINFER_UNROLL
          for (int k = 0; k < 8; ++k) {
            ch = q8::dp4a(v[k], hw[k], ch);
            cl = q8::dp4a(v[k], lw[k], cl);
          }
          terms[i * kMoeVecTermStride + b] =
              q8mma::legacy_term_q16f({d, 0.0f}, false, da, 256 * ch + cl, 0.0f);
        }
      }
    }
    x.sync();
    if (owner) {  // part own_q of pair own_i: its terms in K order, from 0
      float acc = 0.0f;
      for (std::int64_t b = own_lo; b < own_hi; ++b)
        acc = q8::fadd(acc, terms[own_i * kMoeVecTermStride + b]);
      psum[own_i * q8mma::kMaxParts + own_q] = acc;
    }
    x.sync();
    if (lane < kRows) {  // lane r: row r's outputs
      const std::int64_t j = j0 + lane * kMoeVecWarps;
      if (j < rpe) {
        const std::int64_t wrow = static_cast<std::int64_t>(e) * rpe + j;
        float v[kM];
        ZINFER_UNROLL
        for (int m = 0; m < kM; ++m) {
          const float* ps = psum + (lane * kM + m) * q8mma::kMaxParts;
          float s = ps[0];
          for (int q = 1; q < p.parts; ++q) s = q8::fadd(s, ps[q]);
          v[m] = p.bias[m] != nullptr ? q8::fadd(s, p.bias[m][wrow]) : s;
        }
        if constexpr (kGateUp) {
          x.store(slot, j, moe_expert_act(p.act_kind, v[0], v[1], p.alpha, p.limit));
        } else {
          x.store(slot, j, v[0]);
        }
      }
    }
    x.sync();  // the slot's terms and sums are read before the next slot's overwrite them
  }
}

}  // namespace zinfer::cuda::moevec
