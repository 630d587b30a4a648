// Gemma 3 (Gemma Team 2025): embeddings scaled by sqrt(d) → per layer [RMSNorm → attention
// with per-head RMSNorm of q and k, NeoX RoPE, local sliding-window or global layers →
// RMSNorm → +x] → [RMSNorm → GeGLU FFN → RMSNorm → +x] → RMSNorm → tied output.
//
// Facts taken from the reference implementations (llama.cpp, transformers):
//  - GGUF norm weights already hold Gemma's (1 + w): the converter adds the 1.
//  - Every 6th layer (il % 6 == 5) attends globally with rope.freq_base and the file's
//    rope scaling; the others attend to the last attention.sliding_window positions with
//    a fixed rope base of 10000 and no scaling. Without a sliding window all are global.
//  - Scores are scaled by 1/sqrt(query_pre_attn_scalar). GGUF does not carry that value;
//    it equals head_dim for every Gemma 3 size except 27B (62 layers), where it is
//    n_embd / n_head — llama.cpp derives it the same way.
//  - final_logit_softcapping is honoured when the file sets it (Gemma 3 files do not).
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/arch_blocks.h"

namespace zinfer::model {
namespace {

constexpr std::int32_t kGlobalEvery = 6;        // layers il with il % 6 == 5 are global
constexpr float kLocalRopeBase = 10000.0f;      // rope base of sliding-window layers
constexpr std::int32_t kGemma3_27bLayers = 62;  // the size whose query scale differs

struct Gemma3Layer {
  AttentionWeights attn;  // no biases
  Weight q_norm;          // [head_dim], shared by every query head
  Weight k_norm;          // [head_dim]
  Weight post_attn_norm;  // [n_embd]
  Weight ffn_norm;        // [n_embd]
  Weight w_gate;          // [n_embd] → [n_ff]
  Weight w_up;            // [n_embd] → [n_ff]
  Weight w_down;          // [n_ff] → [n_embd]
  Weight post_ffn_norm;   // [n_embd]
  bool global = true;     // full causal attention (else sliding window)
};

class Gemma3 final : public Architecture {
 public:
  explicit Gemma3(const Hparams& hp) : hp_(hp) {}

