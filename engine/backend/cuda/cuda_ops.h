// CudaOps: model::Ops on an NVIDIA GPU. Activations are f32 tensors in a VRAM scratch arena,
// weights stay in their GGUF block formats in VRAM, the KV cache is a paged f32 pool laid
// out like CpuOps' ([n_layer][n_blocks * block_size][n_embd_kv]). Every op queues kernels
// on the context's stream and returns at once; to_host() is the only synchronization of a
// forward pass. Numerics follow CpuOps with exact_matmul (the oracle the tests compare to), or
// with act_quant kQ8 those of CpuOps without it (Q8 activations, integer dot products). With
// f16_prompts a product's rows come in runs of one kind (model::Ops::by_kind): prompt rows on
// the fp16 tiles, generated rows on the Q16 kernels, as CpuOps rounds them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "engine/backend/cuda/scratch_arena.h"
#include "engine/backend/cuda/step_inputs.h"
#include "engine/backend/cuda/step_uploader.h"
#include "engine/model/ops.h"
#include "kernels/cuda_context.h"
#include "kernels/device_buffer.h"
#include "kernels/f16_act.h"
#include "kernels/f16_mma.h"
#include "kernels/paged_attention.h"
#include "kernels/q8_matvec.h"

namespace zinfer::cuda {

struct CudaOpsConfig {
  std::int32_t n_layer = 0;      // KV cache geometry
  std::int32_t n_embd_kv = 0;    // n_head_kv * head_dim
  std::int32_t n_blocks = 0;     // KV blocks in the pool
  std::int32_t block_size = 16;  // tokens per KV block
  // true: every matmul runs the matvec kernel, whose per-row result does not depend on the
  // batch; false: more than kMatvecTileRows rows go through dequant + cuBLAS (faster prefill,
  // float-rounding differences between a row computed alone and in a batch).
  bool batch_invariant = true;
  // Integer matmuls (q8_matvec.h) for the weight types that have them:
  //   kQ8  (LlmOptions::exact_matmul = false, `--q8-act`): activations quantized as CpuOps
  //        does without exact_matmul — llama.cpp's numerics;
  //   kQ16 (LlmOptions::q16_act, `--q16-act`): 16-bit activation quants, products within
  //        ~3e-6 of Σ|w·x| of the exact ones;
  //   kF16 (LlmOptions::fp16_matmul): fp16 operands on the fp16 tensor-core tiles (f16_mma.h)
  //        — activations with a power-of-two row scale and dequantized weights as halves, fp32
  //        sums; a measurement mode until measured (not run on a GPU yet);
  //   kNone: f32 dot products.
  enum class ActQuant { kNone, kQ8, kQ16, kF16 };
  ActQuant act_quant = ActQuant::kNone;
  // With act_quant: every integer matmul on the tensor-core tiles (q8_mma.h) at every batch
  // size — one float order per output, batch-invariant — instead of the matvec kernels. Also
  // turned on by ZINFER_MMA=1 (a measurement switch until it is measured as the faster path).
  bool tensor_cores = false;
  // With act_quant kQ16: per-token numerics (LlmOptions::fp16_prompts) — the rows of prompt
  // tokens on the fp16 tiles (as kF16), those of generated tokens on the Q16 kernels.
  bool f16_prompts = false;
};

class CudaOps final : public model::Ops {
 public:
  // Allocates the KV pool; kOutOfMemory when it does not fit.
  static Result<std::unique_ptr<CudaOps>> create(CudaContext& ctx, const CudaOpsConfig& config);

  // Call before each forward pass: waits for the previous pass, rewinds scratch memory and
  // clears a pending allocation error. A failure here is returned by every op of the pass.
  void begin_forward();

  ScratchMark scratch_mark() override { return {arena_.chunk(), arena_.used()}; }
  void scratch_release(ScratchMark m) override { arena_.rewind(m.chunk, m.used); }

