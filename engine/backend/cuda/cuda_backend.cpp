// CudaBackend and its KV pool planning (see cuda_backend.h).
#include "engine/backend/cuda/cuda_backend.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>

#include "engine/backend/cuda/cuda_ops.h"
#include "engine/backend/cuda/cuda_weights.h"
#include "engine/backend/cuda/device_sampler.h"
#include "engine/backend/cuda/step_graphs.h"
#include "kernels/cuda_context.h"

namespace zinfer::cuda {
namespace {

// Decode steps with more rows than this run eagerly (their launch overhead is amortized).
constexpr std::int64_t kMaxGraphRows = 512;

std::string mib(std::int64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

class CudaBackend final : public model::Backend {
 public:
  CudaBackend(std::unique_ptr<CudaContext> ctx, std::unique_ptr<CudaOps> ops,
              const gguf::GgufFile& file, std::int32_t kv_blocks, bool graphs, bool gpu_sampling)
      : ctx_(std::move(ctx)),
        weights_(file, *ctx_),
        ops_(std::move(ops)),
        sampler_(ctx_->ledger()),
        kv_blocks_(kv_blocks),
        graphs_enabled_(graphs),
        gpu_sampling_(gpu_sampling) {}

  model::Ops& ops() override { return *ops_; }
  model::WeightSource& weights() override { return weights_; }
  void begin_forward() override {
    if (!loaded_) {
      weights_.release_staging();  // every weight was requested before the first pass
      loaded_ = true;
    }
    ops_->begin_forward();
  }
  Status forward(model::Architecture& arch, const model::Batch& batch,
                 std::span<const std::int32_t> logit_rows, model::Tensor logits) override {
    ZINFER_RETURN_IF_ERROR(ops_->prepare_step(batch, logit_rows));
    ops_->set_row_kinds(batch, logit_rows);
    const auto record = [&]() -> Status {
      ZINFER_RETURN_IF_ERROR(ops_->upload_step());
      return arch.forward(*ops_, batch, logit_rows, logits);
    };
    // Decode steps (one new token per sequence) repeat with the same shape: graph them.
    // With per-token numerics a graph holds its rows' kinds: only all-generated steps (the
    // decodes) are graphed, a step with a one-token prompt chunk runs eagerly.
    if (!graphs_enabled_ || !batch.decode_only() || batch.n_tokens() > kMaxGraphRows ||
        (ops_->per_token_numerics() && !batch.all_generated()))
      return record();
    StepShape shape;
    shape.rows = batch.n_tokens();
    shape.logit_rows = static_cast<std::int64_t>(logit_rows.size());
    shape.table_width = ops_->step_inputs().width();
    shape.logits = logits.data;
    shape.inputs_generation = ops_->step_inputs().generation();
    return graphs_.run(shape, ctx_->stream(), record, [&](bool on) { ops_->set_capturing(on); });
  }
  Result<std::vector<Result<sample::SampleResult>>> sample(
      model::Tensor logits, std::span<const model::SampleRow> rows) override {
    if (!gpu_sampling_) return Backend::sample(logits, rows);
    return sampler_.sample(MatrixView{logits.data, logits.rows, logits.cols, logits.stride}, rows,
                           ctx_->stream());
  }
  std::string describe() const override {
    return ctx_->describe() + ": weights " +
           mib(static_cast<std::int64_t>(weights_.uploaded_bytes())) + ", KV pool " +
           mib(static_cast<std::int64_t>(ops_->kv_bytes())) + ", VRAM in use " +
           mib(static_cast<std::int64_t>(ctx_->ledger().in_use()));
  }
  std::int32_t kv_blocks() const override { return kv_blocks_; }
  model::DeviceReport device_report() const override {
    model::DeviceReport r;
    r.name = ctx_->describe();
    r.device_bytes = ctx_->ledger().in_use();
    r.weight_bytes = weights_.uploaded_bytes();
    r.kv_bytes = ops_->kv_bytes();
    r.vram_resident = resident_;
    r.scratch_bytes = ops_->scratch_bytes();
    r.graphs = graphs_.size();
    r.graph_replays = graphs_.replays();
    return r;
  }
  Status verify_residency() override {
    ZINFER_RETURN_IF_ERROR(weights_.verify_residency());
    ZINFER_RETURN_IF_ERROR(ops_->verify_residency());
    resident_ = true;
    spdlog::info("cuda: residency verified: {} of weights and {} of KV cache in device memory",
                 mib(static_cast<std::int64_t>(weights_.uploaded_bytes())),
                 mib(static_cast<std::int64_t>(ops_->kv_bytes())));
    return ok_status();
  }

 private:
  // Declaration order is destruction order reversed: buffers go before the context.
  std::unique_ptr<CudaContext> ctx_;
  CudaWeights weights_;
  std::unique_ptr<CudaOps> ops_;
  DeviceSampler sampler_;
  std::int32_t kv_blocks_;
  bool graphs_enabled_;
  bool gpu_sampling_;
  StepGraphs graphs_;
  bool loaded_ = false;
  bool resident_ = false;
};

}  // namespace

Result<KvPlan> plan_kv_pool(const model::BackendConfig& c, std::int64_t weight_bytes,
                            std::int64_t free_bytes, int device_index) {
  if (c.n_layer <= 0 || c.n_embd_kv <= 0 || c.kv_block_size <= 0 || c.n_ctx <= 0 ||
      c.n_seq_max <= 0) {
    return make_error(
        ErrorCode::kInvalidParameter,
        "CUDA backend: n_layer, n_embd_kv, kv_block_size, n_ctx and n_seq_max must be > 0");
  }
  const std::int64_t block_bytes = std::int64_t{2} * c.n_layer * c.n_embd_kv * 4 * c.kv_block_size;
  const std::int64_t min_blocks = (c.n_ctx + c.kv_block_size - 1) / c.kv_block_size;
  const std::int64_t needed = weight_bytes + min_blocks * block_bytes + kWorkingReserveBytes;
  const std::string dev = "cuda:" + std::to_string(device_index);
  if (needed > free_bytes) {
    return make_error(ErrorCode::kOutOfMemory,
                      "model needs " + std::to_string(needed) + " bytes of VRAM on " + dev +
                          " (weights " + std::to_string(weight_bytes) +
                          " + KV cache for n_ctx=" + std::to_string(c.n_ctx) + " tokens " +
                          std::to_string(min_blocks * block_bytes) + " + working memory " +
                          std::to_string(kWorkingReserveBytes) + ") but only " +
                          std::to_string(free_bytes) + " bytes are free");
  }
  const std::int64_t left = free_bytes - weight_bytes - kWorkingReserveBytes;
  std::int64_t blocks = 0;
  if (c.kv_cache_bytes > 0) {
    if (c.kv_cache_bytes > left) {
      return make_error(ErrorCode::kOutOfMemory,
                        "kv_cache_bytes=" + std::to_string(c.kv_cache_bytes) + " exceeds the " +
                            std::to_string(left) + " bytes of VRAM on " + dev +
                            " left after weights and working memory");
    }
    blocks = c.kv_cache_bytes / block_bytes;
    if (blocks < min_blocks) {
      return make_error(ErrorCode::kOutOfMemory,
                        "kv_cache_bytes=" + std::to_string(c.kv_cache_bytes) +
                            " holds fewer than n_ctx=" + std::to_string(c.n_ctx) + " tokens");
    }
  } else {
    const std::int64_t cap =
        (static_cast<std::int64_t>(c.n_ctx) * c.n_seq_max + c.kv_block_size - 1) / c.kv_block_size;
    blocks = std::min(
        static_cast<std::int64_t>(static_cast<double>(left) * kKvFreeFraction) / block_bytes, cap);
    blocks = std::max(blocks, min_blocks);
  }
  blocks = std::min<std::int64_t>(blocks, std::numeric_limits<std::int32_t>::max());
  return KvPlan{static_cast<std::int32_t>(blocks), blocks * block_bytes};
}

Result<std::unique_ptr<model::Backend>> create_cuda_backend_impl(
    const gguf::GgufFile& file, const model::BackendConfig& config) {
  ZINFER_ASSIGN_OR_RETURN(std::unique_ptr<CudaContext> ctx,
                          CudaContext::create(config.device_index));
  std::int64_t weight_bytes = 0;
  for (const auto& t : file.tensors()) weight_bytes += static_cast<std::int64_t>(t.nbytes);
  ZINFER_ASSIGN_OR_RETURN(const MemInfo mem, ctx->mem_info());
  ZINFER_ASSIGN_OR_RETURN(const KvPlan plan, plan_kv_pool(config, weight_bytes,
                                                          static_cast<std::int64_t>(mem.free_bytes),
                                                          config.device_index));
  CudaOpsConfig oc;
  oc.n_layer = config.n_layer;
  oc.n_embd_kv = config.n_embd_kv;
  oc.n_blocks = plan.blocks;
  oc.block_size = config.kv_block_size;
  oc.batch_invariant = config.batch_invariant;
  oc.act_quant = !config.exact_matmul ? CudaOpsConfig::ActQuant::kQ8
                 : config.fp16_matmul ? CudaOpsConfig::ActQuant::kF16
                 : config.q16_act     ? CudaOpsConfig::ActQuant::kQ16
                                      : CudaOpsConfig::ActQuant::kNone;
  oc.tensor_cores = config.tensor_cores;
  oc.f16_prompts = config.fp16_prompts;
  ZINFER_ASSIGN_OR_RETURN(std::unique_ptr<CudaOps> ops, CudaOps::create(*ctx, oc));
  spdlog::debug("cuda: {} free of {} on {}; weights {}, KV pool {} blocks ({})",
                mib(static_cast<std::int64_t>(mem.free_bytes)),
                mib(static_cast<std::int64_t>(mem.total_bytes)), ctx->describe(), mib(weight_bytes),
                plan.blocks, mib(plan.bytes));
  return std::unique_ptr<model::Backend>(std::make_unique<CudaBackend>(
      std::move(ctx), std::move(ops), file, plan.blocks, config.cuda_graphs, config.gpu_sampling));
}

}  // namespace zinfer::cuda
