// Hyperparameters of a model, read from GGUF metadata keyed by general.architecture.
#pragma once

#include <cstdint>
#include <string>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"

namespace zinfer::model {

enum class RopeType : std::uint8_t {
  kNorm = 0,  // rotate adjacent pairs (x[2i], x[2i+1]) — llama, as converted to GGUF
  kNeox = 2,  // rotate halves (x[i], x[i + n_rot/2]) — qwen2, phi3, gemma3
};

struct Hparams {
  std::string arch;                  // general.architecture
  std::string name;                  // general.name (informational)
  std::int32_t n_layer = 0;          // <arch>.block_count
  std::int32_t n_embd = 0;           // <arch>.embedding_length
  std::int32_t n_ff = 0;             // <arch>.feed_forward_length
  std::int32_t n_head = 0;           // <arch>.attention.head_count
  std::int32_t n_head_kv = 0;        // <arch>.attention.head_count_kv (default n_head)
  std::int32_t head_dim = 0;         // <arch>.attention.key_length (default n_embd / n_head)
  std::int32_t n_rot = 0;            // <arch>.rope.dimension_count (default head_dim)
  std::int32_t n_vocab = 0;          // <arch>.vocab_size or the tokenizer's token count
  std::int32_t n_ctx_train = 0;      // <arch>.context_length
  float rope_base = 10000.0f;        // <arch>.rope.freq_base
  float rope_freq_scale = 1.0f;      // 1 / <arch>.rope.scaling.factor (linear scaling)
  float norm_eps = 1e-5f;            // layer_norm_rms_epsilon or layer_norm_epsilon
  std::int32_t sliding_window = 0;   // <arch>.attention.sliding_window (0: none); which
                                     // layers use it is the architecture's business
  float final_logit_softcap = 0.0f;  // <arch>.final_logit_softcapping (0: off)
  // Mixture of experts (gpt-oss): 0 experts for dense models.
  std::int32_t n_expert = 0;       // <arch>.expert_count
  std::int32_t n_expert_used = 0;  // <arch>.expert_used_count
  std::int32_t n_ff_exp = 0;  // <arch>.expert_feed_forward_length (default feed_forward_length)
  // RoPE scaling as the file names it; rope_freq_scale above is 1 / factor whatever the type.
  // The YaRN values are used by the architectures that implement YaRN (gpt-oss).
  std::string rope_scaling_type;  // <arch>.rope.scaling.type ("", "linear", "yarn", ...)
  std::int32_t n_ctx_orig = 0;    // <arch>.rope.scaling.original_context_length (n_ctx_train)
  float yarn_beta_fast = 32.0f;   // <arch>.rope.scaling.yarn_beta_fast
  float yarn_beta_slow = 1.0f;    // <arch>.rope.scaling.yarn_beta_slow

  std::int32_t n_embd_q() const { return n_head * head_dim; }
  std::int32_t n_embd_kv() const { return n_head_kv * head_dim; }
};

// Reads the generic hyperparameters; the architecture file checks what it needs beyond them.
Result<Hparams> read_hparams(const gguf::GgufFile& file);

}  // namespace zinfer::model
