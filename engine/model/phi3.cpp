// Phi-3 (Abdin et al. 2024): the Llama decoder with fused projections — one attn_qkv
// matrix whose output columns are [q | k | v], and one ffn_up matrix whose output columns
// are [gate | up] (transformers' Phi3MLP chunks gate_up_proj in that order; llama.cpp's
// swiglu takes the first half as the gate). NeoX RoPE, untied output.
//
// attention.sliding_window (2047 in Phi-3-mini-4k) is read but not applied: llama.cpp
// disables Phi SWA (ggml-org/llama.cpp#13676) and we follow it; prompts shorter than the
// window are unaffected either way. LongRoPE files (rope_factors_long/short, the 128k
// models) are rejected rather than run without their factors.
#include <memory>
#include <string>
#include <vector>

#include "engine/model/arch_blocks.h"

namespace zinfer::model {
namespace {

struct Phi3Layer {
  Weight attn_norm;  // [n_embd]
  Weight wqkv;       // [n_embd] → [n_head*head_dim + 2 * n_head_kv*head_dim]
  Weight wo;         // [n_head * head_dim] → [n_embd]
  Weight ffn_norm;   // [n_embd]
  Weight w_gate_up;  // [n_embd] → [2 * n_ff]: gate columns, then up columns
  Weight w_down;     // [n_ff] → [n_embd]
};

class Phi3 final : public Architecture {
 public:
  explicit Phi3(const Hparams& hp) : hp_(hp) {}

  Status load(WeightSource& ws) {
    const std::int64_t d = hp_.n_embd, dq = hp_.n_embd_q(), dkv = hp_.n_embd_kv(), ff = hp_.n_ff;
    ZINFER_ASSIGN_OR_RETURN(Weight long_factors,
                            ws.get_optional("rope_factors_long.weight", hp_.n_rot / 2, 1));
    if (long_factors.present()) {
      return make_error(
          ErrorCode::kModelLoadFailed,
          "tensor 'rope_factors_long.weight': LongRoPE (Phi-3 128k) is not supported");
    }
    ZINFER_ASSIGN_OR_RETURN(io_, load_embedding_and_output(ws, hp_));
    const auto load_layer = [&](Phi3Layer& L, const std::string& p, std::int32_t) -> Status {
      ZINFER_ASSIGN_OR_RETURN(L.attn_norm, ws.get(p + "attn_norm.weight", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.wqkv, ws.get(p + "attn_qkv.weight", d, dq + 2 * dkv));
      ZINFER_ASSIGN_OR_RETURN(L.wo, ws.get(p + "attn_output.weight", dq, d));
      ZINFER_ASSIGN_OR_RETURN(L.ffn_norm, ws.get(p + "ffn_norm.weight", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.w_gate_up, ws.get(p + "ffn_up.weight", d, 2 * ff));
      ZINFER_ASSIGN_OR_RETURN(L.w_down, ws.get(p + "ffn_down.weight", ff, d));
      return ok_status();
    };
    return load_layers(hp_, layers_, load_layer);
  }

  Status forward(Ops& ops, const Batch& batch, std::span<const std::int32_t> logit_rows,
                 Tensor logits) override {
    const std::int64_t n = batch.n_tokens();
    const std::int64_t d = hp_.n_embd, dq = hp_.n_embd_q(), dkv = hp_.n_embd_kv(), ff = hp_.n_ff;
    Tensor x = ops.alloc(n, d);
    Tensor h = ops.alloc(n, d);
    Tensor qkv = ops.alloc(n, dq + 2 * dkv);
    const Tensor q = qkv.cols_slice(0, dq);
    const Tensor k = qkv.cols_slice(dq, dkv);
    const Tensor v = qkv.cols_slice(dq + dkv, dkv);
    Tensor attn = ops.alloc(n, dq);
    Tensor gate_up = ops.alloc(n, 2 * ff);
    const Tensor gate = gate_up.cols_slice(0, ff);
    const Tensor up = gate_up.cols_slice(ff, ff);
    Tensor act = ops.alloc(n, ff);

    AttentionParams ap = attention_params(hp_, RopeType::kNeox);

    ZINFER_RETURN_IF_ERROR(ops.embed(x, io_.tok_embd, batch.tokens));
    for (std::int32_t il = 0; il < hp_.n_layer; ++il) {
      const Phi3Layer& L = layers_[static_cast<std::size_t>(il)];
      ZINFER_RETURN_IF_ERROR(ops.rms_norm(h, x, L.attn_norm, hp_.norm_eps));
      ZINFER_RETURN_IF_ERROR(ops.matmul(qkv, h, L.wqkv));
      ZINFER_RETURN_IF_ERROR(ops.rope(q, ap.rope_q, batch));
      ZINFER_RETURN_IF_ERROR(ops.rope(k, ap.rope_k, batch));
      ap.attn.layer = il;
      ZINFER_RETURN_IF_ERROR(ops.attention(attn, q, k, v, ap.attn, batch));
      ZINFER_RETURN_IF_ERROR(ops.matmul(h, attn, L.wo));
      ZINFER_RETURN_IF_ERROR(ops.add(x, x, h));
      ZINFER_RETURN_IF_ERROR(ops.rms_norm(h, x, L.ffn_norm, hp_.norm_eps));
      ZINFER_RETURN_IF_ERROR(ops.matmul(gate_up, h, L.w_gate_up));
      ZINFER_RETURN_IF_ERROR(ops.swiglu(act, gate, up));
      ZINFER_RETURN_IF_ERROR(ops.matmul(h, act, L.w_down));
      ZINFER_RETURN_IF_ERROR(ops.add(x, x, h));
    }
    return rms_norm_logits(ops, hp_, io_, x, logit_rows, logits);
  }

 private:
  Hparams hp_;
  EmbeddingAndOutput io_;
  std::vector<Phi3Layer> layers_;
};

}  // namespace

Result<std::unique_ptr<Architecture>> create_phi3(const Hparams& hp, WeightSource& weights) {
  return load_architecture<Phi3>(weights, hp);
}

}  // namespace zinfer::model
