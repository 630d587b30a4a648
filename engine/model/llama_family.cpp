// Llama (Touvron et al. 2023): x → [RMSNorm → attention(RoPE, GQA) → +x] → [RMSNorm →
// SwiGLU FFN → +x] per layer → RMSNorm → output projection. SmolLM2, TinyLlama, Llama 2/3
// and Mistral share this graph; Qwen2 reuses it with QKV biases and NeoX RoPE.
#include "engine/model/llama_family.h"

#include <string>
#include <vector>

#include "engine/model/arch_blocks.h"

namespace zinfer::model {
namespace {

struct LlamaLayer {
  Weight attn_norm;   // [n_embd]
  Weight wq;          // [n_embd] → [n_head * head_dim]
  Weight wk;          // [n_embd] → [n_head_kv * head_dim]
  Weight wv;          // [n_embd] → [n_head_kv * head_dim]
  Weight bq, bk, bv;  // biases (Qwen2) or absent
  Weight wo;          // [n_head * head_dim] → [n_embd]
  Weight ffn_norm;    // [n_embd]
  Weight w_gate;      // [n_embd] → [n_ff]
  Weight w_up;        // [n_embd] → [n_ff]
  Weight w_down;      // [n_ff] → [n_embd]
};

class Llama final : public Architecture {
 public:
  Llama(const Hparams& hp, const LlamaVariant& v) : hp_(hp), variant_(v) {}

  Status load(WeightSource& ws) {
    const std::int64_t d = hp_.n_embd, dq = hp_.n_embd_q(), dkv = hp_.n_embd_kv(), ff = hp_.n_ff;
    ZINFER_ASSIGN_OR_RETURN(io_, load_embedding_and_output(ws, hp_));
    layers_.resize(static_cast<std::size_t>(hp_.n_layer));
    for (std::int32_t il = 0; il < hp_.n_layer; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      LlamaLayer& L = layers_[static_cast<std::size_t>(il)];
      ZINFER_ASSIGN_OR_RETURN(L.attn_norm, ws.get(p + "attn_norm.weight", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.wq, ws.get(p + "attn_q.weight", d, dq));
      ZINFER_ASSIGN_OR_RETURN(L.wk, ws.get(p + "attn_k.weight", d, dkv));
      ZINFER_ASSIGN_OR_RETURN(L.wv, ws.get(p + "attn_v.weight", d, dkv));
      if (variant_.qkv_bias) {
        ZINFER_ASSIGN_OR_RETURN(L.bq, ws.get(p + "attn_q.bias", dq, 1));
        ZINFER_ASSIGN_OR_RETURN(L.bk, ws.get(p + "attn_k.bias", dkv, 1));
        ZINFER_ASSIGN_OR_RETURN(L.bv, ws.get(p + "attn_v.bias", dkv, 1));
      }
      ZINFER_ASSIGN_OR_RETURN(L.wo, ws.get(p + "attn_output.weight", dq, d));
      ZINFER_ASSIGN_OR_RETURN(L.ffn_norm, ws.get(p + "ffn_norm.weight", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.w_gate, ws.get(p + "ffn_gate.weight", d, ff));
      ZINFER_ASSIGN_OR_RETURN(L.w_up, ws.get(p + "ffn_up.weight", d, ff));
      ZINFER_ASSIGN_OR_RETURN(L.w_down, ws.get(p + "ffn_down.weight", ff, d));
    }
    return ok_status();
  }

  Status forward(Ops& ops, const Batch& batch, std::span<const std::int32_t> logit_rows,
                 Tensor logits) override {
    const std::int64_t n = batch.n_tokens();
    const std::int64_t d = hp_.n_embd, dq = hp_.n_embd_q(), dkv = hp_.n_embd_kv();
    Tensor x = ops.alloc(n, d);
    Tensor q = ops.alloc(n, dq), k = ops.alloc(n, dkv), v = ops.alloc(n, dkv);
    Tensor attn = ops.alloc(n, dq);
    Tensor gate = ops.alloc(n, hp_.n_ff);

    AttentionParams ap = attention_params(hp_, variant_.rope_type);

    ZINFER_RETURN_IF_ERROR(ops.embed(x, io_.tok_embd, batch.tokens));
    for (std::int32_t il = 0; il < hp_.n_layer; ++il) {
      const LlamaLayer& L = layers_[static_cast<std::size_t>(il)];
      // Attention block: q, k, v from the normed input (one fused op), attention over the
      // cache, output projection added into the residual stream.
      const QkvWeights qkv{L.wq, L.wk, L.wv, L.bq, L.bk, L.bv};
      ZINFER_RETURN_IF_ERROR(ops.norm_qkv_rope(q, k, v, x, L.attn_norm, hp_.norm_eps, qkv,
                                               ap.rope_q, ap.rope_k, batch));
      ap.attn.layer = il;
      ZINFER_RETURN_IF_ERROR(ops.attention(attn, q, k, v, ap.attn, batch));
      ZINFER_RETURN_IF_ERROR(ops.matmul_add(x, attn, L.wo));
      // Feed-forward block: SwiGLU of the normed input, down projection into the residual.
      ZINFER_RETURN_IF_ERROR(ops.norm_gated_matmul(gate, x, L.ffn_norm, hp_.norm_eps, L.w_gate,
                                                   L.w_up, GatedActivation::kSilu));
      ZINFER_RETURN_IF_ERROR(ops.matmul_add(x, gate, L.w_down));
    }
    return rms_norm_logits(ops, hp_, io_, x, logit_rows, logits);
  }

 private:
  Hparams hp_;
  LlamaVariant variant_;
  EmbeddingAndOutput io_;
  std::vector<LlamaLayer> layers_;
};

}  // namespace

Result<std::unique_ptr<Architecture>> create_llama_family(const Hparams& hp, WeightSource& weights,
                                                          const LlamaVariant& variant) {
  return load_architecture<Llama>(weights, hp, variant);
}

Result<std::unique_ptr<Architecture>> create_llama(const Hparams& hp, WeightSource& weights) {
  return create_llama_family(hp, weights, LlamaVariant{false, RopeType::kNorm});
}

}  // namespace zinfer::model
