// CpuOps: the reference backend. Plain, multithreaded, and exact by construction: f32
// activations, f32 KV cache, and matmuls that either quantize activations to the weight's
// vec_dot type as llama.cpp does (default) or dot in float against dequantized weights
// (exact_matmul — the oracle the CUDA kernels are checked against).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/backend/cpu/thread_pool.h"
#include "engine/model/ops.h"

namespace zinfer::cpu {

struct CpuOpsConfig {
  int n_threads = 1;             // worker threads (≥ 1)
  bool exact_matmul = false;     // float dot products instead of quantized activations
  bool q16_act = false;          // with exact_matmul: activations of the weight types with a
                                 // GPU Q16 path (has_q8_dot, and MXFP4) rounded to the Q16 grid
                                 // first (engine/quant/q16.h) — the CPU's --q16-act
  bool fp16_matmul = false;      // with exact_matmul: those matmuls' activations and dequantized
                                 // weights rounded to fp16 (LlmOptions::fp16_matmul), and
                                 // attention with fp16 operands (f16_tile_attention.h)
  bool fp16_prompts = false;     // with exact_matmul and q16_act: per-token numerics — prompt
                                 // rows as fp16_matmul (their attention too), generated rows as
                                 // q16_act (LlmOptions::fp16_prompts)
  std::int32_t n_layer = 0;      // KV cache geometry
  std::int32_t n_embd_kv = 0;    // n_head_kv * head_dim
  std::int32_t n_blocks = 0;     // KV blocks in the pool
  std::int32_t block_size = 16;  // tokens per KV block
};

class CpuOps final : public model::Ops {
 public:
  explicit CpuOps(const CpuOpsConfig& config);

  // Frees all scratch tensors; call before each forward pass.
  void reset_scratch();

  ScratchMark scratch_mark() override { return {chunk_index_, chunk_used_}; }
  void scratch_release(ScratchMark m) override {
    chunk_index_ = m.chunk;
    chunk_used_ = m.used;
  }
  std::size_t kv_bytes() const { return (k_cache_.size() + v_cache_.size()) * sizeof(float); }

 private:
  model::Tensor do_alloc(std::int64_t rows, std::int64_t cols) override;
  Status do_embed(model::Tensor out, const model::Weight& table,
                  std::span<const std::int32_t> tokens) override;
  Status do_rms_norm(model::Tensor out, model::Tensor in, const model::Weight& w,
                     float eps) override;
  Status do_layer_norm(model::Tensor out, model::Tensor in, const model::Weight& w,
                       const model::Weight& b, float eps) override;
  Status do_matmul(model::Tensor out, model::Tensor in, const model::Weight& w) override;
  bool kind_matters(const model::Weight& w) const override;
  Status do_add_bias(model::Tensor x, const model::Weight& b) override;
  Status do_add(model::Tensor out, model::Tensor a, model::Tensor b) override;
  Status do_scale(model::Tensor x, float s) override;
  Status do_softcap(model::Tensor x, float cap) override;
  Status do_rope(model::Tensor x, const model::RopeParams& p, const model::Batch& batch) override;
  Status do_attention(model::Tensor out, model::Tensor q, model::Tensor k, model::Tensor v,
                      const model::AttnParams& p, const model::Batch& batch) override;
  Status do_swiglu(model::Tensor out, model::Tensor gate, model::Tensor up) override;
  Status do_geglu(model::Tensor out, model::Tensor gate, model::Tensor up) override;
  Status do_gelu(model::Tensor x) override;
  Status do_gather_rows(model::Tensor out, model::Tensor in,
                        std::span<const std::int32_t> rows) override;
  Status do_to_host(model::Tensor t, float* host) override;
  // Mixture of experts (cpu_moe.cpp).
  Status do_topk_softmax(model::Tensor weights, model::Tensor ids, model::Tensor logits,
                         const model::Weight* bias) override;
  Status do_moe_ffn(model::Tensor out, model::Tensor x, model::Tensor ids, model::Tensor weights,
                    const model::ExpertWeights& w, const model::ExpertActParams& act) override;

  float* kv_row(std::vector<float>& cache, std::int32_t layer, std::int32_t slot);

  CpuOpsConfig cfg_;
  ThreadPool pool_;
  // Scratch arena: chunks are never reallocated, so tensors stay valid until reset.
  std::vector<std::unique_ptr<float[]>> chunks_;
  std::vector<std::size_t> chunk_sizes_;
  std::size_t chunk_index_ = 0;
  std::size_t chunk_used_ = 0;
  std::vector<std::uint8_t> act_buf_;  // quantized activations of the current matmul
  std::vector<float> q16_buf_;         // q16_act / fp16_matmul: the matmul's rounded activations
  // KV cache: [n_layer][n_blocks * block_size][n_embd_kv] f32.
  std::vector<float> k_cache_;
  std::vector<float> v_cache_;
};

// Element-wise helpers shared with tests.
float silu(float x);
float gelu_tanh(float x);
// gpt-oss's clamped SwiGLU: min(g, limit) * sigmoid(alpha * min(g, limit)) * (clamp(u) + 1).
float swiglu_oai(float g, float u, float alpha, float limit);

}  // namespace zinfer::cpu
