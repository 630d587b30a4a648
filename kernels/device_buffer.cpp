// DeviceBuffer and PinnedBuffer (see device_buffer.h).
#include "kernels/device_buffer.h"

#include <cuda_runtime.h>

#include <string>

#include "kernels/cuda_check.h"
#include "kernels/residency.h"

namespace zinfer::cuda {

void DeviceBufferDeleter::operator()(void* p) const noexcept {
  if (p == nullptr) return;
  // A failing free (e.g. after a sticky error) cannot be acted upon here; the error stays
  // visible to the next checked call.
  (void)cudaFree(p);
  if (ledger != nullptr) ledger->sub(bytes);
}

Result<DeviceBuffer> DeviceBuffer::allocate(VramLedger& ledger, std::size_t bytes,
                                            std::string_view what) {
  if (bytes == 0)
    return make_error(ErrorCode::kInvalidParameter, std::string(what) + ": zero-byte allocation");
  bytes = (bytes + 15) / 16 * 16;
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // allocation failures are not sticky; clear them
    std::size_t free_b = 0, total_b = 0;
    (void)cudaMemGetInfo(&free_b, &total_b);
    Error e = cuda_error(err, "cudaMalloc", __FILE__, __LINE__);
    e.message = "cannot allocate " + std::to_string(bytes) + " bytes of VRAM for " +
                std::string(what) + " (" + std::to_string(free_b) + " of " +
                std::to_string(total_b) + " bytes free): " + e.message;
    return e;
  }
  DeviceBuffer buf;
  buf.ptr_ = std::unique_ptr<void, DeviceBufferDeleter>(p, DeviceBufferDeleter{&ledger, bytes});
  ledger.add(bytes);
  ZINFER_RETURN_IF_ERROR(check_vram_resident(p, what));
  return buf;
}

void PinnedBufferDeleter::operator()(void* p) const noexcept {
  if (p != nullptr) (void)cudaFreeHost(p);
}

Result<PinnedBuffer> PinnedBuffer::allocate(std::size_t bytes) {
  if (bytes == 0)
    return make_error(ErrorCode::kInvalidParameter, "pinned staging: zero-byte allocation");
  void* p = nullptr;
  const cudaError_t err = cudaHostAlloc(&p, bytes, cudaHostAllocDefault);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    Error e = cuda_error(err, "cudaHostAlloc", __FILE__, __LINE__);
    e.message =
        "cannot allocate " + std::to_string(bytes) + " bytes of pinned host memory: " + e.message;
    return e;
  }
  PinnedBuffer buf;
  buf.ptr_ = std::unique_ptr<void, PinnedBufferDeleter>(p, PinnedBufferDeleter{bytes});
  return buf;
}

}  // namespace zinfer::cuda
