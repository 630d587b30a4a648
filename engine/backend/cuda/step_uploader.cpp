// StepUploader (see step_uploader.h).
#include "engine/backend/cuda/step_uploader.h"

#include <algorithm>
#include <cstring>

#include "kernels/cuda_check.h"

namespace zinfer::cuda {
namespace {

constexpr std::size_t kMinStaging = std::size_t{1} << 20;
constexpr std::size_t kAlign = 64;

}  // namespace

Status StepUploader::upload(const void* host, std::size_t bytes, void* device_dst) {
  if (bytes == 0) return ok_status();
  const std::size_t need = (bytes + kAlign - 1) / kAlign * kAlign;
  if (used_ + need > staging_.size()) {
    // Earlier copies of this step may still read the staging buffer: drain them before
    // reusing or replacing it.
    ZINFER_CUDA_CHECK(cudaStreamSynchronize(stream_));
    used_ = 0;
    if (need > staging_.size()) {
      staging_ = PinnedBuffer();
      ZINFER_ASSIGN_OR_RETURN(staging_, PinnedBuffer::allocate(std::max(kMinStaging, 2 * need)));
    }
  }
  char* slot = staging_.as<char>() + used_;
  std::memcpy(slot, host, bytes);
  ZINFER_CUDA_CHECK(cudaMemcpyAsync(device_dst, slot, bytes, cudaMemcpyHostToDevice, stream_));
  used_ += need;
  return ok_status();
}

}  // namespace zinfer::cuda
