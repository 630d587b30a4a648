// Pieces the architecture files share, so each file keeps only what makes its family
// different: the embedding and output weights every GGUF family names alike, the final
// norm-and-project step, RoPE and attention parameters as the hyperparameters give them, and
// the create-then-load factory.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "engine/model/architecture.h"
#include "engine/model/hparams.h"
#include "engine/model/ops.h"

namespace zinfer::model {

// token_embd, output_norm and output; a file without output.weight ties it to the embedding.
struct EmbeddingAndOutput {
  Weight tok_embd;  // [n_vocab][n_embd]
  Weight out_norm;  // [n_embd]
  Weight output;    // [n_vocab][n_embd] (tok_embd when tied)
};
Result<EmbeddingAndOutput> load_embedding_and_output(WeightSource& ws, const Hparams& hp);

// Sizes `layers` to hp.n_layer and loads each in order with load(layer, "blk.<il>.", il), a
// callable returning Status; stops at the first error.
template <typename Layer, typename LoadLayer>
Status load_layers(const Hparams& hp, std::vector<Layer>& layers, LoadLayer&& load) {
  layers.resize(static_cast<std::size_t>(hp.n_layer));
  for (std::int32_t il = 0; il < hp.n_layer; ++il) {
    ZINFER_RETURN_IF_ERROR(
        load(layers[static_cast<std::size_t>(il)], "blk." + std::to_string(il) + ".", il));
  }
  return ok_status();
}

// The attention weights of the families with separate q, k and v projections, named alike
// in every GGUF file: <prefix>attn_norm, attn_{q,k,v} (and their .bias), attn_output.
struct AttentionWeights {
  Weight norm;     // [n_embd]
  QkvWeights qkv;  // wq: [n_embd] → [n_head * head_dim]; wk, wv: → [n_head_kv * head_dim];
                   // biases [n_head * head_dim] / [n_head_kv * head_dim], or absent
  Weight wo;       // [n_head * head_dim] → [n_embd]
};
enum class QkvBias { kAbsent, kPresent };
Result<AttentionWeights> load_attention_weights(WeightSource& ws, const Hparams& hp,
                                                const std::string& prefix, QkvBias bias);

// logits = output · rms_norm(x[logit_rows]) with output_norm: the last step of the RMSNorm
// families. x: [tokens][n_embd]; logits: [logit_rows.size()][n_vocab].
Status rms_norm_logits(Ops& ops, const Hparams& hp, const EmbeddingAndOutput& w, Tensor x,
                       std::span<const std::int32_t> logit_rows, Tensor logits);

// RoPE of the query and key heads (rope_type, the file's base and scaling) and causal
// attention over all cached positions with scores scaled by 1/sqrt(head_dim). The caller sets
// attn.layer per layer and changes what its family does differently.
struct AttentionParams {
  RopeParams rope_q;
  RopeParams rope_k;
  AttnParams attn;
};
AttentionParams attention_params(const Hparams& hp, RopeType rope_type);

// Constructs architecture A from args and loads its weights (A::load(WeightSource&)).
template <typename A, typename... Args>
Result<std::unique_ptr<Architecture>> load_architecture(WeightSource& ws, Args&&... args) {
  auto model = std::make_unique<A>(std::forward<Args>(args)...);
  ZINFER_RETURN_IF_ERROR(model->load(ws));
  return std::unique_ptr<Architecture>(std::move(model));
}

}  // namespace zinfer::model
