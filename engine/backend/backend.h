// Backend: what an Llm needs from a device — the ops, the weights in that device's memory,
// and a hook at the start of every forward pass.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/backend/device_report.h"
#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/architecture.h"
#include "engine/model/ops.h"
#include "engine/sample/sample_request.h"
#include "engine/sample/sampler.h"

namespace zinfer::model {

struct BackendConfig {
  int n_threads = 1;                // CPU worker threads
  bool exact_matmul = false;        // float dot products (the oracle); false: Q8 activations
  std::int32_t n_layer = 0;         // KV cache geometry
  std::int32_t n_embd_kv = 0;       // n_head_kv * head_dim
  std::int32_t kv_blocks = 0;       // CPU: KV blocks in the pool (CUDA sizes its own)
  std::int32_t kv_block_size = 16;  // tokens per KV block
  bool q16_act = false;             // see LlmOptions::q16_act
  bool fp16_matmul = false;         // see LlmOptions::fp16_matmul
  bool fp16_prompts = false;        // see LlmOptions::fp16_prompts
  // CUDA only.
  int device_index = 0;             // cuda:<device_index>
  std::int32_t n_ctx = 0;           // the pool must hold at least one full context
  std::int32_t n_seq_max = 1;       // no point sizing the pool beyond n_ctx * n_seq_max
  std::int64_t kv_cache_bytes = 0;  // explicit KV pool size; 0 → from free VRAM
  bool batch_invariant = true;      // see LlmOptions::batch_invariant
  bool cuda_graphs = true;          // see LlmOptions::cuda_graphs
  bool gpu_sampling = true;         // see LlmOptions::gpu_sampling
  bool tensor_cores = false;        // see LlmOptions::tensor_cores
};

// One row of a forward pass's logits to sample.
struct SampleRow {
  std::int32_t logit_row = 0;  // row of the logits tensor (distinct per call)
  sample::SampleRequest request;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Ops& ops() = 0;
  virtual WeightSource& weights() = 0;
  // Called before each forward pass (resets scratch memory).
  virtual void begin_forward() = 0;
  // Runs one forward pass of `arch` over the batch, writing logits for logit_rows. This is
  // where a backend may capture and replay whole steps (CUDA graphs); the default runs the
  // architecture's ops directly.
  virtual Status forward(Architecture& arch, const Batch& batch,
                         std::span<const std::int32_t> logit_rows, Tensor logits) {
    ops().set_row_kinds(batch, logit_rows);
    return arch.forward(ops(), batch, logit_rows, logits);
  }
  // Samples rows of the logits that forward() just wrote. Per row: the token with its
  // logprobs, or that row's error — exactly what sample::sample_logits gives for the row
  // (kInferenceFailed for NaN/+inf logits, kInvalidParameter for an overflow after bias or
  // penalties). The call itself fails only on a device error. The default copies the logits
  // to the host and runs sample_logits; the CUDA backend samples on the device and copies
  // back only the results (the logits rows are then edited in place).
  virtual Result<std::vector<Result<sample::SampleResult>>> sample(Tensor logits,
                                                                   std::span<const SampleRow> rows);
  virtual std::string describe() const = 0;
  // KV blocks of kv_block_size tokens the backend's cache holds (what the Llm's
  // KvBlockAllocator may hand out).
  virtual std::int32_t kv_blocks() const = 0;
  // The device and its memory accounting; the CPU backend holds no device memory.
  virtual DeviceReport device_report() const { return {}; }
  // After loading: proves every weight and KV buffer is plain device memory (CUDA:
  // cudaPointerGetAttributes); kVramResidencyFailed naming the first one that is not.
  virtual Status verify_residency() { return ok_status(); }
};

// The CPU reference backend; weights are read in place from the file mapping.
Result<std::unique_ptr<Backend>> create_cpu_backend(const gguf::GgufFile& file,
                                                    const BackendConfig& config);

// The CUDA backend (engine/backend/cuda, the zinfer_backend_cuda library): weights
// uploaded to VRAM still quantized, a paged KV pool sized from free VRAM. kOutOfMemory (with
// needed and free bytes) when the model and one context of KV cache do not fit;
// kInvalidDevice when this program was built or linked without the CUDA backend.
Result<std::unique_ptr<Backend>> create_cuda_backend(const gguf::GgufFile& file,
                                                     const BackendConfig& config);

// The engine library does not depend on CUDA: zinfer_backend_cuda registers the CUDA factory
// at start-up (engine/backend/cuda/cuda_backend_registration.cpp), create_cuda_backend calls it.
using BackendFactory = Result<std::unique_ptr<Backend>> (*)(const gguf::GgufFile&,
                                                            const BackendConfig&);
void register_cuda_backend_factory(BackendFactory factory);
// CUDA devices visible to this process; 0 when the CUDA backend is not linked or no device
// (or driver) is present. Registered by the CUDA library next to the factory.
using DeviceCounter = int (*)();
void register_cuda_device_counter(DeviceCounter counter);
int cuda_device_count();

}  // namespace zinfer::model
