// VramLedger: how many bytes of device memory this engine holds (in use and peak), fed by
// every DeviceBuffer, so describe(), metrics and OOM messages can say where VRAM went.
#pragma once

#include <atomic>
#include <cstddef>

namespace zinfer::cuda {

class VramLedger {
 public:
  void add(std::size_t bytes) {
    const std::size_t now = in_use_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    std::size_t peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
  void sub(std::size_t bytes) { in_use_.fetch_sub(bytes, std::memory_order_relaxed); }
  std::size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  std::size_t peak() const { return peak_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::size_t> in_use_{0};
  std::atomic<std::size_t> peak_{0};
};

}  // namespace zinfer::cuda
