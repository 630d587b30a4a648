// gpt-oss (OpenAI 2025): x → per layer [RMSNorm → attention (q/k/v/o biases, NeoX RoPE with
// YaRN scaling, GQA, learned sinks; even layers see a sliding window, odd layers everything)
// → +x] → [RMSNorm → router (linear with bias, top-k, softmax over the k) → k expert FFNs
// with the clamped SwiGLU, weighted sum → +x] → RMSNorm → output projection.
//
// Facts taken from the reference implementation (the gpt-oss package's torch/model.py) and
// llama.cpp (src/models/openai-moe-iswa.cpp, convert_hf_to_gguf.py GptOssModel):
//  - GGUF names: attn_norm, attn_{q,k,v,output}.{weight,bias}, attn_sinks.weight,
//    post_attention_norm (the norm before the MoE block), ffn_gate_inp.{weight,bias} (router),
//    ffn_{gate,up,down}_exps.{weight,bias}; the converter splits the checkpoint's interleaved
//    gate_up rows (even rows gate, odd rows up).
//  - Layer il slides over attention.sliding_window positions when il is even (the
//    reference's layer_idx % 2 == 0, llama.cpp's swa pattern 2), keys with
//    pos > q_pos - window; scores scaled by 1/sqrt(head_dim).
//  - Expert activation: g = min(gate, 7), u = clamp(up, ±7), g·sigmoid(1.702·g)·(u + 1).
//  - YaRN: rope.scaling.{type,factor,original_context_length}; ramp bounds
//    low/high = (head_dim/2)·ln(n_ctx_orig / (β·2π)) / ln(base) with β = yarn_beta_fast (32)
//    and yarn_beta_slow (1), cos and sin times 1 + 0.1·ln(factor). We take low and high as
//    the reference computes them; ggml floors low and ceils high (ggml_rope_yarn_corr_dims),
//    so llama.cpp rotates the few pairs between the bounds slightly differently.
#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "engine/model/arch_blocks.h"

namespace zinfer::model {
namespace {

constexpr float kSwigluAlpha = 1.702f;
constexpr float kSwigluLimit = 7.0f;

struct GptOssLayer {
  AttentionWeights attn;    // with q, k, v biases
  Weight bo;                // [n_embd], the bias of attn.wo
  Weight sinks;             // [n_head]
  Weight post_attn_norm;    // [n_embd]
  Weight router, router_b;  // [n_embd] → [n_expert], bias [n_expert]
  ExpertWeights experts;    // n_expert × (gate, up: [n_embd] → [n_ff_exp]; down: back)
  bool sliding = false;
};

class GptOss final : public Architecture {
 public:
  explicit GptOss(const Hparams& hp) : hp_(hp) {}

