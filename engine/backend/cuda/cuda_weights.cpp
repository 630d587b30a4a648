// CudaWeights (see cuda_weights.h).
#include "engine/backend/cuda/cuda_weights.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

#include "engine/quant/ggml_type.h"
#include "kernels/cuda_check.h"
#include "kernels/residency.h"

namespace zinfer::cuda {
namespace {

constexpr std::size_t kStagingBytes = std::size_t{8} << 20;

}  // namespace

Result<model::Weight> CudaWeights::place(const gguf::TensorInfo& t, std::int64_t ne0,
                                         std::int64_t ne1) {
  if (t.nbytes != quant::row_size(t.type, ne0) * static_cast<std::size_t>(ne1)) {
    return make_error(ErrorCode::kModelLoadFailed,
                      "tensor '" + t.name + "': byte size does not match its shape");
  }
  ZINFER_ASSIGN_OR_RETURN(const void* data, upload(t));
  return model::Weight{t.type, ne0, ne1, data};
}

Result<const void*> CudaWeights::upload(const gguf::TensorInfo& t) {
  if (auto it = tensors_.find(t.name); it != tensors_.end())
    return static_cast<const void*>(it->second.data());
  if (total_bytes_ == 0) {  // the clock starts with the first upload, not after it
    for (const auto& info : file_.tensors()) total_bytes_ += info.nbytes;
    load_start_ = std::chrono::steady_clock::now();
  }
  ZINFER_RETURN_IF_ERROR(ctx_.make_current());
  ZINFER_ASSIGN_OR_RETURN(
      DeviceBuffer buf, DeviceBuffer::allocate(ctx_.ledger(), t.nbytes, "tensor '" + t.name + "'"));
  for (int i = 0; i < 2; ++i) {
    if (!staging_[i]) {
      ZINFER_ASSIGN_OR_RETURN(staging_[i], PinnedBuffer::allocate(kStagingBytes));
      cudaEvent_t ev = nullptr;
      ZINFER_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
      staged_[i].reset(ev);
    }
  }
  cudaStream_t stream = ctx_.stream();
  auto* dst = buf.as<std::uint8_t>();
  std::size_t chunk = 0;
  for (std::size_t off = 0; off < t.nbytes; off += kStagingBytes, ++chunk) {
    const std::size_t n = std::min(kStagingBytes, static_cast<std::size_t>(t.nbytes) - off);
    const std::size_t k = chunk % 2;
    // The copy queued from this buffer two chunks ago must be done before we overwrite it.
    ZINFER_CUDA_CHECK(cudaEventSynchronize(staged_[k].get()));
    std::memcpy(staging_[k].data(), t.data + off, n);
    ZINFER_CUDA_CHECK(
        cudaMemcpyAsync(dst + off, staging_[k].data(), n, cudaMemcpyHostToDevice, stream));
    ZINFER_CUDA_CHECK(cudaEventRecord(staged_[k].get(), stream));
  }
  ZINFER_CUDA_CHECK(cudaStreamSynchronize(stream));
  uploaded_bytes_ += t.nbytes;
  log_progress();
  const void* p = buf.data();
  tensors_.emplace(t.name, std::move(buf));
  return p;
}

void CudaWeights::log_progress() {
  // A line at every further tenth of the model's bytes (what the architecture asks for can
  // be a little less than the file holds, so the last line may say 9x%).
  const int tenth = static_cast<int>(10 * uploaded_bytes_ / std::max<std::size_t>(total_bytes_, 1));
  if (tenth <= logged_tenth_) return;
  logged_tenth_ = tenth;
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start_).count();
  // A rate over less than 50 ms says more about the clock than the link: left out.
  const std::string rate =
      s >= 0.05 ? fmt::format(" ({:.2f} GB/s)", static_cast<double>(uploaded_bytes_) / s / 1e9)
                : std::string();
  spdlog::info("cuda: uploaded {:.0f} of {:.0f} MiB of weights ({}%) in {:.2f} s{}",
               static_cast<double>(uploaded_bytes_) / 1048576.0,
               static_cast<double>(total_bytes_) / 1048576.0, 10 * tenth, s, rate);
}

void CudaWeights::release_staging() {
  for (int i = 0; i < 2; ++i) {
    staged_[i].reset();
    staging_[i] = PinnedBuffer();
  }
}

Status CudaWeights::verify_residency() const {
  for (const auto& [name, buf] : tensors_) {
    ZINFER_RETURN_IF_ERROR(check_vram_resident(buf.data(), "weight " + name));
  }
  return ok_status();
}

}  // namespace zinfer::cuda
