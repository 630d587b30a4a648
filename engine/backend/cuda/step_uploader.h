// StepUploader: host → VRAM copies of a forward pass's small per-step data (token ids,
// positions, KV slots, block tables) through one page-locked staging buffer, queued on the
// context's stream without blocking the host.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "engine/core/error.h"
#include "kernels/device_buffer.h"

namespace zinfer::cuda {

class StepUploader {
 public:
  explicit StepUploader(cudaStream_t stream) : stream_(stream) {}

  // Copies bytes from host to device_dst asynchronously. The staging bytes stay untouched
  // until reset(), which the caller issues only after the stream has drained.
  Status upload(const void* host, std::size_t bytes, void* device_dst);
  void reset() { used_ = 0; }

 private:
  cudaStream_t stream_;
  PinnedBuffer staging_;
  std::size_t used_ = 0;
};

}  // namespace zinfer::cuda
