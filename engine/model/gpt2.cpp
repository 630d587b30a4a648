// GPT-2 (Radford et al. 2019): token + learned position embeddings → per layer
// [LayerNorm → fused QKV (with bias) → multi-head attention → output projection (with
// bias) → +x] → [LayerNorm → up (bias) → GELU (tanh) → down (bias) → +x] → LayerNorm →
// output (llama.cpp's converter writes a copy of the embedding as output.weight; a file
// without it ties the two).
#include <memory>
#include <string>
#include <vector>

#include "engine/model/arch_blocks.h"

namespace zinfer::model {
namespace {

struct Gpt2Layer {
  Weight attn_norm, attn_norm_b;  // [n_embd]
  Weight wqkv;                    // [n_embd] → [3 * n_embd]: q, k, v columns
  Weight bqkv;                    // [3 * n_embd]
  Weight wo;                      // [n_embd] → [n_embd]
  Weight bo;                      // [n_embd]
  Weight ffn_norm, ffn_norm_b;    // [n_embd]
  Weight w_up;                    // [n_embd] → [n_ff]
  Weight b_up;                    // [n_ff]
  Weight w_down;                  // [n_ff] → [n_embd]
  Weight b_down;                  // [n_embd]
};

class Gpt2 final : public Architecture {
 public:
  explicit Gpt2(const Hparams& hp) : hp_(hp) {}

  Status load(WeightSource& ws) {
    const std::int64_t d = hp_.n_embd, ff = hp_.n_ff;
    ZINFER_ASSIGN_OR_RETURN(io_, load_embedding_and_output(ws, hp_));
    ZINFER_ASSIGN_OR_RETURN(pos_embd_, ws.get("position_embd.weight", d, hp_.n_ctx_train));
    ZINFER_ASSIGN_OR_RETURN(out_norm_b_, ws.get("output_norm.bias", d, 1));
    const auto load_layer = [&](Gpt2Layer& L, const std::string& p, std::int32_t) -> Status {
      ZINFER_ASSIGN_OR_RETURN(L.attn_norm, ws.get(p + "attn_norm.weight", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.attn_norm_b, ws.get(p + "attn_norm.bias", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.wqkv, ws.get(p + "attn_qkv.weight", d, 3 * d));
      ZINFER_ASSIGN_OR_RETURN(L.bqkv, ws.get(p + "attn_qkv.bias", 3 * d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.wo, ws.get(p + "attn_output.weight", d, d));
      ZINFER_ASSIGN_OR_RETURN(L.bo, ws.get(p + "attn_output.bias", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.ffn_norm, ws.get(p + "ffn_norm.weight", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.ffn_norm_b, ws.get(p + "ffn_norm.bias", d, 1));
      ZINFER_ASSIGN_OR_RETURN(L.w_up, ws.get(p + "ffn_up.weight", d, ff));
      ZINFER_ASSIGN_OR_RETURN(L.b_up, ws.get(p + "ffn_up.bias", ff, 1));
      ZINFER_ASSIGN_OR_RETURN(L.w_down, ws.get(p + "ffn_down.weight", ff, d));
      ZINFER_ASSIGN_OR_RETURN(L.b_down, ws.get(p + "ffn_down.bias", d, 1));
      return ok_status();
    };
    return load_layers(hp_, layers_, load_layer);
  }

  Status forward(Ops& ops, const Batch& batch, std::span<const std::int32_t> logit_rows,
                 Tensor logits) override {
    const std::int64_t n = batch.n_tokens();
    const std::int64_t d = hp_.n_embd;
    Tensor x = ops.alloc(n, d);
    Tensor h = ops.alloc(n, d);
    Tensor qkv = ops.alloc(n, 3 * d);
    const Tensor q = qkv.cols_slice(0, d);
    const Tensor k = qkv.cols_slice(d, d);
    const Tensor v = qkv.cols_slice(2 * d, d);
    Tensor attn = ops.alloc(n, d);
    Tensor up = ops.alloc(n, hp_.n_ff);
    AttnParams ap = attention_params(hp_, RopeType::kNorm).attn;  // no RoPE: learned positions

    // Position rows come from the same table lookup as tokens; positions past the
    // trained context are rejected by embed (the table has n_ctx_train rows).
    ZINFER_RETURN_IF_ERROR(ops.embed(x, io_.tok_embd, batch.tokens));
    ZINFER_RETURN_IF_ERROR(ops.embed(h, pos_embd_, batch.positions));
    ZINFER_RETURN_IF_ERROR(ops.add(x, x, h));
    for (std::int32_t il = 0; il < hp_.n_layer; ++il) {
      const Gpt2Layer& L = layers_[static_cast<std::size_t>(il)];
      ZINFER_RETURN_IF_ERROR(ops.layer_norm(h, x, L.attn_norm, L.attn_norm_b, hp_.norm_eps));
      ZINFER_RETURN_IF_ERROR(ops.matmul(qkv, h, L.wqkv));
      ZINFER_RETURN_IF_ERROR(ops.add_bias(qkv, L.bqkv));
      ap.layer = il;
      ZINFER_RETURN_IF_ERROR(ops.attention(attn, q, k, v, ap, batch));
      ZINFER_RETURN_IF_ERROR(ops.matmul(h, attn, L.wo));
      ZINFER_RETURN_IF_ERROR(ops.add_bias(h, L.bo));
      ZINFER_RETURN_IF_ERROR(ops.add(x, x, h));
      ZINFER_RETURN_IF_ERROR(ops.layer_norm(h, x, L.ffn_norm, L.ffn_norm_b, hp_.norm_eps));
      ZINFER_RETURN_IF_ERROR(ops.matmul(up, h, L.w_up));
      ZINFER_RETURN_IF_ERROR(ops.add_bias(up, L.b_up));
      ZINFER_RETURN_IF_ERROR(ops.gelu(up));
      ZINFER_RETURN_IF_ERROR(ops.matmul(h, up, L.w_down));
      ZINFER_RETURN_IF_ERROR(ops.add_bias(h, L.b_down));
      ZINFER_RETURN_IF_ERROR(ops.add(x, x, h));
    }
    const auto n_out = static_cast<std::int64_t>(logit_rows.size());
    Tensor last = ops.alloc(n_out, d);
    ZINFER_RETURN_IF_ERROR(ops.gather_rows(last, x, logit_rows));
    Tensor normed = ops.alloc(n_out, d);
    ZINFER_RETURN_IF_ERROR(ops.layer_norm(normed, last, io_.out_norm, out_norm_b_, hp_.norm_eps));
    return ops.matmul(logits, normed, io_.output);
  }

 private:
  Hparams hp_;
  EmbeddingAndOutput io_;
  Weight pos_embd_;    // [n_ctx_train][n_embd]
  Weight out_norm_b_;  // [n_embd], the bias of the final LayerNorm
  std::vector<Gpt2Layer> layers_;
};

}  // namespace

Result<std::unique_ptr<Architecture>> create_gpt2(const Hparams& hp, WeightSource& weights) {
  if (hp.n_head_kv != hp.n_head || hp.n_embd_q() != hp.n_embd) {
    return make_error(ErrorCode::kModelLoadFailed,
                      "gpt2: attention.head_count_kv and attention.key_length must describe plain "
                      "multi-head attention over embedding_length");
  }
  return load_architecture<Gpt2>(weights, hp);
}

}  // namespace zinfer::model
