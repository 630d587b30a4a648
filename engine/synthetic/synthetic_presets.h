// Presets for synthetic models: the real hyperparameters of published models plus tiny
// variants, and per architecture the tensor list and extra metadata llama.cpp's converter
// writes. Adding an architecture = one SyntheticArch entry; a model = one preset entry.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gguf/gguf_writer.h"
#include "engine/synthetic/synthetic_vocab.h"

namespace zinfer::model {

struct SyntheticPreset {
  std::string_view name;        // CLI name, e.g. "qwen2.5-7b"
  std::string_view arch;        // general.architecture
  std::string_view model_name;  // general.name
  std::string_view size_label;  // general.size_label
  std::int32_t n_layer;         // block_count
  std::int32_t n_ctx;           // context_length
  std::int32_t n_embd;          // embedding_length
  std::int32_t n_ff;            // feed_forward_length
  std::int32_t n_head;          // attention.head_count
  std::int32_t n_head_kv;       // attention.head_count_kv
  std::int32_t n_vocab;         // rows of token_embd
  float rope_base;              // rope.freq_base
  float rms_eps;                // attention.layer_norm_rms_epsilon
  bool tied_output;             // no output.weight: logits use token_embd
  VocabStyle vocab;
  std::int32_t key_length = 0;      // attention.key_length/value_length when not n_embd / n_head
  std::int32_t sliding_window = 0;  // attention.sliding_window (0: not written)
  // Mixture of experts and YaRN (gpt-oss); 0 for the dense presets.
  std::int32_t n_expert = 0;         // expert_count
  std::int32_t n_expert_used = 0;    // expert_used_count
  std::int32_t n_ff_exp = 0;         // expert_feed_forward_length
  float rope_scaling_factor = 0.0f;  // rope.scaling.factor of type yarn (0: not written)
  std::int32_t n_ctx_orig = 0;       // rope.scaling.original_context_length
  std::int32_t head_dim() const { return key_length > 0 ? key_length : n_embd / n_head; }
};

// What a tensor is, which decides its type (weights follow the requested type; norms and
// biases stay F32 as in llama.cpp) and its random distribution.
// kExpert: stacked MoE expert matrices (SyntheticOptions::expert_type); kRouter: a MoE
// router, kept F32 as llama.cpp's quantize never quantizes ffn_gate_inp.
enum class TensorRole { kEmbedding, kOutput, kMatmul, kNorm, kBias, kExpert, kRouter };

struct TensorSpec {
  std::string name;
  std::vector<std::int64_t> ne;  // ne[0] contiguous
  TensorRole role;
};

// One architecture: its tensors (in file order) and the metadata keys beyond the ones
// every architecture shares (block_count, context_length, ..., general.file_type).
struct SyntheticArch {
  std::string_view name;  // general.architecture
  std::vector<TensorSpec> (*tensors)(const SyntheticPreset& p, std::int32_t n_layer);
  void (*extra_metadata)(const SyntheticPreset& p, gguf::GgufWriter& w);
  bool gqa_rope_keys = true;  // writes attention.head_count_kv and rope.freq_base (not GPT-2)
  bool rms_norm = true;       // layer_norm_rms_epsilon, else layer_norm_epsilon (GPT-2)
};

std::span<const SyntheticPreset> synthetic_presets();
std::span<const SyntheticArch> synthetic_archs();
const SyntheticPreset* find_synthetic_preset(std::string_view name);
const SyntheticArch* find_synthetic_arch(std::string_view name);

}  // namespace zinfer::model
