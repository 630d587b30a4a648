// Llm implementation shared by all backends: owns the file mapping, tokenizer, architecture,
// KV block bookkeeping; builds batches and asks the backend's ops to run them.
#include "engine/model/llm.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include "engine/model/architecture.h"
#include "engine/model/backend.h"
#include "engine/sched/kv_block_allocator.h"

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
  return make_error(ErrorCode::kInvalidDevice, "device '" + device + "' is not valid (use auto, cpu, cuda or cuda:N)");
}

class LlmImpl final : public Llm {
 public:
  Status init(const LlmOptions& opt) {
    opt_ = opt;
    const auto t0 = std::chrono::steady_clock::now();
    ZINFER_ASSIGN_OR_RETURN(file_, gguf::GgufFile::open(opt.model_path));
    ZINFER_ASSIGN_OR_RETURN(hp_, model::read_hparams(*file_));
    ZINFER_ASSIGN_OR_RETURN(tok_, tok::Tokenizer::from_gguf(*file_, {opt.tokenizer_pre}));
    if (tok_->vocab_size() > hp_.n_vocab) {
      return make_error(ErrorCode::kModelLoadFailed, "tokenizer has " + std::to_string(tok_->vocab_size()) +
                                                         " tokens but the model's vocab_size is " +
                                                         std::to_string(hp_.n_vocab));
    }
    if (opt_.n_ctx <= 0) return make_error(ErrorCode::kInvalidParameter, "n_ctx must be > 0");
    if (opt_.n_seq_max <= 0) return make_error(ErrorCode::kInvalidParameter, "n_seq_max must be > 0");
    opt_.n_ctx = std::min(opt_.n_ctx, hp_.n_ctx_train);
    if (opt_.n_threads <= 0) opt_.n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

    ZINFER_ASSIGN_OR_RETURN(const int cuda_index, parse_device(opt_.device));
    opt_.device = cuda_index < 0 ? "cpu" : "cuda:" + std::to_string(cuda_index);  // "auto" resolved
    const std::int64_t bytes_per_token = std::int64_t{2} * hp_.n_layer * hp_.n_embd_kv() * 4;
    const std::int64_t min_blocks = (opt_.n_ctx + kKvBlockSize - 1) / kKvBlockSize;
    model::BackendConfig bc;
    bc.n_threads = opt_.n_threads;
    bc.exact_matmul = opt_.exact_matmul;
    bc.n_layer = hp_.n_layer;
    bc.n_embd_kv = hp_.n_embd_kv();
    bc.kv_block_size = kKvBlockSize;
    if (cuda_index < 0) {
      std::int64_t budget = opt_.kv_cache_bytes;
      if (budget <= 0) {
        budget = std::min<std::int64_t>(bytes_per_token * opt_.n_ctx * std::min(opt_.n_seq_max, 4), kCpuKvBudgetCap);
      }
      const std::int64_t blocks = budget / (bytes_per_token * kKvBlockSize);
      if (blocks < min_blocks) {
        return make_error(ErrorCode::kOutOfMemory,
                          "KV cache budget of " + std::to_string(budget) + " bytes holds fewer than n_ctx=" +
                              std::to_string(opt_.n_ctx) + " tokens (" + std::to_string(bytes_per_token) +
                              " bytes per token)");
      }
      bc.kv_blocks = static_cast<std::int32_t>(blocks);
      ZINFER_ASSIGN_OR_RETURN(backend_, model::create_cpu_backend(*file_, bc));
    } else {
      // The CUDA backend sizes its KV pool from free VRAM (or kv_cache_bytes) after
      // accounting for the weights, and fails with kOutOfMemory below one full context.
      bc.device_index = cuda_index;
      bc.n_ctx = opt_.n_ctx;
      bc.n_seq_max = opt_.n_seq_max;
      bc.kv_cache_bytes = opt_.kv_cache_bytes;
      bc.batch_invariant = opt_.batch_invariant;
      ZINFER_ASSIGN_OR_RETURN(backend_, model::create_cuda_backend(*file_, bc));
    }
    kv_ = std::make_unique<sched::KvBlockAllocator>(backend_->kv_blocks(), kKvBlockSize);
    ZINFER_ASSIGN_OR_RETURN(arch_, model::create_architecture(hp_, backend_->weights()));
    ZINFER_RETURN_IF_ERROR(backend_->verify_residency());  // every weight is uploaded by now
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    spdlog::debug("loaded {} ({}, {} layers, d={}, vocab={}) on {} in {:.0f} ms; KV pool {} blocks × {}",
                  opt_.model_path, hp_.arch, hp_.n_layer, hp_.n_embd, hp_.n_vocab, backend_->describe(), ms,
                  kv_->n_blocks(), kKvBlockSize);
    return ok_status();
  }

  const tok::Tokenizer& tokenizer() const override { return *tok_; }
  const model::Hparams& hparams() const override { return hp_; }
  const LlmOptions& options() const override { return opt_; }

  Result<std::vector<float>> forward(std::int32_t seq_id, std::span<const std::int32_t> tokens,
                                     bool all_logits) override {
    SeqInput in{seq_id, tokens, all_logits};
    ZINFER_ASSIGN_OR_RETURN(auto out, forward_batch(std::span<const SeqInput>(&in, 1)));
    return std::move(out[0]);
  }

