// RAII memory: DeviceBuffer (plain cudaMalloc, never managed memory, residency verified,
// counted in a VramLedger) and PinnedBuffer (page-locked host staging for uploads).
// Both are move-only; their deleters never throw.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "engine/core/error.h"
#include "kernels/vram_ledger.h"

namespace zinfer::cuda {

// Deleters (namespace scope so they are complete, default-constructible types).
struct DeviceBufferDeleter {
  VramLedger* ledger = nullptr;
  std::size_t bytes = 0;
  void operator()(void* p) const noexcept;  // cudaFree, ledger update; never throws
};

struct PinnedBufferDeleter {
  std::size_t bytes = 0;
  void operator()(void* p) const noexcept;  // cudaFreeHost; never throws
};

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // cudaMalloc of `bytes` (> 0) rounded up to a multiple of 16, checked to be device-resident,
  // added to ledger (which must outlive the buffer). The padding lets kernels copy whole
  // 16-byte words that cover a buffer's last bytes (the staged matvec, q8_matvec.cu).
  // kOutOfMemory names `what`, the size and the free VRAM.
  static Result<DeviceBuffer> allocate(VramLedger& ledger, std::size_t bytes,
                                       std::string_view what);

  void* data() const { return ptr_.get(); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_.get());
  }
  std::size_t size() const { return ptr_.get_deleter().bytes; }
  explicit operator bool() const { return ptr_ != nullptr; }

 private:
  std::unique_ptr<void, DeviceBufferDeleter> ptr_;
};

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  // cudaHostAlloc of `bytes` (> 0) page-locked host memory.
  static Result<PinnedBuffer> allocate(std::size_t bytes);

  void* data() const { return ptr_.get(); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_.get());
  }
  std::size_t size() const { return ptr_.get_deleter().bytes; }
  explicit operator bool() const { return ptr_ != nullptr; }

 private:
  std::unique_ptr<void, PinnedBufferDeleter> ptr_;
};

}  // namespace zinfer::cuda
