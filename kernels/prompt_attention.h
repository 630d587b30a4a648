// launch_prompt_attention: causal attention of prompt rows over their sequences' paged f32 KV
// cache on the fp16 tensor cores, FlashAttention-style — a block per (tile of up to 64 query
// rows of one sequence, query head), key and value tiles of 64 positions staged once in shared
// memory as halves, S = Q·Kᵀ and O += P·V on mma.sync, an online softmax in fp32.
//
// Its numerics are those of cpu::f16_tile_attention (engine/backend/cpu/f16_tile_attention.h),
// which the CPU backend computes for the same rows: fp16 q, k, v and probabilities, fp32 sums,
// key tiles counted from the sequence's first position. A row's arithmetic depends only on
// its own query, position and keys — not on the rows sharing its tile, its chunk or the batch —
// so a prompt computed in any chunking or beside any other sequence has the same bits. Used for
// prompt rows under per-token numerics (LlmOptions::fp16_prompts) and every row under fp16
// operands (LlmOptions::fp16_matmul); generated rows keep the fp32 paged_attention kernel.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"
#include "kernels/paged_attention.h"

namespace zinfer::cuda {

// Query rows a tile (a block).
inline constexpr std::int32_t kPromptTileRows = 64;

// The launch's query tiles. Each is up to kPromptTileRows consecutive rows of one sequence at
// increasing positions (rows of one model::SeqSpan).
struct PromptTiles {
  const std::int32_t* tiles = nullptr;  // device [n][2]: first row, rows; null → tile i is row i
  std::int32_t n = 0;
};

// out, q: [rows][n_head * head_dim]; k_cache, v_cache: one layer's [n_slots][n_head_kv *
// head_dim], the tiles' own keys and values already stored (launch_kv_store). batch: positions
// and block tables as for launch_paged_attention (batch.store must be empty). head_dim <= 256.
// Rows outside every tile are not written.
Status launch_prompt_attention(MatrixView out, MatrixView q, const float* k_cache,
                               const float* v_cache, const AttentionBatch& batch,
                               const AttentionArgs& a, const PromptTiles& tiles,
                               cudaStream_t stream);

}  // namespace zinfer::cuda
