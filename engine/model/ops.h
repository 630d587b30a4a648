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
  // Rows [row0, row0 + n) as a weight of their own (one expert of a stacked expert tensor).
  // Pointer arithmetic only, so it holds for device pointers too.
  Weight rows_slice(std::int64_t row0, std::int64_t n) const {
    const auto* base = static_cast<const std::uint8_t*>(data);
    return {type, ne0, n, base + static_cast<std::size_t>(row0) * quant::row_size(type, ne0)};
  }
};

// An f32 activation matrix in backend memory: [rows][cols] with a row stride (in floats),
// so column slices (e.g. Q/K/V of a fused projection) are views without copies.
struct Tensor {
  float* data = nullptr;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t stride = 0;  // floats between consecutive rows (≥ cols)

  Tensor cols_slice(std::int64_t col0, std::int64_t n) const {
    return {data + col0, rows, n, stride};
  }
  Tensor rows_slice(std::int64_t row0, std::int64_t n) const {
    return {data + row0 * stride, n, cols, stride};
  }
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
  // Its tokens were sampled by the engine (decodes, a preempted job's recomputed output)
  // rather than given in a prompt: with per-token numerics (LlmOptions::fp16_prompts) the
  // two kinds take different matmul numerics. A span holds one kind.
  bool generated = false;
};

struct Batch {
  std::span<const std::int32_t> tokens;     // [n_tokens]
  std::span<const std::int32_t> positions;  // [n_tokens]
  std::vector<SeqSpan> seqs;
  std::int64_t n_tokens() const { return static_cast<std::int64_t>(tokens.size()); }
  // A decode step: every sequence brings exactly one new token (no row reads another row's
  // new key; what CUDA graphs capture and padding fills).
  bool decode_only() const {
    for (const SeqSpan& s : seqs) {
      if (s.n_tokens != 1) return false;
    }
    return true;
  }
  bool all_generated() const {
    for (const SeqSpan& s : seqs) {
      if (!s.generated) return false;
    }
    return true;
  }
};

struct RopeParams {
  std::int32_t n_head = 0;
  std::int32_t head_dim = 0;
  std::int32_t n_rot = 0;
  RopeType type = RopeType::kNorm;
  float base = 10000.0f;
  float freq_scale = 1.0f;
  // YaRN (Peng et al. 2023) in ggml's formulation: for rotation pair i the angle mixes the
  // interpolated (freq_scale · θ) and extrapolated (θ) angles with weight
  // ramp(i) · ext_factor, ramp(i) = 1 - clamp((i - yarn_low) / max(0.001, yarn_high - yarn_low),
  // 0, 1); cos and sin are multiplied by attn_factor · (1 + 0.1 ln(1 / freq_scale)).
  // ext_factor 0 (the default) is plain RoPE with cos and sin times attn_factor.
  float ext_factor = 0.0f;
  float attn_factor = 1.0f;
  float yarn_low = 0.0f;   // first pair index of the ramp (ggml's corr_dims[0])
  float yarn_high = 0.0f;  // last (corr_dims[1])
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
  float scale = 1.0f;       // applied to q·k
  std::int32_t window = 0;  // sliding window (keys with pos > q_pos - window); 0 → full
  float softcap = 0.0f;     // tanh soft-capping of scores; 0 → off
  // Learned attention sinks (gpt-oss): f32 [n_head], one extra logit per head that joins the
  // softmax (max and denominator) but has no value row. Absent → none.
  Weight sinks = {};
};

// The stacked expert matrices of one mixture-of-experts layer, as GGUF stores them
// (ffn_{gate,up,down}_exps: ne = [in, out, n_expert]): expert e's rows of gate and up are
// [e * n_ff, (e + 1) * n_ff), its rows of down [e * n_embd, (e + 1) * n_embd).
struct ExpertWeights {
  std::int32_t n_expert = 0;
  std::int32_t n_ff = 0;  // per expert
  Weight gate;            // [n_expert * n_ff][n_embd]
  Weight up;              // [n_expert * n_ff][n_embd]
  Weight down;            // [n_expert * n_embd][n_ff]
  Weight gate_b, up_b;    // f32 [n_expert][n_ff], or absent
  Weight down_b;          // f32 [n_expert][n_embd], or absent
};

