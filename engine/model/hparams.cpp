// Reads Hparams from GGUF metadata; every missing or invalid key is a typed error naming it.
#include "engine/model/hparams.h"

#include <cmath>

namespace zinfer::model {
namespace {

Error bad(const std::string& key, const std::string& why) {
  return make_error(ErrorCode::kModelLoadFailed, "metadata '" + key + "': " + why);
}

}  // namespace

Result<Hparams> read_hparams(const gguf::GgufFile& file) {
  Hparams hp;
  ZINFER_ASSIGN_OR_RETURN(hp.arch, file.get_string("general.architecture"));
  ZINFER_ASSIGN_OR_RETURN(hp.name, file.get_string_or("general.name", ""));
  const std::string a = hp.arch + ".";
  auto u32 = [&](const std::string& key) { return file.get_u32(a + key); };

  ZINFER_ASSIGN_OR_RETURN(std::uint32_t n_layer, u32("block_count"));
  ZINFER_ASSIGN_OR_RETURN(std::uint32_t n_embd, u32("embedding_length"));
  ZINFER_ASSIGN_OR_RETURN(std::uint32_t n_ff, u32("feed_forward_length"));
  ZINFER_ASSIGN_OR_RETURN(std::uint32_t n_head, u32("attention.head_count"));
  ZINFER_ASSIGN_OR_RETURN(std::uint32_t n_head_kv,
                          file.get_u32_or(a + "attention.head_count_kv", n_head));
  ZINFER_ASSIGN_OR_RETURN(std::uint32_t n_ctx, file.get_u32_or(a + "context_length", 2048));
  if (n_layer == 0 || n_layer > 1024) return bad(a + "block_count", "must be in [1, 1024]");
  if (n_embd == 0 || n_embd > 65536) return bad(a + "embedding_length", "must be in [1, 65536]");
  if (n_head == 0 || n_head > 1024) return bad(a + "attention.head_count", "must be in [1, 1024]");
  if (n_head_kv == 0 || n_head % n_head_kv != 0) {
    return bad(a + "attention.head_count_kv",
               "must divide head_count (" + std::to_string(n_head) + ")");
  }
  if (n_ff > (1u << 20)) return bad(a + "feed_forward_length", "too large");
  const std::uint32_t default_head_dim = n_embd / n_head;
  ZINFER_ASSIGN_OR_RETURN(std::uint32_t head_dim,
                          file.get_u32_or(a + "attention.key_length", default_head_dim));
  if (head_dim == 0 || head_dim > 1024 || head_dim % 2 != 0) {
    return bad(a + "attention.key_length", "head dimension must be even and in [2, 1024]");
  }
  // The KV cache holds one head size for both K and V.
  ZINFER_ASSIGN_OR_RETURN(std::uint32_t v_dim,
                          file.get_u32_or(a + "attention.value_length", head_dim));
  if (v_dim != head_dim)
    return bad(a + "attention.value_length", "must equal attention.key_length");
  ZINFER_ASSIGN_OR_RETURN(std::uint32_t n_rot,
                          file.get_u32_or(a + "rope.dimension_count", head_dim));
  if (n_rot > head_dim || n_rot % 2 != 0)
    return bad(a + "rope.dimension_count", "must be even and ≤ head dim");

  hp.n_layer = static_cast<std::int32_t>(n_layer);
  hp.n_embd = static_cast<std::int32_t>(n_embd);
  hp.n_ff = static_cast<std::int32_t>(n_ff);
  hp.n_head = static_cast<std::int32_t>(n_head);
  hp.n_head_kv = static_cast<std::int32_t>(n_head_kv);
  hp.head_dim = static_cast<std::int32_t>(head_dim);
  hp.n_rot = static_cast<std::int32_t>(n_rot);
  hp.n_ctx_train = static_cast<std::int32_t>(n_ctx);

  ZINFER_ASSIGN_OR_RETURN(hp.rope_base, file.get_f32_or(a + "rope.freq_base", 10000.0f));
  if (!std::isfinite(hp.rope_base) || hp.rope_base <= 0.0f)
    return bad(a + "rope.freq_base", "must be > 0");
  ZINFER_ASSIGN_OR_RETURN(float scaling, file.get_f32_or(a + "rope.scaling.factor", 1.0f));
  if (!std::isfinite(scaling) || scaling <= 0.0f)
    return bad(a + "rope.scaling.factor", "must be > 0");
  hp.rope_freq_scale = 1.0f / scaling;

  const std::string rms_key = a + "attention.layer_norm_rms_epsilon";
  const std::string ln_key = a + "attention.layer_norm_epsilon";
  if (file.has(rms_key)) {
    ZINFER_ASSIGN_OR_RETURN(hp.norm_eps, file.get_f32(rms_key));
  } else if (file.has(ln_key)) {
    ZINFER_ASSIGN_OR_RETURN(hp.norm_eps, file.get_f32(ln_key));
  }
  if (!std::isfinite(hp.norm_eps) || hp.norm_eps < 0.0f) return bad(rms_key, "must be ≥ 0");

  ZINFER_ASSIGN_OR_RETURN(std::uint32_t swa, file.get_u32_or(a + "attention.sliding_window", 0));
  if (swa > (1u << 24)) return bad(a + "attention.sliding_window", "too large");
  hp.sliding_window = static_cast<std::int32_t>(swa);
  ZINFER_ASSIGN_OR_RETURN(hp.final_logit_softcap,
                          file.get_f32_or(a + "final_logit_softcapping", 0.0f));
  if (!std::isfinite(hp.final_logit_softcap) || hp.final_logit_softcap < 0.0f) {
    return bad(a + "final_logit_softcapping", "must be ≥ 0");
  }

  ZINFER_ASSIGN_OR_RETURN(std::uint32_t n_expert, file.get_u32_or(a + "expert_count", 0));
  ZINFER_ASSIGN_OR_RETURN(std::uint32_t n_used, file.get_u32_or(a + "expert_used_count", 0));
  ZINFER_ASSIGN_OR_RETURN(std::uint32_t n_ff_exp,
                          file.get_u32_or(a + "expert_feed_forward_length", n_ff));
  if (n_expert > 4096) return bad(a + "expert_count", "must be ≤ 4096");
  if (n_used > n_expert) return bad(a + "expert_used_count", "must be ≤ expert_count");
  if (n_ff_exp > (1u << 20)) return bad(a + "expert_feed_forward_length", "too large");
  hp.n_expert = static_cast<std::int32_t>(n_expert);
  hp.n_expert_used = static_cast<std::int32_t>(n_used);
  hp.n_ff_exp = static_cast<std::int32_t>(n_ff_exp);

  ZINFER_ASSIGN_OR_RETURN(hp.rope_scaling_type, file.get_string_or(a + "rope.scaling.type", ""));
  ZINFER_ASSIGN_OR_RETURN(std::uint32_t n_ctx_orig,
                          file.get_u32_or(a + "rope.scaling.original_context_length", n_ctx));
  if (n_ctx_orig == 0) return bad(a + "rope.scaling.original_context_length", "must be > 0");
  hp.n_ctx_orig = static_cast<std::int32_t>(n_ctx_orig);
  ZINFER_ASSIGN_OR_RETURN(hp.yarn_beta_fast,
                          file.get_f32_or(a + "rope.scaling.yarn_beta_fast", 32.0f));
  ZINFER_ASSIGN_OR_RETURN(hp.yarn_beta_slow,
                          file.get_f32_or(a + "rope.scaling.yarn_beta_slow", 1.0f));
  if (!(hp.yarn_beta_fast > 0.0f) || !(hp.yarn_beta_slow > 0.0f) ||
      !std::isfinite(hp.yarn_beta_fast) || !std::isfinite(hp.yarn_beta_slow)) {
    return bad(a + "rope.scaling.yarn_beta_fast", "YaRN betas must be finite and > 0");
  }

  if (file.has(a + "vocab_size")) {
    ZINFER_ASSIGN_OR_RETURN(std::uint32_t nv, u32("vocab_size"));
    hp.n_vocab = static_cast<std::int32_t>(nv);
  } else if (const auto* toks = file.find("tokenizer.ggml.tokens"); toks != nullptr) {
    hp.n_vocab = static_cast<std::int32_t>(toks->arr.size());
  }
  if (hp.n_vocab <= 0) return bad(a + "vocab_size", "vocabulary size unknown or zero");
  return hp;
}

}  // namespace zinfer::model
