// The ops interface every backend implements and every architecture file is written
// against: one forward pass description, two backends (CPU reference, CUDA).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/error.h"
#include "engine/model/hparams.h"
#include "engine/quant/ggml_type.h"

namespace zinfer::model {

// A weight as the backend holds it: row-major [ne1 rows][ne0 elements], possibly quantized.
// data is a host pointer on the CPU backend and a device pointer on CUDA.
struct Weight {
  quant::GgmlType type = quant::GgmlType::kF32;
  std::int64_t ne0 = 0;  // elements per row (input dim of a matmul)
  std::int64_t ne1 = 1;  // rows (output dim of a matmul)
  const void* data = nullptr;
  bool present() const { return data != nullptr; }
};

// An f32 activation matrix in backend memory: [rows][cols] with a row stride (in floats),
// so column slices (e.g. Q/K/V of a fused projection) are views without copies.
struct Tensor {
  float* data = nullptr;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t stride = 0;  // floats between consecutive rows (≥ cols)

  Tensor cols_slice(std::int64_t col0, std::int64_t n) const { return {data + col0, rows, n, stride}; }
  // True when rows follow each other without padding, so the buffer can be re-split.
  bool contiguous() const { return stride == cols || rows <= 1; }
  // The same contiguous buffer seen as rows of n columns, e.g. [tokens][n_head * head_dim]
  // as [tokens * n_head][head_dim] for per-head norms. Precondition: contiguous() and
  // cols % n == 0 (architectures check before calling).
  Tensor split_rows(std::int64_t n) const { return {data, rows * cols / n, n, n}; }
};

// One sequence's part of a batch: its new tokens are rows [row_start, row_start + n_tokens)
// and sit at positions [n_past, n_past + n_tokens). Its KV cache lives in the blocks of
// block_table (block b holds positions [b * block_size, (b+1) * block_size)).
struct SeqSpan {
  std::int32_t seq_id = 0;
  std::int32_t n_past = 0;
  std::int32_t n_tokens = 0;
  std::int32_t row_start = 0;
  std::span<const std::int32_t> block_table;
};

struct Batch {
  std::span<const std::int32_t> tokens;     // [n_tokens]
  std::span<const std::int32_t> positions;  // [n_tokens]
  std::vector<SeqSpan> seqs;
  std::int64_t n_tokens() const { return static_cast<std::int64_t>(tokens.size()); }
};

struct RopeParams {
  std::int32_t n_head = 0;
  std::int32_t head_dim = 0;
  std::int32_t n_rot = 0;
  RopeType type = RopeType::kNorm;
  float base = 10000.0f;
  float freq_scale = 1.0f;
};

// The three projections of an attention input and their optional biases (Qwen2).
struct QkvWeights {
  Weight wq, wk, wv;
  Weight bq, bk, bv;  // absent → no bias
};

enum class GatedActivation { kSilu, kGeluTanh };

struct AttnParams {
  std::int32_t layer = 0;
  std::int32_t n_head = 0;
  std::int32_t n_head_kv = 0;
  std::int32_t head_dim = 0;
  float scale = 1.0f;          // applied to q·k
  std::int32_t window = 0;     // sliding window (keys with pos > q_pos - window); 0 → full
  float softcap = 0.0f;        // tanh soft-capping of scores; 0 → off
};

class Ops {
 public:
  virtual ~Ops() = default;

  // Scratch activation valid until the end of the current forward pass.
  virtual Tensor alloc(std::int64_t rows, std::int64_t cols) = 0;
  // Scratch scopes: what alloc() handed out after scratch_mark() may be handed out again
  // after scratch_release(mark) (the fused ops' compositions release their temporaries, so
  // scratch does not grow with the number of layers). Backends without it keep everything.
  struct ScratchMark {
    std::size_t chunk = 0;
    std::size_t used = 0;
  };
  virtual ScratchMark scratch_mark() { return {}; }
  virtual void scratch_release(ScratchMark /*mark*/) {}

  // out[i] = dequantized row tokens[i] of table.
  virtual Status embed(Tensor out, const Weight& table, std::span<const std::int32_t> tokens) = 0;
  // out = in / rms(in) * w, per row (w may be absent → no scaling; else f32 [in.cols]).
  // out may alias in.
  virtual Status rms_norm(Tensor out, Tensor in, const Weight& w, float eps) = 0;
  // out = (in - mean) / sqrt(var + eps) * w + b.
  virtual Status layer_norm(Tensor out, Tensor in, const Weight& w, const Weight& b, float eps) = 0;
  // out[rows][w.ne1] = in[rows][w.ne0] · wᵀ.
  virtual Status matmul(Tensor out, Tensor in, const Weight& w) = 0;
  // x[r] += b (b is an f32 vector of x.cols).
  virtual Status add_bias(Tensor x, const Weight& b) = 0;
  // out = a + b (elementwise, same shape; out may alias a).
  virtual Status add(Tensor out, Tensor a, Tensor b) = 0;
  virtual Status scale(Tensor x, float s) = 0;
  // x = cap * tanh(x / cap) (Gemma's logit soft-capping; cap > 0).
  virtual Status softcap(Tensor x, float cap) = 0;
  // In-place rotary embedding of x = [rows][n_head * head_dim] at the batch positions.
  virtual Status rope(Tensor x, const RopeParams& p, const Batch& batch) = 0;
  // Stores k, v of the batch into the KV cache of layer p.layer, then causal attention of q
  // over each sequence's cached keys. q: [rows][n_head*head_dim], k/v: [rows][n_head_kv*head_dim].
  virtual Status attention(Tensor out, Tensor q, Tensor k, Tensor v, const AttnParams& p,
                           const Batch& batch) = 0;
  // out = silu(gate) * up.
  virtual Status swiglu(Tensor out, Tensor gate, Tensor up) = 0;
  // out = gelu_tanh(gate) * up.
  virtual Status geglu(Tensor out, Tensor gate, Tensor up) = 0;
  // x = gelu_tanh(x).
  virtual Status gelu(Tensor x) = 0;
  // out[i] = in[rows[i]].
  virtual Status gather_rows(Tensor out, Tensor in, std::span<const std::int32_t> rows) = 0;
  // Copies a tensor to host memory (row-major, cols per row).
  virtual Status to_host(Tensor t, float* host) = 0;

  // Fused ops. Each is defined by its composition of the ops above (ops.cpp), which is what
  // the CPU backend runs; a backend may replace one with a single kernel that computes the
  // same float operations, so the architectures are written once for every backend.
  //
  // x += in · wᵀ (the residual add after an output projection).
  virtual Status matmul_add(Tensor x, Tensor in, const Weight& w);
  // out = act(h · gateᵀ) * (h · upᵀ) with h = rms_norm(x, norm, eps): a gated FFN's input.
  virtual Status norm_gated_matmul(Tensor out, Tensor x, const Weight& norm, float eps,
                                   const Weight& gate, const Weight& up, GatedActivation act);
  // h = rms_norm(x, norm, eps); q = rope(h · wqᵀ + bq), k = rope(h · wkᵀ + bk),
  // v = h · wvᵀ + bv: an attention block's input.
  virtual Status norm_qkv_rope(Tensor q, Tensor k, Tensor v, Tensor x, const Weight& norm,
                               float eps, const QkvWeights& w, const RopeParams& rq,
                               const RopeParams& rk, const Batch& batch);
};

}  // namespace zinfer::model
