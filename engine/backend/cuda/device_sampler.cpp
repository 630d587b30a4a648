// DeviceSampler (see device_sampler.h).
#include "engine/backend/cuda/device_sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/sample/logits_processor.h"
#include "kernels/cuda_check.h"

namespace zinfer::cuda {
namespace {

constexpr std::size_t kAlign = 256;

std::size_t aligned(std::size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// The host Sampler's error for a row the kernel refused (sampler.cpp's messages).
Error row_error(const SampleRowResult& r) {
  switch (static_cast<SampleRowStatus>(r.status)) {
    case SampleRowStatus::kBadLogit:
      return make_error(ErrorCode::kInferenceFailed, "logits[" + std::to_string(r.detail) +
                                                         "] is " + (r.detail_nan ? "nan" : "+inf"));
    case SampleRowStatus::kAllMasked:
      return make_error(ErrorCode::kInferenceFailed, "logits are all -inf");
    case SampleRowStatus::kOverflow:
      return make_error(ErrorCode::kInvalidParameter, "logit of token " + std::to_string(r.detail) +
                                                          " overflowed after logit_bias/penalties");
    case SampleRowStatus::kAllMaskedAfterPenalties:
      return make_error(ErrorCode::kInferenceFailed, "logits are all -inf after penalties");
    default:
      return make_error(ErrorCode::kInferenceFailed, "device sampler: internal error " +
                                                         std::to_string(r.status) + "/" +
                                                         std::to_string(r.detail));
  }
}

}  // namespace

Status DeviceSampler::reserve(std::size_t image_bytes, std::size_t scratch_bytes,
                              std::size_t result_bytes) {
  // Grown to twice the need, so steady decoding never reallocates.
  if (!host_image_ || host_image_.size() < image_bytes) {
    const std::size_t cap = std::max<std::size_t>(2 * image_bytes, std::size_t{1} << 16);
    ZINFER_ASSIGN_OR_RETURN(host_image_, PinnedBuffer::allocate(cap));
    ZINFER_ASSIGN_OR_RETURN(device_image_, DeviceBuffer::allocate(ledger_, cap, "sampler inputs"));
  }
  if (!device_scratch_ || device_scratch_.size() < scratch_bytes) {
    const std::size_t cap = std::max<std::size_t>(2 * scratch_bytes, std::size_t{1} << 16);
    ZINFER_ASSIGN_OR_RETURN(device_scratch_,
                            DeviceBuffer::allocate(ledger_, cap, "sampler scratch"));
  }
  if (!host_results_ || host_results_.size() < result_bytes) {
    const std::size_t cap = std::max<std::size_t>(2 * result_bytes, std::size_t{1} << 16);
    ZINFER_ASSIGN_OR_RETURN(host_results_, PinnedBuffer::allocate(cap));
  }
  return ok_status();
}

Status DeviceSampler::prepare(std::span<const model::SampleRow> rows, std::int64_t vocab) {
  launched_ = 0;
  bias_total_ = 0;
  penalty_total_ = 0;
  slot_.assign(rows.size(), -1);
  early_.assign(rows.size(), std::nullopt);
  counts_.resize(rows.size());
  const auto v = static_cast<std::int32_t>(vocab);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const sample::SampleRequest& q = rows[i].request;
    auto counts = sample::penalty_counts(q.history, *q.params, v);
    if (!counts.ok()) {
      early_[i] = counts.error();
      continue;
    }
    counts_[i] = std::move(*counts);
    slot_[i] = launched_++;
    bias_total_ += static_cast<std::int32_t>(q.params->logit_bias.size());
    penalty_total_ += static_cast<std::int32_t>(counts_[i].size());
  }
  const auto n = static_cast<std::size_t>(launched_);
  const auto b = static_cast<std::size_t>(bias_total_);
  const auto p = static_cast<std::size_t>(penalty_total_);
  params_offset_ = 0;
  bias_ids_offset_ = aligned(n * sizeof(SampleRowParams));
  bias_values_offset_ = bias_ids_offset_ + aligned(b * 4);
  penalty_ids_offset_ = bias_values_offset_ + aligned(b * 4);
  penalty_counts_offset_ = penalty_ids_offset_ + aligned(p * 4);
  image_bytes_ = penalty_counts_offset_ + aligned(p * 4);
  results_offset_ = 0;
  bias_raw_offset_ = aligned(n * sizeof(SampleRowResult));
  penalty_raw_offset_ = bias_raw_offset_ + aligned(b * 4);
  stats_offset_ = penalty_raw_offset_ + aligned(p * 4);
  const std::size_t scratch_bytes =
      stats_offset_ + aligned(sample_rows_stats_bytes(vocab, launched_));
  ZINFER_RETURN_IF_ERROR(reserve(image_bytes_, scratch_bytes, n * sizeof(SampleRowResult)));

