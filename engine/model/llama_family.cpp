// Llama (Touvron et al. 2023): x → [RMSNorm → attention(RoPE, GQA) → +x] → [RMSNorm →
// SwiGLU FFN → +x] per layer → RMSNorm → output projection. SmolLM2, TinyLlama, Llama 2/3
// and Mistral share this graph; Qwen2 reuses it with QKV biases and NeoX RoPE.
#include "engine/model/llama_family.h"

#include <cmath>
#include <string>
#include <vector>

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
    ZINFER_ASSIGN_OR_RETURN(tok_embd_, ws.get("token_embd.weight", d, hp_.n_vocab));
    ZINFER_ASSIGN_OR_RETURN(out_norm_, ws.get("output_norm.weight", d, 1));
    ZINFER_ASSIGN_OR_RETURN(output_, ws.get_optional("output.weight", d, hp_.n_vocab));
    if (!output_.present()) output_ = tok_embd_;  // tied embeddings
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

    const RopeParams rq{hp_.n_head,         hp_.head_dim,  hp_.n_rot,
                        variant_.rope_type, hp_.rope_base, hp_.rope_freq_scale};
    RopeParams rk = rq;
    rk.n_head = hp_.n_head_kv;
    AttnParams ap{0,
                  hp_.n_head,
                  hp_.n_head_kv,
                  hp_.head_dim,
                  1.0f / std::sqrt(static_cast<float>(hp_.head_dim)),
                  0,
                  0.0f};

    ZINFER_RETURN_IF_ERROR(ops.embed(x, tok_embd_, batch.tokens));
    for (std::int32_t il = 0; il < hp_.n_layer; ++il) {
      const LlamaLayer& L = layers_[static_cast<std::size_t>(il)];
      // Attention block: q, k, v from the normed input (one fused op), attention over the
      // cache, output projection added into the residual stream.
      const QkvWeights qkv{L.wq, L.wk, L.wv, L.bq, L.bk, L.bv};
      ZINFER_RETURN_IF_ERROR(
          ops.norm_qkv_rope(q, k, v, x, L.attn_norm, hp_.norm_eps, qkv, rq, rk, batch));
      ap.layer = il;
      ZINFER_RETURN_IF_ERROR(ops.attention(attn, q, k, v, ap, batch));
      ZINFER_RETURN_IF_ERROR(ops.matmul_add(x, attn, L.wo));
      // Feed-forward block: SwiGLU of the normed input, down projection into the residual.
      ZINFER_RETURN_IF_ERROR(ops.norm_gated_matmul(gate, x, L.ffn_norm, hp_.norm_eps, L.w_gate,
                                                   L.w_up, GatedActivation::kSilu));
      ZINFER_RETURN_IF_ERROR(ops.matmul_add(x, gate, L.w_down));
    }
    const auto n_out = static_cast<std::int64_t>(logit_rows.size());
    Tensor last = ops.alloc(n_out, d);
    ZINFER_RETURN_IF_ERROR(ops.gather_rows(last, x, logit_rows));
    Tensor normed = ops.alloc(n_out, d);
    ZINFER_RETURN_IF_ERROR(ops.rms_norm(normed, last, out_norm_, hp_.norm_eps));
    return ops.matmul(logits, normed, output_);
  }

 private:
  Hparams hp_;
  LlamaVariant variant_;
  Weight tok_embd_;  // [n_vocab][n_embd]
  Weight out_norm_;  // [n_embd]
  Weight output_;    // [n_vocab][n_embd] (tok_embd_ when tied)
  std::vector<LlamaLayer> layers_;
};

}  // namespace

Result<std::unique_ptr<Architecture>> create_llama_family(const Hparams& hp, WeightSource& weights,
                                                          const LlamaVariant& variant) {
  auto model = std::make_unique<Llama>(hp, variant);
  ZINFER_RETURN_IF_ERROR(model->load(weights));
  return std::unique_ptr<Architecture>(std::move(model));
}

Result<std::unique_ptr<Architecture>> create_llama(const Hparams& hp, WeightSource& weights) {
  return create_llama_family(hp, weights, LlamaVariant{false, RopeType::kNorm});
}

}  // namespace zinfer::model
