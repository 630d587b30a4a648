// ScratchArena: VRAM for one forward pass's activations and per-step metadata. Bump
// allocation from chunks that are kept across passes (reset() rewinds), so steady-state
// decoding calls cudaMalloc never.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/core/error.h"
#include "kernels/device_buffer.h"
#include "kernels/vram_ledger.h"

namespace zinfer::cuda {

class ScratchArena {
 public:
  // chunk_bytes: size of a regular chunk; larger requests get a chunk of their own.
  ScratchArena(VramLedger& ledger, std::size_t chunk_bytes)
      : ledger_(ledger), chunk_bytes_(chunk_bytes) {}

  // bytes of device memory aligned to kAlign, valid until reset(). kOutOfMemory when a new
  // chunk cannot be allocated.
  Result<void*> alloc(std::size_t bytes);
  void reset() {
    index_ = 0;
    used_ = 0;
  }
  // Rewinds to an earlier position (what was allocated since is free to hand out again;
  // the stream orders its later reuse after its earlier users).
  std::size_t chunk() const { return index_; }
  std::size_t used() const { return used_; }
  void rewind(std::size_t chunk, std::size_t used) {
    index_ = chunk;
    used_ = used;
  }
  std::size_t capacity() const;

  static constexpr std::size_t kAlign = 256;

 private:
  VramLedger& ledger_;
  std::size_t chunk_bytes_;
  std::vector<DeviceBuffer> chunks_;
  std::size_t index_ = 0;  // current chunk
  std::size_t used_ = 0;   // bytes used in it
};

}  // namespace zinfer::cuda
