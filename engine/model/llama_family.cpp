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
  AttentionWeights attn;  // q, k, v biases: Qwen2 only
  Weight ffn_norm;        // [n_embd]
  Weight w_gate;          // [n_embd] → [n_ff]
  Weight w_up;            // [n_embd] → [n_ff]
  Weight w_down;          // [n_ff] → [n_embd]
};

class Llama final : public Architecture {
 public:
  Llama(const Hparams& hp, const LlamaVariant& v) : hp_(hp), variant_(v) {}

  Status load(WeightSource& ws) {
    const std::int64_t d = hp_.n_embd, ff = hp_.n_ff;
    const QkvBias bias = variant_.qkv_bias ? QkvBias::kPresent : QkvBias::kAbsent;
    ZINFER_ASSIGN_OR_RETURN(io_, load_embedding_and_output(ws, hp_));
    const auto load_layer = [&](LlamaLayer& L, const std::string& p, std::int32_t) -> Status {
      ZINFER_ASSIGN_OR_RETURN(L.attn, load_attention_weights(ws, hp_, p, bias));
      ZINFER_ASSIGN_OR_RETURN(L.ffn_norm, ws.get(p + "ffn_norm.weight", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.w_gate, ws.get(p + "ffn_gate.weight", d, ff));
      ZINFER_ASSIGN_OR_RETURN(L.w_up, ws.get(p + "ffn_up.weight", d, ff));
      ZINFER_ASSIGN_OR_RETURN(L.w_down, ws.get(p + "ffn_down.weight", ff, d));
      return ok_status();
    };
    return load_layers(hp_, layers_, load_layer);
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
      ZINFER_RETURN_IF_ERROR(ops.norm_qkv_rope(q, k, v, x, L.attn.norm, hp_.norm_eps, L.attn.qkv,
                                               ap.rope_q, ap.rope_k, batch));
      ap.attn.layer = il;
      ZINFER_RETURN_IF_ERROR(ops.attention(attn, q, k, v, ap.attn, batch));
      ZINFER_RETURN_IF_ERROR(ops.matmul_add(x, attn, L.attn.wo));
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
