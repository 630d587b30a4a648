// Paged KV-cache bookkeeping (see kv_block_allocator.h).
#include "engine/sched/kv_block_allocator.h"

#include <string>

namespace zinfer::sched {

KvBlockAllocator::KvBlockAllocator(std::int32_t n_blocks, std::int32_t block_size)
    : n_blocks_(n_blocks), block_size_(block_size) {
  free_.reserve(static_cast<std::size_t>(n_blocks));
  // Hand out low block ids first (pop from the back).
  for (std::int32_t b = n_blocks - 1; b >= 0; --b) free_.push_back(b);
}

std::int32_t KvBlockAllocator::blocks_needed(std::int32_t seq_id, std::int32_t n_tokens) const {
  auto it = seqs_.find(seq_id);
  const std::int32_t have_len = it == seqs_.end() ? 0 : it->second.length;
  const std::int32_t have_blocks = it == seqs_.end() ? 0 : static_cast<std::int32_t>(it->second.blocks.size());
  const std::int64_t total = static_cast<std::int64_t>(have_len) + n_tokens;
  const std::int64_t need = (total + block_size_ - 1) / block_size_;
  return need > have_blocks ? static_cast<std::int32_t>(need - have_blocks) : 0;
}

Status KvBlockAllocator::reserve(std::int32_t seq_id, std::int32_t n_tokens) {
  const std::int32_t need = blocks_needed(seq_id, n_tokens);
  if (need > free_blocks()) {
    return make_error(ErrorCode::kOutOfMemory,
                      "KV cache full: sequence " + std::to_string(seq_id) + " needs " +
                          std::to_string(need) + " blocks, " + std::to_string(free_blocks()) + " free");
  }
  SeqState& s = seqs_[seq_id];
  for (std::int32_t i = 0; i < need; ++i) {
    s.blocks.push_back(free_.back());
    free_.pop_back();
  }
  s.length += n_tokens;
  return ok_status();
}

std::int32_t KvBlockAllocator::length(std::int32_t seq_id) const {
  auto it = seqs_.find(seq_id);
  return it == seqs_.end() ? 0 : it->second.length;
}

std::span<const std::int32_t> KvBlockAllocator::block_table(std::int32_t seq_id) const {
  auto it = seqs_.find(seq_id);
  if (it == seqs_.end()) return {};
  return it->second.blocks;
}

void KvBlockAllocator::truncate(std::int32_t seq_id, std::int32_t n) {
  auto it = seqs_.find(seq_id);
  if (it == seqs_.end() || n >= it->second.length) return;
  if (n <= 0) {
    release(seq_id);
    return;
  }
  SeqState& s = it->second;
  const std::size_t keep = static_cast<std::size_t>((n + block_size_ - 1) / block_size_);
  while (s.blocks.size() > keep) {
    free_.push_back(s.blocks.back());
    s.blocks.pop_back();
  }
  s.length = n;
}

void KvBlockAllocator::release(std::int32_t seq_id) {
  auto it = seqs_.find(seq_id);
  if (it == seqs_.end()) return;
  for (auto b : it->second.blocks) free_.push_back(b);
  seqs_.erase(it);
}

}  // namespace zinfer::sched
