// Qwen2 / Qwen2.5 (Yang et al. 2024): the Llama graph with biases on the q, k, v projections
// and NeoX-style RoPE (rotating the two halves of each head), rope base from metadata.
#include "engine/model/llama_family.h"

namespace zinfer::model {

Result<std::unique_ptr<Architecture>> create_qwen2(const Hparams& hp, WeightSource& weights) {
  return create_llama_family(hp, weights, LlamaVariant{true, RopeType::kNeox});
}

}  // namespace zinfer::model
