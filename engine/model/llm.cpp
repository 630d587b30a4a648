// Llm implementation shared by all backends: owns the file mapping, tokenizer, architecture
// and backend; turns a planned batch (engine/model/llm.h SeqStep) into the ops' Batch and
// runs it. KV block bookkeeping belongs to the caller (engine/kv/).
#include "engine/model/llm.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "engine/backend/backend.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/architecture.h"
#include "engine/model/decode_rows.h"
#include "engine/quant/ggml_type.h"

namespace zinfer {
namespace {

constexpr std::int32_t kKvBlockSize = 16;
constexpr std::int64_t kCpuKvBudgetCap = std::int64_t{1} << 30;

// "cpu" → -1; "cuda" → 0; "cuda:N" → N.
// "auto" resolves to cuda:0 when a CUDA device is visible, else cpu.
Result<int> parse_device(const std::string& device) {
  if (device == "auto") return model::cuda_device_count() > 0 ? 0 : -1;
  if (device == "cpu") return -1;
  if (device == "cuda") return 0;
  constexpr std::string_view kPrefix = "cuda:";
  if (device.size() > kPrefix.size() && device.size() <= kPrefix.size() + 4 &&
      device.compare(0, kPrefix.size(), kPrefix) == 0 &&
      std::all_of(device.begin() + static_cast<std::ptrdiff_t>(kPrefix.size()), device.end(),
                  [](char c) { return c >= '0' && c <= '9'; })) {
    return std::stoi(device.substr(kPrefix.size()));
  }
  return make_error(ErrorCode::kInvalidDevice,
                    "device '" + device + "' is not valid (use auto, cpu, cuda or cuda:N)");
}

class LlmImpl final : public Llm {
 public:
  Status init(const LlmOptions& opt) {
    opt_ = opt;
    const auto t0 = std::chrono::steady_clock::now();
    ZINFER_ASSIGN_OR_RETURN(file_, gguf::GgufFile::open(opt.model_path));
    ZINFER_ASSIGN_OR_RETURN(hp_, model::read_hparams(*file_));
    ZINFER_ASSIGN_OR_RETURN(tok_, tok::Tokenizer::from_gguf(*file_, {opt.tokenizer_pre}));
    std::set<std::string> types;
    for (const auto& t : file_->tensors()) types.insert(std::string(quant::type_name(t.type)));
    tensor_types_.assign(types.begin(), types.end());
    if (tok_->vocab_size() > hp_.n_vocab) {
      return make_error(ErrorCode::kModelLoadFailed,
                        "tokenizer has " + std::to_string(tok_->vocab_size()) +
                            " tokens but the model's vocab_size is " + std::to_string(hp_.n_vocab));
    }
    if (opt_.n_ctx <= 0) return make_error(ErrorCode::kInvalidParameter, "n_ctx must be > 0");
    if (opt_.n_seq_max <= 0)
      return make_error(ErrorCode::kInvalidParameter, "n_seq_max must be > 0");
    opt_.n_ctx = std::min(opt_.n_ctx, hp_.n_ctx_train);
    if (opt_.n_threads <= 0)
      opt_.n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

    ZINFER_ASSIGN_OR_RETURN(const int cuda_index, parse_device(opt_.device));
    opt_.device = cuda_index < 0 ? "cpu" : "cuda:" + std::to_string(cuda_index);  // "auto" resolved
    if (opt_.fp16_matmul && !opt_.exact_matmul) {
      return make_error(ErrorCode::kInvalidParameter,
                        "fp16_matmul: fp16 operands of the float matmuls, not with Q8 activations");
    }
    // (Not for MoE models: the GPU's expert kernels have no fp16 path, and per-token numerics
    // has not been held to the CPU there — cuda_forward_test skips gpt-oss.)
    if (cuda_index >= 0 && opt_.fp16_prompts_on_cuda && opt_.q16_on_cuda && opt_.exact_matmul &&
        !opt_.fp16_matmul && !opt_.q16_act && hp_.n_expert == 0) {
      opt_.fp16_prompts = true;
    }
    if (cuda_index >= 0 && opt_.q16_on_cuda && opt_.exact_matmul && !opt_.fp16_matmul) {
      opt_.q16_act = true;
    }
    if (opt_.fp16_matmul) opt_.q16_act = false;
    if (opt_.fp16_prompts) {
      if (!opt_.exact_matmul || opt_.fp16_matmul) {
        return make_error(ErrorCode::kInvalidParameter,
                          "fp16_prompts: per-token numerics of the float matmuls (prompt tokens "
                          "fp16, generated tokens Q16), not with Q8 activations or fp16_matmul");
      }
      opt_.q16_act = true;  // the generated tokens' numerics
    }
    const std::int64_t bytes_per_token = std::int64_t{2} * hp_.n_layer * hp_.n_embd_kv() * 4;
    // Padded decode steps keep the pool's last block for their dummy sequences.
    const std::int32_t pad_blocks = opt_.pad_decode_rows ? 1 : 0;
    const std::int64_t min_blocks = (opt_.n_ctx + kKvBlockSize - 1) / kKvBlockSize + pad_blocks;
    model::BackendConfig bc;
    bc.n_threads = opt_.n_threads;
    bc.exact_matmul = opt_.exact_matmul;
    bc.q16_act = opt_.q16_act;
    bc.fp16_matmul = opt_.fp16_matmul;
    bc.fp16_prompts = opt_.fp16_prompts;
    bc.tensor_cores = opt_.tensor_cores;
    bc.n_layer = hp_.n_layer;
    bc.n_embd_kv = hp_.n_embd_kv();
    bc.kv_block_size = kKvBlockSize;
    if (cuda_index < 0) {
      std::int64_t budget = opt_.kv_cache_bytes;
      if (budget <= 0) {
        budget = std::min<std::int64_t>(bytes_per_token * opt_.n_ctx * std::min(opt_.n_seq_max, 4),
                                        kCpuKvBudgetCap) +
                 bytes_per_token * kKvBlockSize * pad_blocks;
      }
      const std::int64_t blocks = budget / (bytes_per_token * kKvBlockSize);
      if (blocks < min_blocks) {
        return make_error(ErrorCode::kOutOfMemory,
                          "KV cache budget of " + std::to_string(budget) +
                              " bytes holds fewer than n_ctx=" + std::to_string(opt_.n_ctx) +
                              " tokens" + (pad_blocks > 0 ? " and the padding block" : "") + " (" +
                              std::to_string(bytes_per_token) + " bytes per token)");
      }
      bc.kv_blocks = static_cast<std::int32_t>(blocks);
      ZINFER_ASSIGN_OR_RETURN(backend_, model::create_cpu_backend(*file_, bc));
    } else {
      // The CUDA backend sizes its KV pool from free VRAM (or kv_cache_bytes) after
      // accounting for the weights, and fails with kOutOfMemory below one full context.
      bc.device_index = cuda_index;
      bc.n_ctx = opt_.n_ctx + pad_blocks * kKvBlockSize;
      bc.n_seq_max = opt_.n_seq_max;
      bc.kv_cache_bytes = opt_.kv_cache_bytes;
      bc.batch_invariant = opt_.batch_invariant;
      bc.cuda_graphs = opt_.cuda_graphs;
      bc.gpu_sampling = opt_.gpu_sampling;
      ZINFER_ASSIGN_OR_RETURN(backend_, model::create_cuda_backend(*file_, bc));
    }
    ZINFER_ASSIGN_OR_RETURN(arch_, model::create_architecture(hp_, backend_->weights()));
    ZINFER_RETURN_IF_ERROR(backend_->verify_residency());  // every weight is uploaded by now
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    spdlog::debug(
        "loaded {} ({}, {} layers, d={}, vocab={}) on {} in {:.0f} ms; KV pool {} blocks × {}",
        opt_.model_path, hp_.arch, hp_.n_layer, hp_.n_embd, hp_.n_vocab, backend_->describe(), ms,
        backend_->kv_blocks(), kKvBlockSize);
    return ok_status();
  }