// The gated activation inside each expert.
enum class ExpertActivation {
  kSilu,       // silu(gate) * up
  kSwigluOai,  // gpt-oss: g = min(gate, limit), u = clamp(up, -limit, limit),
               // g * sigmoid(alpha * g) * (u + 1)
};
struct ExpertActParams {
  ExpertActivation kind = ExpertActivation::kSilu;
  float alpha = 1.702f;  // kSwigluOai
  float limit = 7.0f;    // kSwigluOai
};

// KV cache geometry of a backend, known to the front so it can check attention's arguments.
struct KvGeometry {
  std::int32_t n_layer = 0;     // layers with a KV cache
  std::int32_t n_embd_kv = 0;   // n_head_kv * head_dim per token and layer
  std::int32_t block_size = 0;  // tokens per KV block
};

// The front every architecture calls is non-virtual: it checks the arguments' shapes once
// (a mismatch is kInferenceFailed naming the op: a bug in an architecture file, never bad
// input) and calls the backend's do_* implementation, which trusts them. Token ids were
// range-checked at the boundary where a request became a job (sched::JobSpec); embed only
// asserts it.
class Ops {
 public:
  virtual ~Ops() = default;

  // Scratch activation valid until the end of the current forward pass.
  Tensor alloc(std::int64_t rows, std::int64_t cols) { return do_alloc(rows, cols); }
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
  Status embed(Tensor out, const Weight& table, std::span<const std::int32_t> tokens);
  // out = in / rms(in) * w, per row (w may be absent → no scaling; else f32 [in.cols]).
  // out may alias in.
  Status rms_norm(Tensor out, Tensor in, const Weight& w, float eps);
  // out = (in - mean) / sqrt(var + eps) * w + b (w, b: absent or f32 [in.cols]).
  Status layer_norm(Tensor out, Tensor in, const Weight& w, const Weight& b, float eps);
  // out[rows][w.ne1] = in[rows][w.ne0] · wᵀ.
  Status matmul(Tensor out, Tensor in, const Weight& w);
  // x[r] += b (b is an f32 vector of x.cols).
  Status add_bias(Tensor x, const Weight& b);
  // out = a + b (elementwise, same shape; out may alias a).
  Status add(Tensor out, Tensor a, Tensor b);
  Status scale(Tensor x, float s) { return do_scale(x, s); }
  // x = cap * tanh(x / cap) (Gemma's logit soft-capping; cap > 0).
  Status softcap(Tensor x, float cap);
  // In-place rotary embedding of x = [rows][n_head * head_dim] at the batch positions.
  Status rope(Tensor x, const RopeParams& p, const Batch& batch);
  // Stores k, v of the batch into the KV cache of layer p.layer, then causal attention of q
  // over each sequence's cached keys. q: [rows][n_head*head_dim], k/v: [rows][n_head_kv*head_dim].
  Status attention(Tensor out, Tensor q, Tensor k, Tensor v, const AttnParams& p,
                   const Batch& batch);
  // out = silu(gate) * up.
  Status swiglu(Tensor out, Tensor gate, Tensor up);
  // out = gelu_tanh(gate) * up.
  Status geglu(Tensor out, Tensor gate, Tensor up);
  // x = gelu_tanh(x).
  Status gelu(Tensor x) { return do_gelu(x); }
  // out[i] = in[rows[i]].
  Status gather_rows(Tensor out, Tensor in, std::span<const std::int32_t> rows);
  // Copies a tensor to host memory (row-major, cols per row).
  Status to_host(Tensor t, float* host) { return do_to_host(t, host); }

