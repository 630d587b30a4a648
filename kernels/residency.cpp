// check_vram_resident (see residency.h).
#include "kernels/residency.h"

#include <cuda_runtime.h>

#include <string>

#include "kernels/cuda_check.h"

namespace zinfer::cuda {
namespace {

const char* memory_type_name(cudaMemoryType t) {
  switch (t) {
    case cudaMemoryTypeUnregistered:
      return "unregistered host memory";
    case cudaMemoryTypeHost:
      return "pinned host memory";
    case cudaMemoryTypeDevice:
      return "device memory";
    case cudaMemoryTypeManaged:
      return "managed memory";
  }
  return "unknown memory";
}

}  // namespace

Status check_vram_resident(const void* ptr, std::string_view what) {
  if (ptr == nullptr) {
    return make_error(ErrorCode::kVramResidencyFailed, std::string(what) + ": null pointer");
  }
  cudaPointerAttributes attr{};
  ZINFER_CUDA_CHECK(cudaPointerGetAttributes(&attr, ptr));
  if (attr.type != cudaMemoryTypeDevice || attr.hostPointer != nullptr) {
    return make_error(ErrorCode::kVramResidencyFailed,
                      std::string(what) + " is " + memory_type_name(attr.type) +
                          (attr.hostPointer != nullptr ? " with a host mapping" : "") +
                          ", not device-resident VRAM");
  }
  return ok_status();
}

}  // namespace zinfer::cuda
