// The Llama decoder (pre-RMSNorm, RoPE, GQA attention, SwiGLU) and its variants that differ
// only in small switches (Qwen2: QKV biases and NeoX RoPE).
#pragma once

#include <memory>

#include "engine/model/architecture.h"

namespace zinfer::model {

struct LlamaVariant {
  bool qkv_bias = false;  // q/k/v projections carry biases (Qwen2)
  RopeType rope_type = RopeType::kNorm;
};

Result<std::unique_ptr<Architecture>> create_llama_family(const Hparams& hp, WeightSource& weights,
                                                          const LlamaVariant& variant);

}  // namespace zinfer::model
