// launch_paged_attention: causal attention of each query row over its own sequence's keys
// in a paged f32 KV cache — many sequences of different lengths in one launch, GQA, an
// optional sliding window, tanh soft-capping and learned sinks (gpt-oss), fp32 softmax.
//
// KV is stored as f32 so the cache holds exactly the values the CPU oracle holds; an f16
// (or fp8) cache halving the bytes read per step is a future option with its own tolerance.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// Per-token metadata, device arrays of q.rows entries.
struct AttentionBatch {
  const std::int32_t* positions = nullptr;     // position of the query token in its sequence
  const std::int32_t* bt_offsets = nullptr;    // start of its sequence's table in block_tables
  const std::int32_t* block_tables = nullptr;  // concatenated block tables of all sequences
  std::int32_t block_size = 16;
};

struct AttentionArgs {
  std::int32_t n_head = 0;
  std::int32_t n_head_kv = 0;  // divides n_head
  std::int32_t head_dim = 0;   // <= kMaxHeadDim
  float scale = 1.0f;          // applied to q·k
  std::int32_t window = 0;     // keys with pos > q_pos - window; 0 → all
  float softcap = 0.0f;        // 0 → off
  // Learned sinks: device f32 [n_head], one extra logit per head that joins the softmax's max
  // and denominator but has no value row (CpuOps::do_attention). Null → none.
  const float* sinks = nullptr;
  // SMs of the device (CudaContext::info().sm_count): whether grouping a KV head's query heads
  // into one block still fills the GPU. 0 → assume an H200's 132.
  std::int32_t sm_count = 0;
};

inline constexpr std::int32_t kMaxHeadDim = 256;

// Tests: the most query heads one block computes (1, 4 or 8; 0 → the default: the GQA group,
// up to 8, when query rows × KV heads fill two blocks an SM, else 1). The results are the same
// bits whatever the setting.
void set_attention_head_group(int most);

// out, q: [rows][n_head * head_dim]; k_cache, v_cache: one layer's [n_slots][n_head_kv *
// head_dim]. Keys/values of the query tokens themselves must already be stored.
Status launch_paged_attention(MatrixView out, MatrixView q, const float* k_cache,
                              const float* v_cache, const AttentionBatch& batch,
                              const AttentionArgs& a, cudaStream_t stream);

}  // namespace zinfer::cuda