  // Once per forward pass, before the architecture runs: validates the batch and lays out
  // its metadata (StepInputs); upload_step() queues the one copy to VRAM. The ops of the
  // pass then read tokens, positions, KV slots, block tables and logit rows from there, so
  // a captured graph of the pass stays valid for every later step of the same shape.
  Status prepare_step(const model::Batch& batch, std::span<const std::int32_t> logit_rows);
  Status upload_step();
  const StepInputs& step_inputs() const { return step_; }
  // Set while a step is being captured as a graph: uploads outside StepInputs then fail.
  void set_capturing(bool on) { capturing_ = on; }
  std::size_t kv_bytes() const { return k_cache_.size() + v_cache_.size(); }
  // check_vram_resident on the KV pool.
  Status verify_residency() const;
  std::size_t scratch_bytes() const { return arena_.capacity(); }
  // Whether a row's kind (prompt or generated token) changes its products (f16_prompts).
  bool per_token_numerics() const { return cfg_.f16_prompts; }

 private:
  // Per-token batch metadata in VRAM (views into StepInputs), laid out once per pass.
  struct DeviceBatch {
    const std::int32_t* positions = nullptr;     // [n_tokens]
    const std::int32_t* slots = nullptr;         // [n_tokens] KV slot of each new token
    const std::int32_t* bt_offsets = nullptr;    // [n_tokens] start of its table in block_tables
    const std::int32_t* block_tables = nullptr;  // concatenated tables of the batch's sequences
  };

  model::Tensor do_alloc(std::int64_t rows, std::int64_t cols) override;
  Status do_embed(model::Tensor out, const model::Weight& table,
                  std::span<const std::int32_t> tokens) override;
  Status do_rms_norm(model::Tensor out, model::Tensor in, const model::Weight& w,
                     float eps) override;
  Status do_layer_norm(model::Tensor out, model::Tensor in, const model::Weight& w,
                       const model::Weight& b, float eps) override;
  Status do_matmul(model::Tensor out, model::Tensor in, const model::Weight& w) override;
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
  // Mixture of experts: routing (kernels/topk_softmax.h) and the experts grouped by expert on
  // the device (kernels/moe.h), f32 activations whatever act_quant says.
  // the router's bias added by the routing kernel (no add_bias launch).
  Status do_topk_softmax(model::Tensor weights, model::Tensor ids, model::Tensor logits,
                         const model::Weight* bias) override;
  Status do_moe_ffn(model::Tensor out, model::Tensor x, model::Tensor ids, model::Tensor weights,
                    const model::ExpertWeights& w, const model::ExpertActParams& act) override;
  // The residual add in the combine kernel's store: x + (the weighted sum), as composed.
  Status do_moe_ffn_add(model::Tensor x, model::Tensor h, model::Tensor ids, model::Tensor weights,
                        const model::ExpertWeights& w, const model::ExpertActParams& act) override;
  Status do_matmul_add(model::Tensor x, model::Tensor in, const model::Weight& w,
                       const model::Weight* bias) override;
  Status do_norm_gated_matmul(model::Tensor out, model::Tensor x, const model::Weight& norm,
                              float eps, const model::Weight& gate, const model::Weight& up,
                              model::GatedActivation act) override;
  Status do_norm_qkv_rope(model::Tensor q, model::Tensor k, model::Tensor v, model::Tensor x,
                          const model::Weight& norm, float eps, const model::QkvWeights& w,
                          const model::RopeParams& rq, const model::RopeParams& rk,
                          const model::Batch& batch) override;

  bool kind_matters(const model::Weight& w) const override;

