// The mixture-of-experts FFN on the GPU, tokens grouped by expert without a host round trip:
//
//   launch_moe_group     routing ids [rows][k] → the slots (r·k + j) grouped by expert and
//                        tiles of ≤ kMoeTileRows slots of one expert (one block)
//   launch_moe_gate_up   h[slot] = act(x[slot / k]·Gₑᵀ + gate_b_e, x[slot / k]·Uₑᵀ + up_b_e)
//   launch_moe_down      y[slot] = h[slot]·Dₑᵀ + down_b_e
//   launch_moe_combine   out[r] = Σⱼ weights[r][j] · y[r·k + j], j ascending (or, with
//                        accumulate, out[r] += that sum: the residual add)
//
// The expert kernels take one tile a block (one warp per weight row, as matvec.cu): a
// slot's products are each lane's fmaf chain over the row's 8-element groups, then the
// warp butterfly — an order set by K alone, so a token's output does not depend on which
// other tokens share its experts (batch invariance). Every grid is sized from the shapes
// (moe_max_tiles), so a step can be captured as a CUDA graph; tiles past the last real one
// are marked expert -1 and their blocks exit.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"
#include "kernels/moe_math.cuh"

namespace zinfer::cuda {

// The grouping of one layer's routed slots, in device scratch the caller provides.
struct MoeRouting {
  std::int32_t* slots = nullptr;        // [n_slots] slot ids grouped by expert, ascending in one
  std::int32_t* tile_expert = nullptr;  // [max_tiles] the tile's expert, -1 past the last tile
  std::int32_t* tile_begin = nullptr;   // [max_tiles] its first entry in slots
  std::int32_t* tile_count = nullptr;   // [max_tiles] its number of slots (1..kMoeTileRows)
  std::int64_t n_slots = 0;             // rows · k
  std::int32_t k = 0;                   // experts per row
  std::int32_t n_expert = 0;            // <= kMoeMaxExperts
  std::int64_t max_tiles = 0;           // moe_max_tiles(n_slots, n_expert)
};

// Device int32s the routing needs (slots and the three tile arrays).
inline std::int64_t moe_routing_ints(std::int64_t n_slots, std::int64_t max_tiles) {
  return n_slots + 3 * max_tiles;
}

// Fills r from ids [n_slots / k][k] (expert ids as floats, topk_softmax's output). An id
// outside [0, n_expert) joins no expert; its slot's output is left unwritten, and
// launch_moe_combine skips it.
Status launch_moe_group(MatrixView ids, const MoeRouting& r, cudaStream_t stream);

// The experts' stacked matrices: rows [e · rows_per_expert, (e + 1) · rows_per_expert) of
// w are expert e's; bias (f32 [n_expert][rows_per_expert]) may be null.
struct MoeMatrix {
  QuantMatrixView w;  // [n_expert · rows_per_expert][K]
  std::int64_t rows_per_expert = 0;
  const float* bias = nullptr;
};

struct MoeActArgs {
  MoeAct act = MoeAct::kSwigluOai;
  float alpha = 1.702f;  // kSwigluOai
  float limit = 7.0f;    // kSwigluOai
};

// x: [n_slots / k][K]; h: [n_slots][n_ff]. gate and up share type and shape.
Status launch_moe_gate_up(MatrixView h, MatrixView x, const MoeRouting& r, const MoeMatrix& gate,
                          const MoeMatrix& up, const MoeActArgs& act, cudaStream_t stream);

// h: [n_slots][n_ff]; y: [n_slots][n_embd].
Status launch_moe_down(MatrixView y, MatrixView h, const MoeRouting& r, const MoeMatrix& down,
                       cudaStream_t stream);

// The same two stages on tensor cores (moe_mma.cuh) from Q16 activation rows (xq: x's rows,
// hq: h's rows, quantized by launch_quantize_act into q16_act_layout(K)): every output is
// q8mma::mma_reference of its weight and activation rows, then the bias (and activation).
// Taken for MXFP4 experts (moe_mma_supported); K a multiple of 32.
bool moe_mma_supported(const MoeMatrix& m);
Status launch_moe_mma_gate_up(MatrixView h, const std::uint8_t* xq, std::int64_t x_rows,
                              std::int64_t k, const MoeRouting& r, const MoeMatrix& gate,
                              const MoeMatrix& up, const MoeActArgs& act, cudaStream_t stream);
Status launch_moe_mma_down(MatrixView y, const std::uint8_t* hq, std::int64_t k,
                           const MoeRouting& r, const MoeMatrix& down, cudaStream_t stream);

// out: [rows][n_embd]; y: [rows · k][n_embd]; weights, ids: [rows][k].
Status launch_moe_combine(MatrixView out, MatrixView y, MatrixView weights, MatrixView ids,
                          std::int32_t n_expert, bool accumulate, cudaStream_t stream);

}  // namespace zinfer::cuda
