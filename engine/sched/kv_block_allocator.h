// Paged KV-cache bookkeeping shared by every backend: a pool of fixed-size blocks and a block
// table per sequence. Backends own the storage; this class only decides which block holds
// which positions of which sequence.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/core/error.h"

namespace zinfer::sched {

class KvBlockAllocator {
 public:
  KvBlockAllocator(std::int32_t n_blocks, std::int32_t block_size);

  std::int32_t block_size() const { return block_size_; }
  std::int32_t n_blocks() const { return n_blocks_; }
  std::int32_t free_blocks() const { return static_cast<std::int32_t>(free_.size()); }
  // Blocks needed to hold n_tokens more tokens of seq_id.
  std::int32_t blocks_needed(std::int32_t seq_id, std::int32_t n_tokens) const;

  // Grows seq_id's table so it holds n_tokens more tokens; kOutOfMemory (nothing changed)
  // when the pool cannot provide the blocks.
  Status reserve(std::int32_t seq_id, std::int32_t n_tokens);
  // Tokens currently stored for the sequence (its n_past).
  std::int32_t length(std::int32_t seq_id) const;
  std::span<const std::int32_t> block_table(std::int32_t seq_id) const;
  // Shrinks the sequence to its first n tokens, returning blocks no longer needed.
  void truncate(std::int32_t seq_id, std::int32_t n);
  // Returns all blocks of the sequence to the pool.
  void release(std::int32_t seq_id);
  std::int32_t n_sequences() const { return static_cast<std::int32_t>(seqs_.size()); }

 private:
  struct SeqState {
    std::int32_t length = 0;
    std::vector<std::int32_t> blocks;
  };
  std::int32_t n_blocks_;
  std::int32_t block_size_;
  std::vector<std::int32_t> free_;  // stack of free block ids
  std::unordered_map<std::int32_t, SeqState> seqs_;
};

}  // namespace zinfer::sched