  CudaOps(CudaContext& ctx, const CudaOpsConfig& config);
  Status ready() const;
  // norm_qkv_rope's products without the RoPE: the fp16 tiles or the integer kernels (one
  // launch where they take Q, K and V together), else the composition's matmuls and biases.
  Status qkv_products(model::Tensor q, model::Tensor k, model::Tensor v, model::Tensor x,
                      const model::Weight& norm, float eps, const model::QkvWeights& w);
  // Attention of the rows on the fp16 prompt kernel (all_rows: every row, else the prompt
  // rows), their keys and values already stored.
  Status prompt_attention(model::Tensor out, model::Tensor q, const float* kc, const float* vc,
                          const AttentionBatch& ab, const AttentionArgs& a,
                          const model::Batch& batch, bool all_rows);
  // Whether a fused op may run as one piece kernel for this weight and input.
  bool fused_ok(const model::Weight& w, model::Tensor in, std::int64_t rows) const;
  // Whether a matmul with this weight runs on the integer kernels (act_quant mode).
  bool q8_ok(const model::Weight& w, model::Tensor in) const;
  // RoPE of q and k after the composed Q/K/V products: one launch where rope_match and the
  // fused attention input allow, else one each.
  Status rope_qk(model::Tensor q, model::Tensor k, const model::RopeParams& rq,
                 const model::RopeParams& rk, const model::Batch& batch, bool rope_match);
  // Whether it runs on the fp16 tiles (act_quant kF16).
  bool f16_ok(const model::Weight& w, model::Tensor in) const;
  // in (or with norm, rms_norm(in, norm, eps) first) as fp16 rows in scratch memory of this
  // pass (f16_act.h).
  Result<F16Act> f16_rows(model::Tensor in, const model::Weight* norm = nullptr, float eps = 0.0f);
  // out (+)= a·Wᵀ for each of n matrices on the fp16 tiles: one stacked launch where their
  // types agree (Q/K/V, the gated pair), else one each — the same bits either way — with
  // scratch of this pass for a split over K where the tiles take one.
  Status f16_products(const F16Act& a, const F16Product* mats, int n, bool accumulate);
  // in (or with norm, rms_norm(in, *norm, eps), in the same kernel) quantized for weights of
  // weight_type (weight_rows rows in all), in scratch memory of this pass — or, where
  // q8_prologue_fits, left for the matvec's prologue to quantize (same bytes, one kernel).
  // out (+)= a·Wᵀ for each of n_mats matrices: the tensor-core tiles or the matvec kernels.
  // moe_ffn (accumulate false) and moe_ffn_add (out += the experts' weighted sum).
  Status moe_ffn_impl(model::Tensor out, model::Tensor x, model::Tensor ids, model::Tensor weights,
                      const model::ExpertWeights& w, const model::ExpertActParams& act,
                      bool accumulate);
  Status q8_products(const Q8Act& a, const Q8MatvecOut* mats, int n_mats, bool accumulate);
  // a with scratch (from the arena, in the caller's scope) for the tensor-core tiles split over
  // K, sized for the largest of these products that take them (kernels/q8_mma.h; the gated
  // pair: one product; plain products as launch_q8_mma_each launches them, accumulate as it
  // is given); a itself when none does.
  Result<Q8Act> with_part_scratch(Q8Act a, const Q8MatvecOut* mats, int n_mats, bool gated,
                                  bool accumulate = false);
  // gated: the activations feed the gated pair (two matrices of weight_rows / 2 rows each).
  Result<Q8Act> quantize_act(model::Tensor in, quant::GgmlType weight_type,
                             std::int64_t weight_rows, const model::Weight* norm = nullptr,
                             float eps = 0.0f, bool gated = false);
  Result<std::int32_t*> upload_i32(std::span<const std::int32_t> values);
  Result<DeviceBatch> device_batch(const model::Batch& batch);
  float* layer_cache(const DeviceBuffer& cache, std::int32_t layer) const;

  CudaContext& ctx_;
  CudaOpsConfig cfg_;
  ScratchArena arena_;
  StepUploader uploader_;
  StepInputs step_;
  bool capturing_ = false;
  PinnedBuffer readback_;   // page-locked landing buffer of to_host()
  DeviceBuffer k_cache_;    // [n_layer][n_blocks * block_size][n_embd_kv] f32
  DeviceBuffer v_cache_;    // same layout
  DeviceBuffer gemm_tile_;  // dequantized weight tile for prompt-size matmuls (lazy)
  std::optional<Error> pending_;
};

}  // namespace zinfer::cuda
