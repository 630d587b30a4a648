// Pieces the architecture files share (see arch_blocks.h).
#include "engine/model/arch_blocks.h"

#include <cmath>

namespace zinfer::model {

Result<EmbeddingAndOutput> load_embedding_and_output(WeightSource& ws, const Hparams& hp) {
  EmbeddingAndOutput w;
  ZINFER_ASSIGN_OR_RETURN(w.tok_embd, ws.get("token_embd.weight", hp.n_embd, hp.n_vocab));
  ZINFER_ASSIGN_OR_RETURN(w.out_norm, ws.get("output_norm.weight", hp.n_embd, 1));
  ZINFER_ASSIGN_OR_RETURN(w.output, ws.get_optional("output.weight", hp.n_embd, hp.n_vocab));
  if (!w.output.present()) w.output = w.tok_embd;  // tied embeddings
  return w;
}

Result<AttentionWeights> load_attention_weights(WeightSource& ws, const Hparams& hp,
                                                const std::string& prefix, QkvBias bias) {
  const std::int64_t d = hp.n_embd, dq = hp.n_embd_q(), dkv = hp.n_embd_kv();
  AttentionWeights w;
  ZINFER_ASSIGN_OR_RETURN(w.norm, ws.get(prefix + "attn_norm.weight", d, 1));
  ZINFER_ASSIGN_OR_RETURN(w.qkv.wq, ws.get(prefix + "attn_q.weight", d, dq));
  ZINFER_ASSIGN_OR_RETURN(w.qkv.wk, ws.get(prefix + "attn_k.weight", d, dkv));
  ZINFER_ASSIGN_OR_RETURN(w.qkv.wv, ws.get(prefix + "attn_v.weight", d, dkv));
  if (bias == QkvBias::kPresent) {
    ZINFER_ASSIGN_OR_RETURN(w.qkv.bq, ws.get(prefix + "attn_q.bias", dq, 1));
    ZINFER_ASSIGN_OR_RETURN(w.qkv.bk, ws.get(prefix + "attn_k.bias", dkv, 1));
    ZINFER_ASSIGN_OR_RETURN(w.qkv.bv, ws.get(prefix + "attn_v.bias", dkv, 1));
  }
  ZINFER_ASSIGN_OR_RETURN(w.wo, ws.get(prefix + "attn_output.weight", dq, d));
  return w;
}

Status rms_norm_logits(Ops& ops, const Hparams& hp, const EmbeddingAndOutput& w, Tensor x,
                       std::span<const std::int32_t> logit_rows, Tensor logits) {
  const auto n_out = static_cast<std::int64_t>(logit_rows.size());
  Tensor last = ops.alloc(n_out, hp.n_embd);
  ZINFER_RETURN_IF_ERROR(ops.gather_rows(last, x, logit_rows));
  Tensor normed = ops.alloc(n_out, hp.n_embd);
  ZINFER_RETURN_IF_ERROR(ops.rms_norm(normed, last, w.out_norm, hp.norm_eps));
  return ops.matmul(logits, normed, w.output);
}

AttentionParams attention_params(const Hparams& hp, RopeType rope_type) {
  AttentionParams p;
  p.rope_q =
      RopeParams{hp.n_head, hp.head_dim, hp.n_rot, rope_type, hp.rope_base, hp.rope_freq_scale};
  p.rope_k = p.rope_q;
  p.rope_k.n_head = hp.n_head_kv;
  p.attn.n_head = hp.n_head;
  p.attn.n_head_kv = hp.n_head_kv;
  p.attn.head_dim = hp.head_dim;
  p.attn.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  return p;
}

}  // namespace zinfer::model
