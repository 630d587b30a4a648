// Synthetic GGUF models: a preset's real shapes, llama.cpp-converter metadata, a working
// BPE vocabulary and deterministic random weights of a requested type, streamed to disk.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/quant/ggml_type.h"
#include "engine/synthetic/synthetic_presets.h"

namespace zinfer::model {

// Types of token_embd / output.weight.
enum class EmbedOutputTypes {
  kRequested,    // the requested type, like every other matrix
  kLlamaCppMix,  // as llama.cpp's quantize: output (or tied token_embd) → Q6_K, or Q8_0
                 // when its rows are not a multiple of 256; F32/F16/BF16 files unchanged
};

struct SyntheticOptions {
  std::string preset;                             // a synthetic_presets() name
  quant::GgmlType type = quant::GgmlType::kQ4_K;  // requested weight type
  std::uint64_t seed = 0;                         // same seed → byte-identical file
  std::int32_t n_layers = 0;                      // 0 → the preset's block count
  EmbedOutputTypes embed_output = EmbedOutputTypes::kRequested;
  // Type of the stacked MoE expert matrices (TensorRole::kExpert): MXFP4 as in every
  // gpt-oss GGUF release.
  quant::GgmlType expert_type = quant::GgmlType::kMXFP4;
  float weight_std = 0.03f;  // std of dequantized matrices
  bool zero_sparse = false;  // all tensor data left as zero-filled holes (a sparse file): for
                             // start-up tests with models larger than any device, or disk
};

// One tensor as it will be written.
struct PlannedTensor {
  std::string name;
  std::vector<std::int64_t> ne;
  TensorRole role;
  quant::GgmlType requested;  // before the block-size fallback
  quant::GgmlType type;       // written
};

struct SyntheticPlan {
  const SyntheticPreset* preset = nullptr;
  const SyntheticArch* arch = nullptr;
  std::int32_t n_layers = 0;
  std::vector<PlannedTensor> tensors;
};

struct SyntheticReport {
  std::vector<PlannedTensor> fallbacks;  // tensors whose type differs from the requested one
  std::uint64_t file_size = 0;
  std::uint64_t n_params = 0;
  std::size_t n_tensors = 0;
};

// llama.cpp's substitute when ne0 is not a multiple of the type's block size:
// Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0, Q2_K/Q3_K→Q4_0, otherwise (or if that still does not
// divide ne0) F16.
quant::GgmlType fallback_type(quant::GgmlType requested, std::int64_t ne0);
// LLAMA_FTYPE value for general.file_type.
std::uint32_t llama_file_type(quant::GgmlType type, EmbedOutputTypes embed_output);
// Types usable for synthetic weights (F32, F16, BF16, Q4_0 ... Q8_0, Q2_K ... Q6_K, MXFP4).
bool synthetic_type_supported(quant::GgmlType type);

// Tensor list and types; kInvalidParameter names the bad option (preset, type, layers).
Result<SyntheticPlan> plan_synthetic_model(const SyntheticOptions& options);
// Writes the model to path.
Result<SyntheticReport> write_synthetic_model(const SyntheticOptions& options,
                                              const std::string& path);

}  // namespace zinfer::model
