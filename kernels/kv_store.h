// launch_kv_store: writes a batch's new key and value rows into their paged-KV-cache
// slots (slot = block_table[pos / block_size] * block_size + pos % block_size, resolved on
// the host per token).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// k, v: [n_tokens][n_embd_kv]; k_cache, v_cache: one layer's [n_slots][n_embd_kv] f32;
// slots: device array of n_tokens slot indices (< n_slots).
Status launch_kv_store(MatrixView k, MatrixView v, float* k_cache, float* v_cache,
                       const std::int32_t* slots, cudaStream_t stream);

}  // namespace zinfer::cuda
