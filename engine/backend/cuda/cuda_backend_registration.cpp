// Registers the CUDA backend factory with the engine at start-up. Built as an object
// library whose object file goes on the link line of everything that links zinfer_kernels,
// so the static initializer below is never dropped by the linker.
#include "engine/backend/cuda/cuda_backend.h"
#include "engine/model/backend.h"

namespace zinfer::cuda {
namespace {

[[maybe_unused]] const bool kCudaBackendRegistered = [] {
  model::register_cuda_backend_factory(&create_cuda_backend_impl);
  return true;
}();

}  // namespace
}  // namespace zinfer::cuda