  Status load(WeightSource& ws) {
    const std::int64_t d = hp_.n_embd, ne = hp_.n_expert, ff = hp_.n_ff_exp;
    ZINFER_ASSIGN_OR_RETURN(io_, load_embedding_and_output(ws, hp_));
    const auto load_layer = [&](GptOssLayer& L, const std::string& p, std::int32_t il) -> Status {
      ZINFER_ASSIGN_OR_RETURN(L.attn, load_attention_weights(ws, hp_, p, QkvBias::kPresent));
      ZINFER_ASSIGN_OR_RETURN(L.bo, ws.get(p + "attn_output.bias", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.sinks, ws.get(p + "attn_sinks.weight", hp_.n_head, 1));
      ZINFER_ASSIGN_OR_RETURN(L.post_attn_norm, ws.get(p + "post_attention_norm.weight", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.router, ws.get(p + "ffn_gate_inp.weight", d, ne));
      ZINFER_ASSIGN_OR_RETURN(L.router_b, ws.get(p + "ffn_gate_inp.bias", ne, 1));
      ExpertWeights& E = L.experts;
      E.n_expert = hp_.n_expert;
      E.n_ff = hp_.n_ff_exp;
      ZINFER_ASSIGN_OR_RETURN(E.gate, ws.get_stacked(p + "ffn_gate_exps.weight", d, ff, ne));
      ZINFER_ASSIGN_OR_RETURN(E.up, ws.get_stacked(p + "ffn_up_exps.weight", d, ff, ne));
      ZINFER_ASSIGN_OR_RETURN(E.down, ws.get_stacked(p + "ffn_down_exps.weight", ff, d, ne));
      ZINFER_ASSIGN_OR_RETURN(E.gate_b, ws.get(p + "ffn_gate_exps.bias", ff, ne));
      ZINFER_ASSIGN_OR_RETURN(E.up_b, ws.get(p + "ffn_up_exps.bias", ff, ne));
      ZINFER_ASSIGN_OR_RETURN(E.down_b, ws.get(p + "ffn_down_exps.bias", d, ne));
      for (const Weight* b : {&E.gate_b, &E.up_b, &E.down_b}) {
        if (b->type != quant::GgmlType::kF32) {
          return make_error(ErrorCode::kModelLoadFailed,
                            "gpt-oss: " + p + "ffn_*_exps.bias tensors must be F32");
        }
      }
      L.sliding = hp_.sliding_window > 0 && il % 2 == 0;
      return ok_status();
    };
    return load_layers(hp_, layers_, load_layer);
  }

  Status forward(Ops& ops, const Batch& batch, std::span<const std::int32_t> logit_rows,
                 Tensor logits) override {
    const std::int64_t n = batch.n_tokens();
    const std::int64_t d = hp_.n_embd, dq = hp_.n_embd_q(), dkv = hp_.n_embd_kv();
    Tensor x = ops.alloc(n, d);
    Tensor h = ops.alloc(n, d);
    Tensor q = ops.alloc(n, dq), k = ops.alloc(n, dkv), v = ops.alloc(n, dkv);
    Tensor attn = ops.alloc(n, dq);
    Tensor router_logits = ops.alloc(n, hp_.n_expert);
    Tensor expert_w = ops.alloc(n, hp_.n_expert_used), expert_ids = ops.alloc(n, hp_.n_expert_used);

    AttentionParams full = attention_params(hp_, RopeType::kNeox);
    apply_yarn(full.rope_q);
    apply_yarn(full.rope_k);
    AttentionParams sliding = full;
    sliding.attn.window = hp_.sliding_window;
    const ExpertActParams act{ExpertActivation::kSwigluOai, kSwigluAlpha, kSwigluLimit};

    ZINFER_RETURN_IF_ERROR(ops.embed(x, io_.tok_embd, batch.tokens));
    for (std::int32_t il = 0; il < hp_.n_layer; ++il) {
      const GptOssLayer& L = layers_[static_cast<std::size_t>(il)];
      AttentionParams& ap = L.sliding ? sliding : full;
      // Attention block: biased projections of the normed input with RoPE, attention with
      // the layer's sinks (and window), biased output projection added to the residual.
      ZINFER_RETURN_IF_ERROR(ops.norm_qkv_rope(q, k, v, x, L.attn.norm, hp_.norm_eps, L.attn.qkv,
                                               ap.rope_q, ap.rope_k, batch));
      ap.attn.layer = il;
      ap.attn.sinks = L.sinks;
      ZINFER_RETURN_IF_ERROR(ops.attention(attn, q, k, v, ap.attn, batch));
      ZINFER_RETURN_IF_ERROR(ops.matmul_add(x, attn, L.attn.wo, &L.bo));
      // MoE block: route the normed input, run its experts, add their weighted sum.
      ZINFER_RETURN_IF_ERROR(ops.rms_norm(h, x, L.post_attn_norm, hp_.norm_eps));
      ZINFER_RETURN_IF_ERROR(ops.matmul(router_logits, h, L.router));
      ZINFER_RETURN_IF_ERROR(ops.topk_softmax(expert_w, expert_ids, router_logits, &L.router_b));
      ZINFER_RETURN_IF_ERROR(ops.moe_ffn_add(x, h, expert_ids, expert_w, L.experts, act));
    }
    return rms_norm_logits(ops, hp_, io_, x, logit_rows, logits);
  }

 private:
  // YaRN per the file's rope.scaling keys (see the header comment); plain RoPE otherwise.
  void apply_yarn(RopeParams& r) const {
    if (hp_.rope_scaling_type != "yarn") return;
    const auto corr_dim = [&](float beta) {
      return static_cast<float>(r.n_rot) *
             std::log(static_cast<float>(hp_.n_ctx_orig) /
                      (beta * 2.0f * std::numbers::pi_v<float>)) /
             (2.0f * std::log(r.base));
    };
    r.ext_factor = 1.0f;
    r.attn_factor = 1.0f;
    r.yarn_low = std::max(0.0f, corr_dim(hp_.yarn_beta_fast));
    r.yarn_high = std::min(static_cast<float>(r.n_rot - 1), corr_dim(hp_.yarn_beta_slow));
  }

  Hparams hp_;
  EmbeddingAndOutput io_;
  std::vector<GptOssLayer> layers_;
};

}  // namespace

Result<std::unique_ptr<Architecture>> create_gpt_oss(const Hparams& hp, WeightSource& weights) {
  if (hp.n_expert <= 0 || hp.n_expert_used <= 0 || hp.n_expert_used > hp.n_expert) {
    return make_error(ErrorCode::kModelLoadFailed,
                      "gpt-oss: metadata 'gpt-oss.expert_count' / 'gpt-oss.expert_used_count' "
                      "must satisfy 0 < expert_used_count <= expert_count (got " +
                          std::to_string(hp.n_expert) + ", " + std::to_string(hp.n_expert_used) +
                          ")");
  }
  if (hp.n_ff_exp <= 0) {
    return make_error(ErrorCode::kModelLoadFailed,
                      "gpt-oss: metadata 'gpt-oss.expert_feed_forward_length' must be > 0");
  }
  if (hp.rope_scaling_type != "" && hp.rope_scaling_type != "none" &&
      hp.rope_scaling_type != "yarn") {
    return make_error(ErrorCode::kModelLoadFailed,
                      "gpt-oss: metadata 'gpt-oss.rope.scaling.type' '" + hp.rope_scaling_type +
                          "' is not supported (yarn or none)");
  }
  return load_architecture<GptOss>(weights, hp);
}

}  // namespace zinfer::model
