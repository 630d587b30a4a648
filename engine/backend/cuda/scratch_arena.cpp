// ScratchArena (see scratch_arena.h).
#include "engine/backend/cuda/scratch_arena.h"

#include <algorithm>

namespace zinfer::cuda {

Result<void*> ScratchArena::alloc(std::size_t bytes) {
  const std::size_t need = (std::max<std::size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
  while (index_ < chunks_.size()) {
    if (used_ + need <= chunks_[index_].size()) {
      void* p = static_cast<char*>(chunks_[index_].data()) + used_;
      used_ += need;
      return p;
    }
    ++index_;
    used_ = 0;
  }
  ZINFER_ASSIGN_OR_RETURN(
      DeviceBuffer chunk,
      DeviceBuffer::allocate(ledger_, std::max(need, chunk_bytes_), "activation scratch"));
  chunks_.push_back(std::move(chunk));
  index_ = chunks_.size() - 1;
  used_ = need;
  return chunks_.back().data();
}

std::size_t ScratchArena::capacity() const {
  std::size_t total = 0;
  for (const auto& c : chunks_) total += c.size();
  return total;
}

}  // namespace zinfer::cuda