  const tok::Tokenizer& tokenizer() const override { return *tok_; }
  const model::Hparams& hparams() const override { return hp_; }
  const std::vector<std::string>& tensor_types() const override { return tensor_types_; }
  const LlmOptions& options() const override { return opt_; }

  Result<std::vector<std::vector<float>>> forward_batch(std::span<const SeqStep> steps) override {
    ZINFER_ASSIGN_OR_RETURN(const model::Tensor logits, run_forward(steps));
    host_logits_.resize(logit_rows_.size() * static_cast<std::size_t>(hp_.n_vocab));
    ZINFER_RETURN_IF_ERROR(backend_->ops().to_host(logits, host_logits_.data()));

    std::vector<std::vector<float>> out(steps.size());
    const auto V = static_cast<std::size_t>(hp_.n_vocab);
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const std::size_t rows = steps[i].all_logits ? steps[i].tokens.size() : 1;
      const std::size_t begin = static_cast<std::size_t>(first_logit_[i]) * V;
      out[i].assign(host_logits_.begin() + static_cast<std::ptrdiff_t>(begin),
                    host_logits_.begin() + static_cast<std::ptrdiff_t>(begin + rows * V));
    }
    return out;
  }

  Result<std::vector<StepSample>> forward_sample(
      std::span<const SeqStep> steps, std::span<const sample::SampleRequest> requests) override {
    assert(requests.size() == steps.size());
    ZINFER_ASSIGN_OR_RETURN(const model::Tensor logits, run_forward(steps));
    std::vector<model::SampleRow> rows;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (requests[i].params == nullptr) continue;
      const auto last =
          steps[i].all_logits ? static_cast<std::int32_t>(steps[i].tokens.size()) - 1 : 0;
      rows.push_back(model::SampleRow{first_logit_[i] + last, requests[i]});
    }
    std::vector<StepSample> out(steps.size());
    if (rows.empty()) return out;
    ZINFER_ASSIGN_OR_RETURN(auto sampled, backend_->sample(logits, rows));
    std::size_t r = 0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (requests[i].params != nullptr) out[i] = std::move(sampled[r++]);
    }
    return out;
  }

  // The scheduler's blocks: the pool less the dummy sequences' block (the pool's last).
  std::int32_t kv_blocks() const override {
    return backend_->kv_blocks() - (opt_.pad_decode_rows ? 1 : 0);
  }
  std::int32_t kv_block_size() const override { return kKvBlockSize; }
  model::DeviceReport device_report() const override {
    model::DeviceReport r = backend_->device_report();
    r.padded_rows = padded_rows_;
    return r;
  }

 private:
  LlmOptions opt_;
  std::unique_ptr<gguf::GgufFile> file_;
  model::Hparams hp_;
  std::vector<std::string> tensor_types_;  // sorted, each once
  std::unique_ptr<tok::Tokenizer> tok_;
  std::unique_ptr<model::Backend> backend_;
  std::unique_ptr<model::Architecture> arch_;
  // One forward pass over the steps; the logits of their logit rows (logit_rows_,
  // first_logit_[i]: step i's first row) in a backend tensor valid until the next pass.
  Result<model::Tensor> run_forward(std::span<const SeqStep> steps) {
    tokens_.clear();
    positions_.clear();
    logit_rows_.clear();
    first_logit_.assign(steps.size(), 0);
    model::Batch batch;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const SeqStep& in = steps[i];
      const auto n = static_cast<std::int32_t>(in.tokens.size());
      // The planner's invariants (sched::Scheduler, sched::SequenceRunner).
      assert(n >= 1 && in.n_past >= 0 && in.n_past + n <= opt_.n_ctx);
      assert(static_cast<std::int64_t>(in.block_table.size()) * kKvBlockSize >= in.n_past + n);
      model::SeqSpan s;
      s.seq_id = static_cast<std::int32_t>(i);
      s.n_past = in.n_past;
      s.n_tokens = n;
      s.row_start = static_cast<std::int32_t>(tokens_.size());
      s.block_table = in.block_table;
      s.generated = in.generated;
      batch.seqs.push_back(s);
      first_logit_[i] = static_cast<std::int32_t>(logit_rows_.size());
      for (std::int32_t t = 0; t < n; ++t) {
        tokens_.push_back(in.tokens[static_cast<std::size_t>(t)]);
        positions_.push_back(in.n_past + t);
        if (in.all_logits || t == n - 1) logit_rows_.push_back(s.row_start + t);
      }
    }
    if (opt_.pad_decode_rows) pad_decode_step(batch);
    batch.tokens = tokens_;
    batch.positions = positions_;

    backend_->begin_forward();
    model::Ops& ops = backend_->ops();
    model::Tensor logits = ops.alloc(static_cast<std::int64_t>(logit_rows_.size()), hp_.n_vocab);
    ZINFER_RETURN_IF_ERROR(backend_->forward(*arch_, batch, logit_rows_, logits));
    return logits;
  }

  // A decode step (every sequence one new token) padded to padded_decode_rows with dummy
  // sequences: token 0 at position 0 in the pool's last block, each with a logit row (the
  // logits' row count is part of a captured step's shape); nobody reads their outputs, and
  // they write the same key and value bytes to the same slot.
  void pad_decode_step(model::Batch& batch) {
    if (!batch.decode_only()) return;  // a prompt chunk
    const auto n = static_cast<std::int64_t>(tokens_.size());
    pad_table_.assign(1, backend_->kv_blocks() - 1);
    for (std::int64_t r = n; r < model::padded_decode_rows(n); ++r) {
      model::SeqSpan s;
      s.seq_id = static_cast<std::int32_t>(r);
      s.n_tokens = 1;
      s.row_start = static_cast<std::int32_t>(r);
      s.block_table = pad_table_;
      s.generated = true;  // a decode row like the rest (one kind: the step's graph)
      batch.seqs.push_back(s);
      tokens_.push_back(0);
      positions_.push_back(0);
      logit_rows_.push_back(static_cast<std::int32_t>(r));
      ++padded_rows_;
    }
  }

  std::vector<std::int32_t> tokens_, positions_, logit_rows_, first_logit_, pad_table_;
  std::uint64_t padded_rows_ = 0;
  std::vector<float> host_logits_;
};

}  // namespace

Result<std::unique_ptr<Llm>> Llm::load(const LlmOptions& options) {
  auto llm = std::make_unique<LlmImpl>();
  ZINFER_RETURN_IF_ERROR(llm->init(options));
  return std::unique_ptr<Llm>(std::move(llm));
}

}  // namespace zinfer