  // Mixture-of-experts routing: per row, the k = weights.cols largest logits (ties: lower
  // expert first), in descending order; ids[r][j] is the expert (stored as a float, exact
  // below 2^24) and weights[r][j] the softmax over the k selected logits.
  // logits: [rows][n_expert]; ids, weights: [rows][k]. With a bias (f32 [n_expert]) the
  // router's bias is added first, in place, as add_bias(logits, bias) would (one launch fewer).
  Status topk_softmax(Tensor weights, Tensor ids, Tensor logits, const Weight* bias = nullptr);
  // out[r] = Σ_j weights[r][j] · (down_e · act(gate_e · x[r] + gate_b_e, up_e · x[r] + up_b_e)
  //          + down_b_e) with e = ids[r][j], summed in j order: the experts of a MoE layer.
  // x, out: [rows][n_embd]; ids, weights: [rows][k] as topk_softmax writes them.
  Status moe_ffn(Tensor out, Tensor x, Tensor ids, Tensor weights, const ExpertWeights& w,
                 const ExpertActParams& act);
  // x += moe_ffn(h, ...) (the residual add after a MoE block; a fused op, see below).
  Status moe_ffn_add(Tensor x, Tensor h, Tensor ids, Tensor weights, const ExpertWeights& w,
                     const ExpertActParams& act);

  // Fused ops. Each is defined by its composition of the ops above (the default do_*
  // implementations in ops.cpp), which is what the CPU backend runs; a backend may replace
  // one with a single kernel that computes the same float operations, so the architectures
  // are written once for every backend.
  //
  // x += in · wᵀ (the residual add after an output projection); with a bias (f32 [w.ne1]),
  // x += (in · wᵀ + bias): the projection's bias added before the residual.
  Status matmul_add(Tensor x, Tensor in, const Weight& w, const Weight* bias = nullptr);
  // out = act(h · gateᵀ) * (h · upᵀ) with h = rms_norm(x, norm, eps): a gated FFN's input.
  Status norm_gated_matmul(Tensor out, Tensor x, const Weight& norm, float eps, const Weight& gate,
                           const Weight& up, GatedActivation act);
  // h = rms_norm(x, norm, eps); q = rope(h · wqᵀ + bq), k = rope(h · wkᵀ + bk),
  // v = h · wvᵀ + bv: an attention block's input.
  Status norm_qkv_rope(Tensor q, Tensor k, Tensor v, Tensor x, const Weight& norm, float eps,
                       const QkvWeights& w, const RopeParams& rq, const RopeParams& rk,
                       const Batch& batch);

  // Per-token numerics (LlmOptions::fp16_prompts): which rows of this pass hold generated
  // tokens (SeqSpan::generated), for the pass's token rows and its logit rows. Backends call
  // it before the architecture runs; without it every row counts as a prompt row.
  void set_row_kinds(const Batch& batch, std::span<const std::int32_t> logit_rows);

 protected:
  explicit Ops(const KvGeometry& kv) : kv_(kv) {}

  // Rows [begin, end) of one kind.
  struct RowRun {
    std::int64_t begin = 0;
    std::int64_t end = 0;
    bool generated = false;
  };
  // The runs of a tensor of `rows` rows: the pass's token rows or its logit rows (another row
  // count: none — one run of prompt rows). A view of runs kept for the pass: no allocation.
  std::span<const RowRun> row_runs(std::int64_t rows) const;
  // Whether the kind of a row changes a product with w (the backend's per-token numerics).
  virtual bool kind_matters(const Weight& /*w*/) const { return false; }
  // The kind of the rows the current do_* call holds: the matmul fronts call their do_* once
  // per run of rows of one kind where kind_matters, else once with the first row's kind.
  bool rows_generated() const { return generated_; }
  // Runs f(row0, n) once per run of `rows` (or once for all of them, see rows_generated),
  // with rows_generated() set; fronts called inside keep the kind (no second split).
  template <typename F>
  Status by_kind(std::int64_t rows, const Weight& w, F&& f);

