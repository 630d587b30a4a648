// The CUDA backend: a CudaContext, the weights uploaded to VRAM (CudaWeights) and CudaOps
// with a KV pool sized from free VRAM. Created through model::create_cuda_backend (the
// factory registered by cuda_backend_registration.cpp).
#pragma once

#include <cstdint>
#include <memory>

#include "engine/backend/backend.h"
#include "engine/gguf/gguf_file.h"

namespace zinfer::cuda {

// VRAM kept free beyond weights and KV: activation scratch, the GEMM dequant tile, cuBLAS
// workspace, staging.
inline constexpr std::int64_t kWorkingReserveBytes = std::int64_t{384} << 20;
// Share of the VRAM left after weights and the reserve that an automatic KV pool takes.
inline constexpr double kKvFreeFraction = 0.9;

struct KvPlan {
  std::int32_t blocks = 0;
  std::int64_t bytes = 0;
};

// The KV pool for a model of weight_bytes on a device with free_bytes free: kv_cache_bytes
// if set, else kKvFreeFraction of what is left, capped at n_ctx * n_seq_max tokens.
// kOutOfMemory, with needed and free bytes, when weights + one n_ctx context + the reserve do
// not fit (or kv_cache_bytes is too large or too small). Pure arithmetic, tested on CPU.
Result<KvPlan> plan_kv_pool(const model::BackendConfig& config, std::int64_t weight_bytes,
                            std::int64_t free_bytes, int device_index);

Result<std::unique_ptr<model::Backend>> create_cuda_backend_impl(
    const gguf::GgufFile& file, const model::BackendConfig& config);

}  // namespace zinfer::cuda
