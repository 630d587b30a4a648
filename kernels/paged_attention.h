// launch_paged_attention: causal attention of each query row over its own sequence's keys
// in a paged f32 KV cache — many sequences of different lengths in one launch, GQA, an
// optional sliding window, tanh soft-capping and learned sinks (gpt-oss), fp32 softmax.
//
// KV is stored as f32 so the cache holds exactly the values the CPU oracle holds; an f16
// (or fp8) cache halving the bytes read per step is a future option with its own tolerance.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// The new tokens' key and value rows, stored into the cache by the attention kernel itself
// (instead of launch_kv_store before it): each block writes its row's rows of its KV head
// before it reads any key. Only for launches where every row is its sequence's only new token
// (decode steps) — a row then reads no other row's new key; blocks of the same row and KV head
// write the same bytes to the same slot.
struct AttentionStore {
  const float* k = nullptr;  // [rows][n_head_kv * head_dim]; null → keys already stored
  std::int64_t k_stride = 0;
  const float* v = nullptr;
  std::int64_t v_stride = 0;
  const std::int32_t* slots = nullptr;  // [rows] KV slot of each row's token
};

// Per-token metadata, device arrays of q.rows entries.
struct AttentionBatch {
  const std::int32_t* positions = nullptr;     // position of the query token in its sequence
  const std::int32_t* bt_offsets = nullptr;    // start of its sequence's table in block_tables
  const std::int32_t* block_tables = nullptr;  // concatenated block tables of all sequences
  std::int32_t block_size = 16;
  AttentionStore store;  // decode steps: the rows' own keys and values, stored in the kernel
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

// Splitting rows over their keys (flash-decoding): a row of n keys is cut into ceil(n / keys)
// splits of `keys` consecutive keys from its first — boundaries set by the row's own length,
// so a row computed alone and in any batch has the same bits — each split one block, merged
// in split order by a second kernel. It lets a few long rows (batch-1 decode at long
// contexts) fill the GPU. part: scratch of attention_split_floats(...) floats.
struct AttentionSplit {
  std::int32_t keys = 0;    // keys a split (a multiple of 32); 0 → no split
  std::int32_t splits = 1;  // most splits of any row (the grid's z): ceil(max keys / keys)
  float* part = nullptr;    // [rows][n_head][splits][head_dim + 2]: m, l, value sums
};

// Keys a split (0: rows are not split; the default until measured on a GPU), as set by
// set_attention_split_keys, else ZINFER_ATTN_SPLIT (a multiple of 32).
std::int32_t attention_split_keys();
void set_attention_split_keys(std::int32_t keys);  // tests; -1 → back to the environment

// The split of a launch whose rows hold at most max_keys keys (none when one split does),
// without its scratch; and the scratch floats it needs.
AttentionSplit attention_split(std::int64_t max_keys);
std::size_t attention_split_floats(std::int64_t rows, const AttentionArgs& a,
                                   const AttentionSplit& sp);

// Whether decode steps store their keys and values inside the attention kernel
// (AttentionStore) and rope q and k in one launch: set_attention_io_fused, else the
// environment — on unless ZINFER_ATTN_FUSE=0 (measured on an H100: +4% batch-1 decode at the
// 0.5B shape). The same bits either way.
bool attention_io_fused();
void set_attention_io_fused(int on);  // tests: 1 on, 0 off, -1 → back to the environment

// Tests: the most query heads one block computes (1, 4 or 8; 0 → the default: the GQA group,
// up to 8, when query rows × KV heads fill two blocks an SM, else 1). The results are the same
// bits whatever the setting.
void set_attention_head_group(int most);

// out, q: [rows][n_head * head_dim]; k_cache, v_cache: one layer's [n_slots][n_head_kv *
// head_dim]. Keys/values of the query tokens themselves must already be stored, or be given
// in batch.store. split: rows cut over their keys (AttentionSplit), or none.
Status launch_paged_attention(MatrixView out, MatrixView q, float* k_cache, float* v_cache,
                              const AttentionBatch& batch, const AttentionArgs& a,
                              cudaStream_t stream, const AttentionSplit& split = {});

}  // namespace zinfer::cuda