  // The backend's implementations: called only by the front above, with checked shapes.
  virtual Tensor do_alloc(std::int64_t rows, std::int64_t cols) = 0;
  virtual Status do_embed(Tensor out, const Weight& table,
                          std::span<const std::int32_t> tokens) = 0;
  virtual Status do_rms_norm(Tensor out, Tensor in, const Weight& w, float eps) = 0;
  virtual Status do_layer_norm(Tensor out, Tensor in, const Weight& w, const Weight& b,
                               float eps) = 0;
  virtual Status do_matmul(Tensor out, Tensor in, const Weight& w) = 0;
  virtual Status do_add_bias(Tensor x, const Weight& b) = 0;
  virtual Status do_add(Tensor out, Tensor a, Tensor b) = 0;
  virtual Status do_scale(Tensor x, float s) = 0;
  virtual Status do_softcap(Tensor x, float cap) = 0;
  virtual Status do_rope(Tensor x, const RopeParams& p, const Batch& batch) = 0;
  virtual Status do_attention(Tensor out, Tensor q, Tensor k, Tensor v, const AttnParams& p,
                              const Batch& batch) = 0;
  virtual Status do_swiglu(Tensor out, Tensor gate, Tensor up) = 0;
  virtual Status do_geglu(Tensor out, Tensor gate, Tensor up) = 0;
  virtual Status do_gelu(Tensor x) = 0;
  virtual Status do_gather_rows(Tensor out, Tensor in, std::span<const std::int32_t> rows) = 0;
  virtual Status do_to_host(Tensor t, float* host) = 0;
  // Mixture-of-experts ops: no composition of the basic ops expresses them, so a backend
  // without its own implementation answers kInferenceFailed naming the op.
  virtual Status do_topk_softmax(Tensor weights, Tensor ids, Tensor logits, const Weight* bias);
  virtual Status do_moe_ffn(Tensor out, Tensor x, Tensor ids, Tensor weights,
                            const ExpertWeights& w, const ExpertActParams& act);
  virtual Status do_moe_ffn_add(Tensor x, Tensor h, Tensor ids, Tensor weights,
                                const ExpertWeights& w, const ExpertActParams& act);
  // norm_qkv_rope's composition without the RoPE: RMSNorm, the Q, K and V matmuls (through
  // the matmul front) and their biases.
  Status norm_qkv_composed(Tensor q, Tensor k, Tensor v, Tensor x, const Weight& norm, float eps,
                           const QkvWeights& w);
  // The fused ops: by default their compositions (ops.cpp).
  virtual Status do_matmul_add(Tensor x, Tensor in, const Weight& w, const Weight* bias);
  virtual Status do_norm_gated_matmul(Tensor out, Tensor x, const Weight& norm, float eps,
                                      const Weight& gate, const Weight& up, GatedActivation act);
  virtual Status do_norm_qkv_rope(Tensor q, Tensor k, Tensor v, Tensor x, const Weight& norm,
                                  float eps, const QkvWeights& w, const RopeParams& rq,
                                  const RopeParams& rk, const Batch& batch);

 private:
  KvGeometry kv_;
  std::int64_t step_rows_ = -1, logit_count_ = -1;
  std::vector<RowRun> step_runs_, logit_runs_;
  bool in_run_ = false;  // inside by_kind: the rows are of one kind
  bool generated_ = false;
};

template <typename F>
Status Ops::by_kind(std::int64_t rows, const Weight& w, F&& f) {
  if (in_run_) return f(std::int64_t{0}, rows);
  std::span<const RowRun> runs = row_runs(rows);
  const RowRun all{0, rows, !runs.empty() && runs[0].generated};
  if (runs.size() <= 1 || !kind_matters(w)) runs = std::span<const RowRun>(&all, 1);
  Status st = ok_status();
  in_run_ = true;
  for (const RowRun& r : runs) {
    generated_ = r.generated;
    st = f(r.begin, r.end - r.begin);
    if (!st.ok()) break;
  }
  in_run_ = false;
  generated_ = false;
  return st;
}

// Releases the scratch a composition (or a backend's op) allocated when it goes out of scope.
class ScratchScope {
 public:
  explicit ScratchScope(Ops& ops) : ops_(ops), mark_(ops.scratch_mark()) {}
  ~ScratchScope() { ops_.scratch_release(mark_); }
  ScratchScope(const ScratchScope&) = delete;
  ScratchScope& operator=(const ScratchScope&) = delete;

 private:
  Ops& ops_;
  Ops::ScratchMark mark_;
};

}  // namespace zinfer::model
