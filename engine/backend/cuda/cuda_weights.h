// CudaWeights: the CUDA backend's WeightSource. Each tensor an architecture asks for is
// checked like on the CPU, then copied to its own VRAM buffer still in its GGUF block
// format, straight from the file mapping through two page-locked staging buffers (the
// memcpy into one overlaps the DMA out of the other).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "engine/backend/gguf_weight_source.h"
#include "engine/gguf/gguf_file.h"
#include "kernels/cuda_context.h"
#include "kernels/cuda_handles.h"
#include "kernels/device_buffer.h"
#include "kernels/weight_types.h"

namespace zinfer::cuda {

class CudaWeights final : public model::GgufWeightSource {
 public:
  CudaWeights(const gguf::GgufFile& file, CudaContext& ctx)
      : GgufWeightSource(file, "CUDA", &cuda_weight_type_supported), ctx_(ctx) {}

  // Bytes of weights now in VRAM.
  std::size_t uploaded_bytes() const { return uploaded_bytes_; }
  // Frees the staging buffers once loading is over.
  void release_staging();
  // check_vram_resident on every uploaded tensor.
  Status verify_residency() const;

 private:
  // Uploads a tensor that passed GgufWeightSource's checks.
  Result<model::Weight> place(const gguf::TensorInfo& t, std::int64_t ne0,
                              std::int64_t ne1) override;
  Result<const void*> upload(const gguf::TensorInfo& t);
  void log_progress();  // info line at each further 10% of the file's tensor bytes

  CudaContext& ctx_;
  std::map<std::string, DeviceBuffer, std::less<>> tensors_;  // by GGUF name
  std::size_t uploaded_bytes_ = 0;
  std::size_t total_bytes_ = 0;  // every tensor in the file (set on the first upload)
  int logged_tenth_ = 0;
  std::chrono::steady_clock::time_point load_start_;
  PinnedBuffer staging_[2];
  EventPtr staged_[2];  // recorded after the copy out of staging_[i]
};

}  // namespace zinfer::cuda