  Status load(WeightSource& ws) {
    const std::int64_t d = hp_.n_embd, ff = hp_.n_ff, hd = hp_.head_dim;
    ZINFER_ASSIGN_OR_RETURN(io_, load_embedding_and_output(ws, hp_));
    const auto load_layer = [&](Gemma3Layer& L, const std::string& p, std::int32_t il) -> Status {
      ZINFER_ASSIGN_OR_RETURN(L.attn, load_attention_weights(ws, hp_, p, QkvBias::kAbsent));
      ZINFER_ASSIGN_OR_RETURN(L.q_norm, ws.get(p + "attn_q_norm.weight", hd, 1));
      ZINFER_ASSIGN_OR_RETURN(L.k_norm, ws.get(p + "attn_k_norm.weight", hd, 1));
      ZINFER_ASSIGN_OR_RETURN(L.post_attn_norm, ws.get(p + "post_attention_norm.weight", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.ffn_norm, ws.get(p + "ffn_norm.weight", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.w_gate, ws.get(p + "ffn_gate.weight", d, ff));
      ZINFER_ASSIGN_OR_RETURN(L.w_up, ws.get(p + "ffn_up.weight", d, ff));
      ZINFER_ASSIGN_OR_RETURN(L.w_down, ws.get(p + "ffn_down.weight", ff, d));
      ZINFER_ASSIGN_OR_RETURN(L.post_ffn_norm, ws.get(p + "post_ffw_norm.weight", d, 1));
      L.global = hp_.sliding_window == 0 || il % kGlobalEvery == kGlobalEvery - 1;
      return ok_status();
    };
    ZINFER_RETURN_IF_ERROR(load_layers(hp_, layers_, load_layer));
    const float q_scalar = hp_.n_layer == kGemma3_27bLayers
                               // Integer division, as the reference computes it.
                               // NOLINTNEXTLINE(bugprone-integer-division)
                               ? static_cast<float>(hp_.n_embd / hp_.n_head)
                               : static_cast<float>(hp_.head_dim);
    attn_scale_ = 1.0f / std::sqrt(q_scalar);
    return ok_status();
  }

  Status forward(Ops& ops, const Batch& batch, std::span<const std::int32_t> logit_rows,
                 Tensor logits) override {
    const std::int64_t n = batch.n_tokens();
    const std::int64_t d = hp_.n_embd, dq = hp_.n_embd_q(), dkv = hp_.n_embd_kv();
    Tensor x = ops.alloc(n, d);
    Tensor h = ops.alloc(n, d);
    Tensor q = ops.alloc(n, dq), k = ops.alloc(n, dkv), v = ops.alloc(n, dkv);
    Tensor attn = ops.alloc(n, dq);
    Tensor gate = ops.alloc(n, hp_.n_ff), up = ops.alloc(n, hp_.n_ff);
    if (!q.contiguous() || !k.contiguous()) {
      return make_error(ErrorCode::kInferenceFailed,
                        "gemma3: q/k scratch is not contiguous; per-head norms need it");
    }
    // Per-head views: one row per (token, head), normalized over head_dim.
    const Tensor q_heads = q.split_rows(hp_.head_dim);
    const Tensor k_heads = k.split_rows(hp_.head_dim);

    AttentionParams attn_global = attention_params(hp_, RopeType::kNeox);
    attn_global.attn.scale = attn_scale_;
    AttentionParams attn_local = attn_global;
    for (RopeParams* r : {&attn_local.rope_q, &attn_local.rope_k}) {
      r->base = kLocalRopeBase;
      r->freq_scale = 1.0f;
    }
    attn_local.attn.window = hp_.sliding_window;

    ZINFER_RETURN_IF_ERROR(ops.embed(x, io_.tok_embd, batch.tokens));
    ZINFER_RETURN_IF_ERROR(ops.scale(x, std::sqrt(static_cast<float>(d))));
    for (std::int32_t il = 0; il < hp_.n_layer; ++il) {
      const Gemma3Layer& L = layers_[static_cast<std::size_t>(il)];
      // Attention block: pre-norm, projections, q/k norms, RoPE, attention, post-norm.
      ZINFER_RETURN_IF_ERROR(ops.rms_norm(h, x, L.attn.norm, hp_.norm_eps));
      ZINFER_RETURN_IF_ERROR(ops.matmul(q, h, L.attn.qkv.wq));
      ZINFER_RETURN_IF_ERROR(ops.matmul(k, h, L.attn.qkv.wk));
      ZINFER_RETURN_IF_ERROR(ops.matmul(v, h, L.attn.qkv.wv));
      ZINFER_RETURN_IF_ERROR(ops.rms_norm(q_heads, q_heads, L.q_norm, hp_.norm_eps));
      ZINFER_RETURN_IF_ERROR(ops.rms_norm(k_heads, k_heads, L.k_norm, hp_.norm_eps));
      AttentionParams& ap = L.global ? attn_global : attn_local;
      ZINFER_RETURN_IF_ERROR(ops.rope(q, ap.rope_q, batch));
      ZINFER_RETURN_IF_ERROR(ops.rope(k, ap.rope_k, batch));
      ap.attn.layer = il;
      ZINFER_RETURN_IF_ERROR(ops.attention(attn, q, k, v, ap.attn, batch));
      ZINFER_RETURN_IF_ERROR(ops.matmul(h, attn, L.attn.wo));
      ZINFER_RETURN_IF_ERROR(ops.rms_norm(h, h, L.post_attn_norm, hp_.norm_eps));
      ZINFER_RETURN_IF_ERROR(ops.add(x, x, h));
      // Feed-forward block: pre-norm, GeGLU, post-norm.
      ZINFER_RETURN_IF_ERROR(ops.rms_norm(h, x, L.ffn_norm, hp_.norm_eps));
      ZINFER_RETURN_IF_ERROR(ops.matmul(gate, h, L.w_gate));
      ZINFER_RETURN_IF_ERROR(ops.matmul(up, h, L.w_up));
      ZINFER_RETURN_IF_ERROR(ops.geglu(gate, gate, up));
      ZINFER_RETURN_IF_ERROR(ops.matmul(h, gate, L.w_down));
      ZINFER_RETURN_IF_ERROR(ops.rms_norm(h, h, L.post_ffn_norm, hp_.norm_eps));
      ZINFER_RETURN_IF_ERROR(ops.add(x, x, h));
    }
    ZINFER_RETURN_IF_ERROR(rms_norm_logits(ops, hp_, io_, x, logit_rows, logits));
    if (hp_.final_logit_softcap > 0.0f)
      ZINFER_RETURN_IF_ERROR(ops.softcap(logits, hp_.final_logit_softcap));
    return ok_status();
  }

 private:
  Hparams hp_;
  float attn_scale_ = 1.0f;
  EmbeddingAndOutput io_;  // output tied to the embedding, as in every Gemma 3
  std::vector<Gemma3Layer> layers_;
};

}  // namespace

Result<std::unique_ptr<Architecture>> create_gemma3(const Hparams& hp, WeightSource& weights) {
  return load_architecture<Gemma3>(weights, hp);
}

}  // namespace zinfer::model
