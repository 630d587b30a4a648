// CudaOps (see cuda_ops.h): one launcher per op; the ops front (engine/model/ops.h) has
// checked the arguments' shapes.
#include "engine/backend/cuda/cuda_ops.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/add.h"
#include "kernels/add_bias.h"
#include "kernels/cuda_check.h"
#include "kernels/embed.h"
#include "kernels/f16_mma.h"
#include "kernels/fused_matvec.h"
#include "kernels/gated_activation.h"
#include "kernels/gather_rows.h"
#include "kernels/gelu.h"
#include "kernels/kv_store.h"
#include "kernels/layer_norm.h"
#include "kernels/matvec.h"
#include "kernels/moe.h"
#include "kernels/prompt_attention.h"
#include "kernels/q8_act.h"
#include "kernels/q8_mma.h"
#include "kernels/quant_gemm.h"
#include "kernels/residency.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"
#include "kernels/scale.h"
#include "kernels/softcap.h"
#include "kernels/topk_softmax.h"

namespace zinfer::cuda {

using model::Tensor;
using model::Weight;

namespace {

constexpr std::size_t kScratchChunkBytes = std::size_t{64} << 20;

Error shape_error(const char* op, const std::string& what) {
  return make_error(ErrorCode::kInferenceFailed, std::string(op) + ": " + what);
}

MatrixView view(Tensor t) { return MatrixView{t.data, t.rows, t.cols, t.stride}; }
QuantMatrixView view(const Weight& w) { return QuantMatrixView{w.type, w.ne0, w.ne1, w.data}; }

// The angle constants of p (plain, linear or YaRN scaling), as CpuOps::do_rope computes them.
RopeAngle rope_angle(const model::RopeParams& p) {
  return make_rope_angle(p.base, p.n_rot, p.freq_scale, p.ext_factor, p.attn_factor, p.yarn_low,
                         p.yarn_high);
}

// The kernel's arguments for p.
RopeArgs rope_args(const model::RopeParams& p) {
  RopeArgs a;
  a.n_head = p.n_head;
  a.head_dim = p.head_dim;
  a.n_rot = p.n_rot;
  a.neox = p.type == model::RopeType::kNeox;
  a.angle = rope_angle(p);  // the same float expressions as CpuOps, evaluated on the host
  return a;
}

// Whether two RopeParams rotate by the same angles (the fused QKV kernel uses one set).
bool same_angles(const model::RopeParams& a, const model::RopeParams& b) {
  return a.n_rot == b.n_rot && a.base == b.base && a.freq_scale == b.freq_scale &&
         a.ext_factor == b.ext_factor && a.attn_factor == b.attn_factor &&
         a.yarn_low == b.yarn_low && a.yarn_high == b.yarn_high;
}

}  // namespace

CudaOps::CudaOps(CudaContext& ctx, const CudaOpsConfig& config)
    : Ops(model::KvGeometry{config.n_layer, config.n_embd_kv, config.block_size}),
      ctx_(ctx),
      cfg_(config),
      arena_(ctx.ledger(), kScratchChunkBytes),
      uploader_(ctx.stream()),
      step_(ctx.ledger(), config.n_blocks, config.block_size) {
  cfg_.tensor_cores = config.tensor_cores || q8_mma_enabled();
}

Result<std::unique_ptr<CudaOps>> CudaOps::create(CudaContext& ctx, const CudaOpsConfig& config) {
  if (config.n_layer <= 0 || config.n_embd_kv <= 0 || config.n_blocks <= 0 ||
      config.block_size <= 0) {
    return make_error(ErrorCode::kInvalidParameter, "CudaOps: KV geometry must be positive");
  }
  auto ops = std::unique_ptr<CudaOps>(new CudaOps(ctx, config));
  const std::size_t kv_floats = static_cast<std::size_t>(config.n_layer) * config.n_blocks *
                                config.block_size * static_cast<std::size_t>(config.n_embd_kv);
  ZINFER_RETURN_IF_ERROR(ctx.make_current());
  ZINFER_ASSIGN_OR_RETURN(
      ops->k_cache_, DeviceBuffer::allocate(ctx.ledger(), kv_floats * sizeof(float), "K cache"));
  ZINFER_ASSIGN_OR_RETURN(
      ops->v_cache_, DeviceBuffer::allocate(ctx.ledger(), kv_floats * sizeof(float), "V cache"));
  return ops;
}

void CudaOps::begin_forward() {
  pending_.reset();
  Status st = ctx_.make_current();
  if (st.ok()) st = ctx_.synchronize();
  if (!st.ok()) pending_ = st.error();
  arena_.reset();
  uploader_.reset();
  step_.clear();
}

Status CudaOps::prepare_step(const model::Batch& batch, std::span<const std::int32_t> logit_rows) {
  ZINFER_RETURN_IF_ERROR(ready());
  return step_.prepare(batch, logit_rows);  // token ids were checked at the job boundary
}

Status CudaOps::upload_step() { return step_.upload(ctx_.stream()); }

Status CudaOps::ready() const {
  if (pending_) return *pending_;
  return ok_status();
}

Tensor CudaOps::do_alloc(std::int64_t rows, std::int64_t cols) {
  const std::int64_t stride = (cols + 15) / 16 * 16;
  const auto bytes =
      static_cast<std::size_t>(std::max<std::int64_t>(rows, 1) * stride) * sizeof(float);
  auto p = arena_.alloc(bytes);
  if (!p.ok()) {
    if (!pending_) pending_ = p.error();
    return Tensor{nullptr, rows, cols, stride};
  }
  return Tensor{static_cast<float*>(*p), rows, cols, stride};
}

Result<std::int32_t*> CudaOps::upload_i32(std::span<const std::int32_t> values) {
  // A graph would replay this copy with the values of the step it was captured in: per-step
  // data must come from StepInputs, so an upload fails the capture (the step runs eagerly).
  if (capturing_) {
    return make_error(ErrorCode::kInferenceFailed,
                      "per-step upload outside StepInputs during graph capture");
  }
  ZINFER_ASSIGN_OR_RETURN(void* dst, arena_.alloc(std::max<std::size_t>(values.size_bytes(), 4)));
  ZINFER_RETURN_IF_ERROR(uploader_.upload(values.data(), values.size_bytes(), dst));
  return static_cast<std::int32_t*>(dst);
}

float* CudaOps::layer_cache(const DeviceBuffer& cache, std::int32_t layer) const {
  const std::size_t per_layer = static_cast<std::size_t>(cfg_.n_blocks) * cfg_.block_size *
                                static_cast<std::size_t>(cfg_.n_embd_kv);
  return cache.as<float>() + per_layer * static_cast<std::size_t>(layer);
}

Result<CudaOps::DeviceBatch> CudaOps::device_batch(const model::Batch& batch) {
  if (!step_.is_tokens(batch.tokens)) {
    // Ops called outside Backend::forward (kernel tests): lay the batch out the same way now.
    // The pinned image may still feed an earlier copy of this pass: drain the stream first.
    if (capturing_) {
      return make_error(ErrorCode::kInferenceFailed,
                        "batch metadata outside StepInputs during graph capture");
    }
    ZINFER_RETURN_IF_ERROR(ctx_.synchronize());
    ZINFER_RETURN_IF_ERROR(step_.prepare(batch, {}));
    ZINFER_RETURN_IF_ERROR(step_.upload(ctx_.stream()));
  }
  const StepInputs::Device& d = step_.device();
  return DeviceBatch{d.positions, d.slots, d.bt_offsets, d.block_tables};
}

Status CudaOps::do_embed(Tensor out, const Weight& table, std::span<const std::int32_t> tokens) {
  ZINFER_RETURN_IF_ERROR(ready());
  if (tokens.empty()) return ok_status();
  if (step_.is_tokens(tokens)) {
    return launch_embed(view(out), view(table), step_.device().tokens, ctx_.stream());
  }
  if (step_.is_positions(tokens)) {  // GPT-2's learned position embeddings
    return launch_embed(view(out), view(table), step_.device().positions, ctx_.stream());
  }
  ZINFER_ASSIGN_OR_RETURN(std::int32_t * d_tokens, upload_i32(tokens));
  return launch_embed(view(out), view(table), d_tokens, ctx_.stream());
}

Status CudaOps::do_rms_norm(Tensor out, Tensor in, const Weight& w, float eps) {
  ZINFER_RETURN_IF_ERROR(ready());
  const auto* wd = static_cast<const float*>(w.data);
  return launch_rms_norm(view(out), view(in), wd, eps, ctx_.stream());
}

Status CudaOps::do_layer_norm(Tensor out, Tensor in, const Weight& w, const Weight& b, float eps) {
  ZINFER_RETURN_IF_ERROR(ready());
  const auto* wd = static_cast<const float*>(w.data);
  const auto* bd = static_cast<const float*>(b.data);
  return launch_layer_norm(view(out), view(in), wd, bd, eps, ctx_.stream());
}

Status CudaOps::do_matmul(Tensor out, Tensor in, const Weight& w) {
  ZINFER_RETURN_IF_ERROR(ready());
  if (in.rows == 0) return ok_status();
  if (f16_ok(w, in)) {
    model::ScratchScope scope(*this);
    ZINFER_ASSIGN_OR_RETURN(const F16Act a, f16_rows(in));
    const F16Product m{view(w), view(out), nullptr};
    return f16_products(a, &m, 1, false);
  }
  if (q8_ok(w, in)) {
    model::ScratchScope scope(*this);
    ZINFER_ASSIGN_OR_RETURN(const Q8Act a, quantize_act(in, w.type, w.ne1));
    const Q8MatvecOut m{view(w), view(out), nullptr};
    return q8_products(a, &m, 1, false);
  }
  if (cfg_.batch_invariant || in.rows <= kMatvecTileRows) {
    // The choice depends on the weight and buffers, never on the row count (invariance).
    if (matvec_pieces_supported(view(w), view(in)))
      return launch_matvec_pieces(view(out), view(in), view(w), false, ctx_.stream());
    return launch_matvec(view(out), view(in), view(w), ctx_.stream());
  }
  if (!gemm_tile_ && w.type != quant::GgmlType::kF32) {
    ZINFER_ASSIGN_OR_RETURN(gemm_tile_,
                            DeviceBuffer::allocate(ctx_.ledger(), kGemmTileFloats * sizeof(float),
                                                   "matmul dequant tile"));
  }
  return quant_gemm(ctx_.cublas(), view(out), view(in), view(w), gemm_tile_.as<float>(),
                    static_cast<std::int64_t>(gemm_tile_.size() / sizeof(float)), ctx_.stream());
}

Status CudaOps::do_add_bias(Tensor x, const Weight& b) {
  ZINFER_RETURN_IF_ERROR(ready());
  return launch_add_bias(view(x), static_cast<const float*>(b.data), ctx_.stream());
}

Status CudaOps::do_add(Tensor out, Tensor a, Tensor b) {
  ZINFER_RETURN_IF_ERROR(ready());
  return launch_add(view(out), view(a), view(b), ctx_.stream());
}

Status CudaOps::do_scale(Tensor x, float s) {
  ZINFER_RETURN_IF_ERROR(ready());
  return launch_scale(view(x), s, ctx_.stream());
}

Status CudaOps::do_softcap(Tensor x, float cap) {
  ZINFER_RETURN_IF_ERROR(ready());
  return launch_softcap(view(x), cap, ctx_.stream());
}

Status CudaOps::do_rope(Tensor x, const model::RopeParams& p, const model::Batch& batch) {
  ZINFER_RETURN_IF_ERROR(ready());
  ZINFER_ASSIGN_OR_RETURN(const DeviceBatch db, device_batch(batch));
  return launch_rope(view(x), rope_args(p), db.positions, ctx_.stream());
}

Status CudaOps::do_attention(Tensor out, Tensor q, Tensor k, Tensor v, const model::AttnParams& p,
                             const model::Batch& batch) {
  ZINFER_RETURN_IF_ERROR(ready());
  ZINFER_ASSIGN_OR_RETURN(const DeviceBatch db, device_batch(batch));
  float* kc = layer_cache(k_cache_, p.layer);
  float* vc = layer_cache(v_cache_, p.layer);
  AttentionBatch ab;
  ab.positions = db.positions;
  ab.bt_offsets = db.bt_offsets;
  ab.block_tables = db.block_tables;
  ab.block_size = cfg_.block_size;
  // Rows on the fp16 prompt attention (prompt_attention.h): every row under fp16 operands,
  // the prompt rows under per-token numerics. Their keys are stored first (the kernel does not
  // store); the other rows take the fp32 kernel below.
  const bool f16_all = cfg_.act_quant == CudaOpsConfig::ActQuant::kF16;
  const bool f16_some = f16_all || (cfg_.f16_prompts && !batch.all_generated());
  // A decode step (every sequence one new token) stores its keys and values inside the
  // attention kernel when fused: one launch less a layer.
  if (attention_io_fused() && batch.decode_only() && !f16_some) {
    ab.store = AttentionStore{k.data, k.stride, v.data, v.stride, db.slots};
  } else {
    ZINFER_RETURN_IF_ERROR(launch_kv_store(view(k), view(v), kc, vc, db.slots, ctx_.stream()));
  }
  AttentionArgs a;
  a.n_head = p.n_head;
  a.n_head_kv = p.n_head_kv;
  a.head_dim = p.head_dim;
  a.scale = p.scale;
  a.window = p.window;
  a.softcap = p.softcap;
  a.sinks = static_cast<const float*>(p.sinks.data);  // f32 [n_head] in VRAM, or null (front)
  a.sm_count = ctx_.info().sm_count;
  // Rows split over their keys when set (attention_split_keys): the grid's splits follow the
  // step's table width (fixed for a captured graph's shape), the scratch is this pass's.
  AttentionSplit sp = attention_split(static_cast<std::int64_t>(step_.width()) * cfg_.block_size);
  if (sp.keys > 0) {
    ZINFER_ASSIGN_OR_RETURN(void* part,
                            arena_.alloc(attention_split_floats(q.rows, a, sp) * sizeof(float)));
    sp.part = static_cast<float*>(part);
  }
  if (!f16_some)
    return launch_paged_attention(view(out), view(q), kc, vc, ab, a, ctx_.stream(), sp);
  if (!f16_all) {
    // The generated rows: the scheduler puts them first (rows [0, g)), so the fp32 kernel runs
    // on those alone; rows of both kinds in another order run it on every row, the prompt
    // rows' results then replaced below.
    std::int64_t g = 0;
    for (const model::SeqSpan& s : batch.seqs) g += s.generated ? s.n_tokens : 0;
    bool prefix = true;
    for (const model::SeqSpan& s : batch.seqs)
      prefix = prefix && (!s.generated || s.row_start + s.n_tokens <= g);
    if (g > 0) {
      const std::int64_t rows = prefix ? g : q.rows;
      ZINFER_RETURN_IF_ERROR(launch_paged_attention(view(out.rows_slice(0, rows)),
                                                    view(q.rows_slice(0, rows)), kc, vc, ab, a,
                                                    ctx_.stream(), sp));
    }
  }
  return prompt_attention(out, q, kc, vc, ab, a, batch, f16_all);
}

Status CudaOps::prompt_attention(Tensor out, Tensor q, const float* kc, const float* vc,
                                 const AttentionBatch& ab, const AttentionArgs& a,
                                 const model::Batch& batch, bool all_rows) {
  // Tiles of up to kPromptTileRows rows of one span; a decode step under fp16 operands is one
  // row a tile (no upload: a captured graph replays it).
  PromptTiles tiles;
  if (all_rows && batch.decode_only()) {
    tiles.n = static_cast<std::int32_t>(q.rows);
    return launch_prompt_attention(view(out), view(q), kc, vc, ab, a, tiles, ctx_.stream());
  }
  struct Tile {
    std::int32_t row0, rows, last_pos;
  };
  std::vector<Tile> list;
  for (const model::SeqSpan& s : batch.seqs) {
    if (s.generated && !all_rows) continue;
    for (std::int32_t r = 0; r < s.n_tokens; r += kPromptTileRows) {
      const std::int32_t n = std::min(kPromptTileRows, s.n_tokens - r);
      list.push_back({s.row_start + r, n, s.n_past + r + n - 1});
    }
  }
  // The tiles with the most keys first: the grid's last blocks are then the short ones.
  std::stable_sort(list.begin(), list.end(),
                   [](const Tile& x, const Tile& y) { return x.last_pos > y.last_pos; });
  std::vector<std::int32_t> flat;
  flat.reserve(list.size() * 2);
  for (const Tile& t : list) {
    flat.push_back(t.row0);
    flat.push_back(t.rows);
  }
  ZINFER_ASSIGN_OR_RETURN(std::int32_t * d_tiles, upload_i32(flat));
  tiles.tiles = d_tiles;
  tiles.n = static_cast<std::int32_t>(list.size());
  return launch_prompt_attention(view(out), view(q), kc, vc, ab, a, tiles, ctx_.stream());
}

Status CudaOps::do_swiglu(Tensor out, Tensor gate, Tensor up) {
  ZINFER_RETURN_IF_ERROR(ready());
  return launch_swiglu(view(out), view(gate), view(up), ctx_.stream());
}

Status CudaOps::do_geglu(Tensor out, Tensor gate, Tensor up) {
  ZINFER_RETURN_IF_ERROR(ready());
  return launch_geglu(view(out), view(gate), view(up), ctx_.stream());
}

Status CudaOps::do_gelu(Tensor x) {
  ZINFER_RETURN_IF_ERROR(ready());
  return launch_gelu(view(x), ctx_.stream());
}

Status CudaOps::do_gather_rows(Tensor out, Tensor in, std::span<const std::int32_t> rows) {
  ZINFER_RETURN_IF_ERROR(ready());
  if (rows.empty()) return ok_status();
  if (step_.is_logit_rows(rows)) {
    return launch_gather_rows(view(out), view(in), step_.device().logit_rows, ctx_.stream());
  }
  ZINFER_ASSIGN_OR_RETURN(std::int32_t * d_rows, upload_i32(rows));
  return launch_gather_rows(view(out), view(in), d_rows, ctx_.stream());
}

Status CudaOps::do_to_host(Tensor t, float* host) {
  ZINFER_RETURN_IF_ERROR(ready());
  if (t.rows <= 0 || t.cols <= 0) return ctx_.synchronize();
  // Through page-locked memory: a copy into pageable memory is staged by the driver in small
  // pieces and costs several times as long (logits are ~0.6 MB a row for 152k vocabularies).
  const std::size_t row_bytes = static_cast<std::size_t>(t.cols) * sizeof(float);
  const std::size_t bytes = row_bytes * static_cast<std::size_t>(t.rows);
  if (readback_.size() < bytes) {
    readback_ = PinnedBuffer();
    ZINFER_ASSIGN_OR_RETURN(readback_, PinnedBuffer::allocate(bytes));
  }
  ZINFER_CUDA_CHECK(cudaMemcpy2DAsync(
      readback_.data(), row_bytes, t.data, static_cast<std::size_t>(t.stride) * sizeof(float),
      row_bytes, static_cast<std::size_t>(t.rows), cudaMemcpyDeviceToHost, ctx_.stream()));
  ZINFER_RETURN_IF_ERROR(ctx_.synchronize());
  std::memcpy(host, readback_.data(), bytes);
  return ok_status();
}

Status CudaOps::do_topk_softmax(Tensor weights, Tensor ids, Tensor logits,
                                const model::Weight* bias) {
  ZINFER_RETURN_IF_ERROR(ready());
  return launch_topk_softmax(view(weights), view(ids), view(logits),
                             bias != nullptr ? static_cast<const float*>(bias->data) : nullptr,
                             ctx_.stream());
}

Status CudaOps::do_moe_ffn(Tensor out, Tensor x, Tensor ids, Tensor weights,
                           const model::ExpertWeights& w, const model::ExpertActParams& act) {
  return moe_ffn_impl(out, x, ids, weights, w, act, false);
}

Status CudaOps::do_moe_ffn_add(Tensor x, Tensor h, Tensor ids, Tensor weights,
                               const model::ExpertWeights& w, const model::ExpertActParams& act) {
  return moe_ffn_impl(x, h, ids, weights, w, act, true);
}

Status CudaOps::moe_ffn_impl(Tensor out, Tensor x, Tensor ids, Tensor weights,
                             const model::ExpertWeights& w, const model::ExpertActParams& act,
                             bool accumulate) {
  ZINFER_RETURN_IF_ERROR(ready());
  if (x.rows == 0) return ok_status();
  if (w.n_expert > kMoeMaxExperts) {
    return make_error(ErrorCode::kInferenceFailed, "moe_ffn: " + std::to_string(w.n_expert) +
                                                       " experts, the CUDA kernels take " +
                                                       std::to_string(kMoeMaxExperts));
  }
  model::ScratchScope scope(*this);
  // The routing's grouping, then h = act(gate, up) and y = down(h) per (row, slot) in
  // scratch, then the weighted sum: four launches, no host round trip.
  MoeRouting r;
  r.n_slots = x.rows * ids.cols;
  r.k = static_cast<std::int32_t>(ids.cols);
  r.n_expert = w.n_expert;
  r.max_tiles = moe_max_tiles(r.n_slots, r.n_expert);
  ZINFER_ASSIGN_OR_RETURN(
      void* ints, arena_.alloc(static_cast<std::size_t>(moe_routing_ints(r.n_slots, r.max_tiles)) *
                               sizeof(std::int32_t)));
  r.slots = static_cast<std::int32_t*>(ints);
  r.tile_expert = r.slots + r.n_slots;
  r.tile_begin = r.tile_expert + r.max_tiles;
  r.tile_count = r.tile_begin + r.max_tiles;
  Tensor h = alloc(r.n_slots, w.n_ff);
  Tensor y = alloc(r.n_slots, x.cols);
  ZINFER_RETURN_IF_ERROR(ready());  // a failed alloc above is pending
  ZINFER_RETURN_IF_ERROR(launch_moe_group(view(ids), r, ctx_.stream()));
  const auto bias = [](const Weight& b) { return static_cast<const float*>(b.data); };
  const MoeMatrix gate{view(w.gate), w.n_ff, bias(w.gate_b)};
  const MoeMatrix up{view(w.up), w.n_ff, bias(w.up_b)};
  const MoeMatrix down{view(w.down), x.cols, bias(w.down_b)};
  MoeActArgs a;
  a.act = act.kind == model::ExpertActivation::kSwigluOai ? MoeAct::kSwigluOai : MoeAct::kSilu;
  a.alpha = act.alpha;
  a.limit = act.limit;
  // With Q16 activations (--q16-act, with or without --tensor-cores), MXFP4 experts run on the
  // tensor-core tiles, their inputs quantized to Q16 first (the CPU's emulation of the mode
  // rounds them too: quant::q16_rounds); otherwise the f32 expert kernels. A choice by weights
  // and configuration only, never by the batch.
  if (cfg_.act_quant == CudaOpsConfig::ActQuant::kQ16 && moe_mma_supported(gate) &&
      moe_mma_supported(down) && x.cols % 32 == 0 && w.n_ff % 32 == 0) {
    const q8::Q8ActLayout lx = q8::q16_act_layout(x.cols), lh = q8::q16_act_layout(w.n_ff);
    ZINFER_ASSIGN_OR_RETURN(void* xq,
                            arena_.alloc(lx.row_bytes * static_cast<std::size_t>(x.rows)));
    ZINFER_ASSIGN_OR_RETURN(void* hq,
                            arena_.alloc(lh.row_bytes * static_cast<std::size_t>(r.n_slots)));
    auto* xb = static_cast<std::uint8_t*>(xq);
    auto* hb = static_cast<std::uint8_t*>(hq);
    ZINFER_RETURN_IF_ERROR(launch_quantize_act(lx, view(x), xb, ctx_.stream()));
    ZINFER_RETURN_IF_ERROR(
        launch_moe_mma_gate_up(view(h), xb, x.rows, x.cols, r, gate, up, a, ctx_.stream()));
    ZINFER_RETURN_IF_ERROR(launch_quantize_act(lh, view(h), hb, ctx_.stream()));
    ZINFER_RETURN_IF_ERROR(launch_moe_mma_down(view(y), hb, w.n_ff, r, down, ctx_.stream()));
  } else {
    ZINFER_RETURN_IF_ERROR(launch_moe_gate_up(view(h), view(x), r, gate, up, a, ctx_.stream()));
    ZINFER_RETURN_IF_ERROR(launch_moe_down(view(y), view(h), r, down, ctx_.stream()));
  }
  return launch_moe_combine(view(out), view(y), view(weights), view(ids), w.n_expert, accumulate,
                            ctx_.stream());
}

// The fused ops: one kernel when the weights qualify for the piece kernels, else the
// composition (the decision depends on weights and shapes only, never on the batch size).

bool CudaOps::fused_ok(const Weight& w, Tensor in, std::int64_t rows) const {
  return (cfg_.batch_invariant || rows <= kMatvecTileRows) &&
         matvec_pieces_supported(view(w), view(in));
}

bool CudaOps::q8_ok(const Weight& w, Tensor in) const {
  return cfg_.act_quant != CudaOpsConfig::ActQuant::kNone &&
         cfg_.act_quant != CudaOpsConfig::ActQuant::kF16 &&
         (cfg_.batch_invariant || cfg_.tensor_cores || in.rows <= kMatvecTileRows) &&
         q8_matvec_supported(view(w));
}

bool CudaOps::f16_ok(const Weight& w, Tensor in) const {
  const bool f16_rows =
      cfg_.act_quant == CudaOpsConfig::ActQuant::kF16 ||
      (cfg_.f16_prompts && cfg_.act_quant == CudaOpsConfig::ActQuant::kQ16 && !rows_generated());
  return f16_rows && in.cols == w.ne0 && f16_mma_weight_supported(view(w));
}

bool CudaOps::kind_matters(const Weight& w) const {
  return cfg_.f16_prompts && cfg_.act_quant == CudaOpsConfig::ActQuant::kQ16 &&
         f16_mma_weight_supported(view(w));
}

Result<F16Act> CudaOps::f16_rows(Tensor in, const Weight* norm, float eps) {
  Tensor src = in;
  if (norm != nullptr) {
    src = alloc(in.rows, in.cols);
    ZINFER_RETURN_IF_ERROR(ready());
    ZINFER_RETURN_IF_ERROR(launch_rms_norm(
        view(src), view(in), static_cast<const float*>(norm->data), eps, ctx_.stream()));
  }
  F16Act a;
  a.rows = in.rows;
  a.k = in.cols;
  a.stride = f16_act_stride(in.cols);
  ZINFER_ASSIGN_OR_RETURN(void* h, arena_.alloc(static_cast<std::size_t>(a.rows * a.stride) * 2));
  ZINFER_ASSIGN_OR_RETURN(void* s, arena_.alloc(static_cast<std::size_t>(a.rows) * sizeof(float)));
  a.data = static_cast<const std::uint16_t*>(h);
  a.scale = static_cast<const float*>(s);
  ZINFER_RETURN_IF_ERROR(launch_f16_act(view(src), static_cast<std::uint16_t*>(h),
                                        static_cast<float*>(s), ctx_.stream()));
  return a;
}

Status CudaOps::f16_products(const F16Act& a, const F16Product* mats, int n, bool accumulate) {
  bool same = true;
  for (int m = 1; m < n; ++m) same = same && mats[m].w.type == mats[0].w.type;
  const int launches = same ? 1 : n;
  for (int l = 0; l < launches; ++l) {
    const F16Product* first = same ? mats : mats + l;
    const int count = same ? n : 1;
    const std::int64_t need = f16_mma_part_ws_floats(a, first, count);
    float* ws = nullptr;
    if (need > 0) {
      ZINFER_ASSIGN_OR_RETURN(void* buf,
                              arena_.alloc(static_cast<std::size_t>(need) * sizeof(float)));
      ws = static_cast<float*>(buf);
    }
    ZINFER_RETURN_IF_ERROR(
        launch_f16_mma_stack(a, first, count, accumulate, ctx_.stream(), ws, need));
  }
  return ok_status();
}

Result<Q8Act> CudaOps::quantize_act(Tensor in, quant::GgmlType weight_type,
                                    std::int64_t weight_rows, const Weight* norm, float eps,
                                    bool gated) {
  Q8Act a;
  a.layout = cfg_.act_quant == CudaOpsConfig::ActQuant::kQ16
                 ? q8::q16_act_layout(in.cols)
                 : q8::q8_act_layout(q8_act_type(weight_type), in.cols);
  a.rows = in.rows;
  if ((!cfg_.tensor_cores || q8_mma_prologue(in.rows, weight_type, in.cols, gated)) &&
      in.cols == in.stride &&
      q8_prologue_fits(a.layout, in.rows, in.data, weight_rows,
                       quant::row_size(weight_type, in.cols))) {
    a.src = in.data;
    a.norm = norm != nullptr;
    a.norm_w = norm != nullptr ? static_cast<const float*>(norm->data) : nullptr;
    a.eps = eps;
    return a;
  }
  ZINFER_ASSIGN_OR_RETURN(void* buf,
                          arena_.alloc(a.layout.row_bytes * static_cast<std::size_t>(in.rows)));
  a.data = static_cast<const std::uint8_t*>(buf);
  auto* out = static_cast<std::uint8_t*>(buf);
  if (norm != nullptr) {
    ZINFER_RETURN_IF_ERROR(launch_rms_norm_quantize_act(
        a.layout, view(in), static_cast<const float*>(norm->data), eps, out, ctx_.stream()));
  } else {
    ZINFER_RETURN_IF_ERROR(launch_quantize_act(a.layout, view(in), out, ctx_.stream()));
  }
  return a;
}

Status CudaOps::q8_products(const Q8Act& a, const Q8MatvecOut* mats, int n_mats, bool accumulate) {
  if (!cfg_.tensor_cores) return launch_q8_matvec(a, mats, n_mats, accumulate, ctx_.stream());
  ZINFER_ASSIGN_OR_RETURN(const Q8Act b, with_part_scratch(a, mats, n_mats, false, accumulate));
  return launch_q8_mma_each(b, mats, n_mats, accumulate, ctx_.stream());
}

Result<Q8Act> CudaOps::with_part_scratch(Q8Act a, const Q8MatvecOut* mats, int n_mats, bool gated,
                                         bool accumulate) {
  const std::int64_t need = gated ? q8_mma_part_ws_floats(a, mats[0].w, true)
                                  : q8_mma_part_ws_floats(a, mats, n_mats, accumulate);
  if (need == 0) return a;
  ZINFER_ASSIGN_OR_RETURN(void* buf, arena_.alloc(static_cast<std::size_t>(need) * sizeof(float)));
  a.part_ws = static_cast<float*>(buf);
  a.part_ws_floats = need;
  return a;
}

Status CudaOps::do_matmul_add(Tensor x, Tensor in, const Weight& w, const Weight* bias) {
  ZINFER_RETURN_IF_ERROR(ready());
  if (in.rows == 0) return ok_status();
  if (f16_ok(w, in)) {  // x + (sum + bias), as composed
    model::ScratchScope scope(*this);
    ZINFER_ASSIGN_OR_RETURN(const F16Act a, f16_rows(in));
    const F16Product m{view(w), view(x),
                       bias != nullptr ? static_cast<const float*>(bias->data) : nullptr};
    return f16_products(a, &m, 1, true);
  }
  if (q8_ok(w, in)) {  // the bias in the products' epilogue: x + (sum + bias), as composed
    model::ScratchScope scope(*this);
    ZINFER_ASSIGN_OR_RETURN(const Q8Act a, quantize_act(in, w.type, w.ne1));
    const Q8MatvecOut m{view(w), view(x),
                        bias != nullptr ? static_cast<const float*>(bias->data) : nullptr};
    return q8_products(a, &m, 1, true);
  }
  if (bias != nullptr || !fused_ok(w, in, in.rows)) return Ops::do_matmul_add(x, in, w, bias);
  return launch_matvec_pieces(view(x), view(in), view(w), true, ctx_.stream());
}

Status CudaOps::do_norm_gated_matmul(Tensor out, Tensor x, const Weight& norm, float eps,
                                     const Weight& gate, const Weight& up,
                                     model::GatedActivation act) {
  ZINFER_RETURN_IF_ERROR(ready());
  const auto* nw = static_cast<const float*>(norm.data);  // f32 [x.cols] or absent (front)
  if (x.rows == 0) return ok_status();
  if (f16_ok(gate, x) && f16_ok(up, x)) {
    // RMSNorm, fp16 rows, both products (one launch where the types agree), the activation.
    model::ScratchScope scope(*this);
    ZINFER_ASSIGN_OR_RETURN(const F16Act a, f16_rows(x, &norm, eps));
    const Tensor g = alloc(x.rows, gate.ne1), u = alloc(x.rows, up.ne1);
    ZINFER_RETURN_IF_ERROR(ready());
    const F16Product mats[2] = {{view(gate), view(g), nullptr}, {view(up), view(u), nullptr}};
    ZINFER_RETURN_IF_ERROR(f16_products(a, mats, 2, false));
    return act == model::GatedActivation::kSilu
               ? launch_swiglu(view(out), view(g), view(u), ctx_.stream())
               : launch_geglu(view(out), view(g), view(u), ctx_.stream());
  }
  if (q8_ok(gate, x) && up.type == gate.type) {
    // RMSNorm and quantization in one kernel, then both matrices and the activation epilogue.
    model::ScratchScope scope(*this);
    ZINFER_ASSIGN_OR_RETURN(const Q8Act a,
                            quantize_act(x, gate.type, 2 * gate.ne1, &norm, eps, /*gated=*/true));
    const GatedAct ga =
        act == model::GatedActivation::kSilu ? GatedAct::kSilu : GatedAct::kGeluTanh;
    if (cfg_.tensor_cores) {
      const Q8MatvecOut g{view(gate), view(out), nullptr};
      ZINFER_ASSIGN_OR_RETURN(const Q8Act b, with_part_scratch(a, &g, 1, true));
      return launch_q8_mma_gated(view(out), b, view(gate), view(up), ga, ctx_.stream());
    }
    return launch_q8_gated_matvec(view(out), a, view(gate), view(up), ga, ctx_.stream());
  }
  if (!fused_ok(gate, x, x.rows))
    return Ops::do_norm_gated_matmul(out, x, norm, eps, gate, up, act);
  return launch_norm_gated_matvec(
      view(out), view(x), nw, eps, view(gate), view(up),
      act == model::GatedActivation::kSilu ? GatedAct::kSilu : GatedAct::kGeluTanh, ctx_.stream());
}

Status CudaOps::rope_qk(Tensor q, Tensor k, const model::RopeParams& rq,
                        const model::RopeParams& rk, const model::Batch& batch, bool rope_match) {
  if (rope_match && attention_io_fused()) {  // q and k in one launch, the same bits
    ZINFER_ASSIGN_OR_RETURN(const DeviceBatch db, device_batch(batch));
    return launch_rope_qk(view(q), view(k), rope_args(rq), rk.n_head, db.positions, ctx_.stream());
  }
  ZINFER_RETURN_IF_ERROR(rope(q, rq, batch));
  return rope(k, rk, batch);
}

Status CudaOps::qkv_products(Tensor q, Tensor k, Tensor v, Tensor x, const Weight& norm, float eps,
                             const model::QkvWeights& w) {
  if (f16_ok(w.wq, x) && f16_ok(w.wk, x) && f16_ok(w.wv, x)) {
    // RMSNorm, fp16 rows, Q, K and V with their biases (one launch where the types agree).
    model::ScratchScope scope(*this);
    ZINFER_ASSIGN_OR_RETURN(const F16Act a, f16_rows(x, &norm, eps));
    const F16Product mats[3] = {{view(w.wq), view(q), static_cast<const float*>(w.bq.data)},
                                {view(w.wk), view(k), static_cast<const float*>(w.bk.data)},
                                {view(w.wv), view(v), static_cast<const float*>(w.bv.data)}};
    return f16_products(a, mats, 3, false);
  }
  if (w.wq.type == w.wk.type && w.wq.type == w.wv.type && q8_ok(w.wq, x)) {
    // RMSNorm and quantization in one kernel, Q, K and V with biases (one launch on the
    // matvec kernels).
    model::ScratchScope scope(*this);
    ZINFER_ASSIGN_OR_RETURN(const Q8Act a,
                            quantize_act(x, w.wq.type, w.wq.ne1 + w.wk.ne1 + w.wv.ne1, &norm, eps));
    const Q8MatvecOut mats[3] = {{view(w.wq), view(q), static_cast<const float*>(w.bq.data)},
                                 {view(w.wk), view(k), static_cast<const float*>(w.bk.data)},
                                 {view(w.wv), view(v), static_cast<const float*>(w.bv.data)}};
    return q8_products(a, mats, 3, false);
  }
  return norm_qkv_composed(q, k, v, x, norm, eps, w);
}

Status CudaOps::do_norm_qkv_rope(Tensor q, Tensor k, Tensor v, Tensor x, const Weight& norm,
                                 float eps, const model::QkvWeights& w, const model::RopeParams& rq,
                                 const model::RopeParams& rk, const model::Batch& batch) {
  ZINFER_RETURN_IF_ERROR(ready());
  const bool same_type = w.wq.type == w.wk.type && w.wq.type == w.wv.type;
  const bool rope_match = rq.head_dim == rk.head_dim && rq.type == rk.type && same_angles(rq, rk) &&
                          rq.head_dim % 2 == 0;
  if (x.rows == 0) return ok_status();
  if (kind_matters(w.wq) || kind_matters(w.wk) || kind_matters(w.wv)) {
    // Per-token numerics: the products of each run of rows of one kind, then RoPE over all.
    const Weight& wk = kind_matters(w.wq) ? w.wq : kind_matters(w.wk) ? w.wk : w.wv;
    ZINFER_RETURN_IF_ERROR(by_kind(x.rows, wk, [&](std::int64_t r0, std::int64_t n) {
      return qkv_products(q.rows_slice(r0, n), k.rows_slice(r0, n), v.rows_slice(r0, n),
                          x.rows_slice(r0, n), norm, eps, w);
    }));
    return rope_qk(q, k, rq, rk, batch, rope_match);
  }
  // The fp16 tiles, or the Q8 matmuls of the composition on the tensor cores (or where q and
  // k rotate differently): the products, then RoPE on q and k.
  const bool q8 = same_type && q8_ok(w.wq, x);
  if ((f16_ok(w.wq, x) && f16_ok(w.wk, x) && f16_ok(w.wv, x)) ||
      (q8 && (!rope_match || cfg_.tensor_cores))) {
    ZINFER_RETURN_IF_ERROR(qkv_products(q, k, v, x, norm, eps, w));
    return rope_qk(q, k, rq, rk, batch, rope_match);
  }
  if (!q8 && (!same_type || !rope_match || !fused_ok(w.wq, x, x.rows))) {
    return Ops::do_norm_qkv_rope(q, k, v, x, norm, eps, w, rq, rk, batch);
  }
  // One kernel for Q, K, V, biases and RoPE (after one RMSNorm + quantization kernel with
  // --q8-act). The front checked: f32 vectors of the right widths, or absent (null).
  ZINFER_ASSIGN_OR_RETURN(const DeviceBatch db, device_batch(batch));
  QkvRopeArgs a;
  a.q = view(q);
  a.k = view(k);
  a.v = view(v);
  a.wq = view(w.wq);
  a.wk = view(w.wk);
  a.wv = view(w.wv);
  a.bq = static_cast<const float*>(w.bq.data);
  a.bk = static_cast<const float*>(w.bk.data);
  a.bv = static_cast<const float*>(w.bv.data);
  a.norm_w = static_cast<const float*>(norm.data);
  a.eps = eps;
  a.n_head = rq.n_head;
  a.n_head_kv = rk.n_head;
  a.head_dim = rq.head_dim;
  a.n_rot = rq.n_rot;
  a.neox = rq.type == model::RopeType::kNeox;
  a.angle = rope_angle(rq);  // as rope()
  a.positions = db.positions;
  if (q8) {
    model::ScratchScope scope(*this);
    ZINFER_ASSIGN_OR_RETURN(const Q8Act qa,
                            quantize_act(x, w.wq.type, w.wq.ne1 + w.wk.ne1 + w.wv.ne1, &norm, eps));
    return launch_q8_qkv_rope(qa, a, ctx_.stream());
  }
  return launch_norm_qkv_rope(view(x), a, ctx_.stream());
}

Status CudaOps::verify_residency() const {
  ZINFER_RETURN_IF_ERROR(check_vram_resident(k_cache_.data(), "K cache"));
  return check_vram_resident(v_cache_.data(), "V cache");
}

}  // namespace zinfer::cuda
