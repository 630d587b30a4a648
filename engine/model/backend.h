// Backend: what an Llm needs from a device — the ops, the weights in that device's memory,
// and a hook at the start of every forward pass.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/architecture.h"
#include "engine/model/ops.h"

namespace zinfer::model {

struct BackendConfig {
  int n_threads = 1;
  bool exact_matmul = false;
  std::int32_t n_layer = 0;
  std::int32_t n_embd_kv = 0;
  std::int32_t kv_blocks = 0;
  std::int32_t kv_block_size = 16;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Ops& ops() = 0;
  virtual WeightSource& weights() = 0;
  // Called before each forward pass (resets scratch memory).
  virtual void begin_forward() = 0;
  virtual std::string describe() const = 0;
};

// The CPU reference backend; weights are read in place from the file mapping.
Result<std::unique_ptr<Backend>> create_cpu_backend(const gguf::GgufFile& file, const BackendConfig& config);

}  // namespace zinfer::model
