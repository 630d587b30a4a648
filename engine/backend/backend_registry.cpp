// create_cuda_backend's hook (see backend.h): the engine holds a factory pointer that the
// CUDA library fills in, so CPU-only builds link and say why "cuda" is unavailable.
#include <atomic>

#include "engine/backend/backend.h"

namespace zinfer::model {
namespace {

// Constant-initialized, so registration from another library's static initializer is safe.
std::atomic<BackendFactory> g_cuda_factory{nullptr};
std::atomic<DeviceCounter> g_cuda_counter{nullptr};

}  // namespace

void register_cuda_backend_factory(BackendFactory factory) { g_cuda_factory.store(factory); }
void register_cuda_device_counter(DeviceCounter counter) { g_cuda_counter.store(counter); }

int cuda_device_count() {
  const DeviceCounter counter = g_cuda_counter.load();
  return counter == nullptr ? 0 : counter();
}

Result<std::unique_ptr<Backend>> create_cuda_backend(const gguf::GgufFile& file,
                                                     const BackendConfig& config) {
  const BackendFactory factory = g_cuda_factory.load();
  if (factory == nullptr) {
#if defined(ZINFER_HAVE_CUDA)
    return make_error(ErrorCode::kInvalidDevice,
                      "device 'cuda': the CUDA backend is not linked into this program (link "
                      "zinfer_backend_cuda)");
#else
    return make_error(ErrorCode::kInvalidDevice,
                      "device 'cuda': this build has no CUDA backend (nvcc not found "
                      "or ZINFER_ENABLE_CUDA=OFF)");
#endif
  }
  return factory(file, config);
}

}  // namespace zinfer::model
