// Registers the CUDA backend factory with the engine at start-up. Built as an object library
// whose object file goes on the link line of everything that links zinfer_backend_cuda, so
// the static initializer below is never dropped by the linker.
#include <cuda_runtime.h>

#include "engine/backend/backend.h"
#include "engine/backend/cuda/cuda_backend.h"

namespace zinfer::cuda {
namespace {

int count_devices() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver / no device: not an error for "auto"
    return 0;
  }
  return n;
}

[[maybe_unused]] const bool kCudaBackendRegistered = [] {
  model::register_cuda_backend_factory(&create_cuda_backend_impl);
  model::register_cuda_device_counter(&count_devices);
  return true;
}();

}  // namespace
}  // namespace zinfer::cuda