  Result<std::vector<std::vector<float>>> forward_batch(std::span<const SeqInput> inputs) override {
    // Validate everything before touching the KV cache, so a bad input changes nothing.
    std::int32_t total_blocks = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const SeqInput& in = inputs[i];
      if (in.seq_id < 0 || in.seq_id >= opt_.n_seq_max) {
        return make_error(ErrorCode::kInvalidParameter, "seq_id " + std::to_string(in.seq_id) + " out of range");
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (inputs[j].seq_id == in.seq_id) return make_error(ErrorCode::kInvalidParameter, "seq_id repeated in batch");
      }
      if (in.tokens.empty()) return make_error(ErrorCode::kInvalidParameter, "sequence with no tokens");
      if (kv_->length(in.seq_id) + static_cast<std::int64_t>(in.tokens.size()) > opt_.n_ctx) {
        return make_error(ErrorCode::kPromptTooLong, "sequence would exceed n_ctx=" + std::to_string(opt_.n_ctx));
      }
      for (std::int32_t t : in.tokens) {
        if (t < 0 || t >= hp_.n_vocab) {
          return make_error(ErrorCode::kInvalidParameter, "token id " + std::to_string(t) + " outside vocabulary");
        }
      }
      total_blocks += kv_->blocks_needed(in.seq_id, static_cast<std::int32_t>(in.tokens.size()));
    }
    if (total_blocks > kv_->free_blocks()) {
      return make_error(ErrorCode::kOutOfMemory, "KV cache full: batch needs " + std::to_string(total_blocks) +
                                                     " blocks, " + std::to_string(kv_->free_blocks()) + " free");
    }

    tokens_.clear();
    positions_.clear();
    logit_rows_.clear();
    model::Batch batch;
    std::vector<std::int32_t> first_logit(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const SeqInput& in = inputs[i];
      const std::int32_t n_past = kv_->length(in.seq_id);
      const auto n = static_cast<std::int32_t>(in.tokens.size());
      ZINFER_RETURN_IF_ERROR(kv_->reserve(in.seq_id, n));
      model::SeqSpan s;
      s.seq_id = in.seq_id;
      s.n_past = n_past;
      s.n_tokens = n;
      s.row_start = static_cast<std::int32_t>(tokens_.size());
      s.block_table = kv_->block_table(in.seq_id);
      batch.seqs.push_back(s);
      first_logit[i] = static_cast<std::int32_t>(logit_rows_.size());
      for (std::int32_t t = 0; t < n; ++t) {
        tokens_.push_back(in.tokens[static_cast<std::size_t>(t)]);
        positions_.push_back(n_past + t);
        if (in.all_logits || t == n - 1) logit_rows_.push_back(s.row_start + t);
      }
    }
    batch.tokens = tokens_;
    batch.positions = positions_;

    backend_->begin_forward();
    model::Ops& ops = backend_->ops();
    model::Tensor logits = ops.alloc(static_cast<std::int64_t>(logit_rows_.size()), hp_.n_vocab);
    Status st = arch_->forward(ops, batch, logit_rows_, logits);
    if (!st.ok()) {
      // Roll back this step's KV reservation; earlier tokens stay cached.
      for (const auto& s : batch.seqs) kv_->truncate(s.seq_id, s.n_past);
      return st.error();
    }
    if (opt_.prefix_cache) {
      for (const SeqInput& in : inputs) kv_->commit(in.seq_id, in.tokens);  // publish full blocks
    }
    host_logits_.resize(logit_rows_.size() * static_cast<std::size_t>(hp_.n_vocab));
    ZINFER_RETURN_IF_ERROR(ops.to_host(logits, host_logits_.data()));

    std::vector<std::vector<float>> out(inputs.size());
    const auto V = static_cast<std::size_t>(hp_.n_vocab);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const std::size_t rows = inputs[i].all_logits ? inputs[i].tokens.size() : 1;
      const std::size_t begin = static_cast<std::size_t>(first_logit[i]) * V;
      out[i].assign(host_logits_.begin() + static_cast<std::ptrdiff_t>(begin),
                    host_logits_.begin() + static_cast<std::ptrdiff_t>(begin + rows * V));
    }
    return out;
  }

  void reset(std::int32_t seq_id) override { kv_->release(seq_id); }
  std::int32_t reuse_prefix(std::int32_t seq_id, std::span<const std::int32_t> tokens) override {
    if (!opt_.prefix_cache || seq_id < 0 || seq_id >= opt_.n_seq_max || tokens.size() < 2) return 0;
    return kv_->attach(seq_id, tokens, static_cast<std::int32_t>(tokens.size()) - 1);
  }
  std::int32_t seq_length(std::int32_t seq_id) const override { return kv_->length(seq_id); }
  std::int32_t kv_free_blocks() const override { return kv_->free_blocks(); }
  std::int32_t kv_total_blocks() const override { return kv_->n_blocks(); }
  std::int32_t kv_block_size() const override { return kv_->block_size(); }
  model::DeviceReport device_report() const override { return backend_->device_report(); }

 private:
  LlmOptions opt_;
  std::unique_ptr<gguf::GgufFile> file_;
  model::Hparams hp_;
  std::unique_ptr<tok::Tokenizer> tok_;
  std::unique_ptr<sched::KvBlockAllocator> kv_;
  std::unique_ptr<model::Backend> backend_;
  std::unique_ptr<model::Architecture> arch_;
  std::vector<std::int32_t> tokens_, positions_, logit_rows_;
  std::vector<float> host_logits_;
};

}  // namespace

Result<std::unique_ptr<Llm>> Llm::load(const LlmOptions& options) {
  auto llm = std::make_unique<LlmImpl>();
  ZINFER_RETURN_IF_ERROR(llm->init(options));
  return std::unique_ptr<Llm>(std::move(llm));
}

}  // namespace zinfer