  auto* base = host_image_.as<char>();
  auto* params = reinterpret_cast<SampleRowParams*>(base + params_offset_);
  auto* bias_ids = reinterpret_cast<std::int32_t*>(base + bias_ids_offset_);
  auto* bias_values = reinterpret_cast<float*>(base + bias_values_offset_);
  auto* penalty_ids = reinterpret_cast<std::int32_t*>(base + penalty_ids_offset_);
  auto* penalty_counts = reinterpret_cast<std::int32_t*>(base + penalty_counts_offset_);
  std::int32_t bias_at = 0;
  std::int32_t penalty_at = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (slot_[i] < 0) continue;
    const sample::SamplingParams& sp = *rows[i].request.params;
    SampleRowParams r;
    r.logit_row = rows[i].logit_row;
    r.temperature = sp.temperature;
    r.top_k = sp.top_k;
    r.top_p = sp.top_p;
    r.min_p_on = sp.min_p > 0.0f ? 1 : 0;
    // apply_min_p's threshold is max + std::log(min_p): the same float logf here.
    r.log_min_p = sp.min_p > 0.0f ? std::log(sp.min_p) : 0.0f;
    r.repetition_penalty = sp.repetition_penalty;
    r.presence_penalty = sp.presence_penalty;
    r.frequency_penalty = sp.frequency_penalty;
    r.top_logprobs = std::clamp(sp.top_logprobs, 0, kSampleMaxTopLogprobs);
    r.seed = sp.seed;
    r.position = static_cast<std::uint64_t>(rows[i].request.position);
    r.bias_begin = bias_at;
    r.bias_count = static_cast<std::int32_t>(sp.logit_bias.size());
    for (const auto& [id, bias] : sp.logit_bias) {
      bias_ids[bias_at] = id;
      bias_values[bias_at] = bias;
      ++bias_at;
    }
    r.penalty_begin = penalty_at;
    r.penalty_count = static_cast<std::int32_t>(counts_[i].size());
    for (const sample::PenaltyCount& c : counts_[i]) {
      penalty_ids[penalty_at] = c.id;
      penalty_counts[penalty_at] = c.count;
      ++penalty_at;
    }
    std::memcpy(params + slot_[i], &r, sizeof(r));
  }
  return ok_status();
}

Status DeviceSampler::record(MatrixView logits, cudaStream_t stream) {
  if (launched_ == 0) return ok_status();
  ZINFER_CUDA_CHECK(cudaMemcpyAsync(device_image_.data(), host_image_.data(), image_bytes_,
                                    cudaMemcpyHostToDevice, stream));
  char* image = device_image_.as<char>();
  char* scratch = device_scratch_.as<char>();
  SampleRowsArgs a;
  a.logits = logits;
  a.params = reinterpret_cast<const SampleRowParams*>(image + params_offset_);
  a.n = launched_;
  a.bias_ids = reinterpret_cast<const std::int32_t*>(image + bias_ids_offset_);
  a.bias_values = reinterpret_cast<const float*>(image + bias_values_offset_);
  a.bias_raw = reinterpret_cast<float*>(scratch + bias_raw_offset_);
  a.penalty_ids = reinterpret_cast<const std::int32_t*>(image + penalty_ids_offset_);
  a.penalty_counts = reinterpret_cast<const std::int32_t*>(image + penalty_counts_offset_);
  a.penalty_raw = reinterpret_cast<float*>(scratch + penalty_raw_offset_);
  a.results = reinterpret_cast<SampleRowResult*>(scratch + results_offset_);
  a.stats = scratch + stats_offset_;
  ZINFER_RETURN_IF_ERROR(launch_sample_rows(a, stream));
  ZINFER_CUDA_CHECK(cudaMemcpyAsync(host_results_.data(), a.results,
                                    static_cast<std::size_t>(launched_) * sizeof(SampleRowResult),
                                    cudaMemcpyDeviceToHost, stream));
  return ok_status();
}

std::vector<Result<sample::SampleResult>> DeviceSampler::results() const {
  std::vector<Result<sample::SampleResult>> out;
  out.reserve(slot_.size());
  const auto* results = host_results_.as<SampleRowResult>();
  for (std::size_t i = 0; i < slot_.size(); ++i) {
    if (slot_[i] < 0) {
      out.emplace_back(*early_[i]);
      continue;
    }
    const SampleRowResult& r = results[slot_[i]];
    if (r.status != static_cast<std::int32_t>(SampleRowStatus::kOk)) {
      out.emplace_back(row_error(r));
      continue;
    }
    sample::SampleResult s;
    s.token = r.token;
    s.logprob = r.logprob;
    const int n = std::clamp(r.n_top, 0, kSampleMaxTopLogprobs);
    for (int j = 0; j < n; ++j) s.top_logprobs.emplace_back(r.top_ids[j], r.top_logprobs[j]);
    out.emplace_back(std::move(s));
  }
  return out;
}

Result<std::vector<Result<sample::SampleResult>>> DeviceSampler::sample(
    MatrixView logits, std::span<const model::SampleRow> rows, cudaStream_t stream) {
  ZINFER_RETURN_IF_ERROR(prepare(rows, logits.cols));
  ZINFER_RETURN_IF_ERROR(record(logits, stream));
  ZINFER_CUDA_CHECK(cudaStreamSynchronize(stream));
  return results();
}

}  // namespace zinfer::cuda
