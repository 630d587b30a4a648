// Paged KV-cache bookkeeping shared by every backend: a pool of fixed-size blocks and a block
// table per sequence. Backends own the storage; this class only decides which block holds
// which positions of which sequence.
//
// Prefix sharing (automatic prefix caching, as vLLM does it): once a sequence's block is full,
// commit() publishes it under the hash of its token chain (every token from position 0 to the
// block's end), keeping the tokens to verify matches exactly. A new sequence whose tokens start
// with published blocks attach()es them instead of recomputing them. Blocks are refcounted;
// a published block that no sequence holds stays cached (evictable, least recently released
// first) until the pool needs it, so it counts as free. A full block is never written again,
// so sharing needs no copy-on-write. The KV of a token depends only on the tokens before it,
// and the forward pass computes each token's KV the same way whatever its batch (batch-
// invariant kernels), so an attached block holds exactly what recomputation would write.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/core/error.h"

namespace zinfer::kv {

class KvBlockAllocator {
 public:
  KvBlockAllocator(std::int32_t n_blocks, std::int32_t block_size);

  std::int32_t block_size() const { return block_size_; }
  std::int32_t n_blocks() const { return n_blocks_; }
  // Blocks a reservation may take: unused ones plus cached ones no sequence holds.
  std::int32_t free_blocks() const {
    return static_cast<std::int32_t>(free_.size() + evictable_.size());
  }
  // Published blocks no sequence holds (a subset of free_blocks()).
  std::int32_t cached_blocks() const { return static_cast<std::int32_t>(evictable_.size()); }
  // Blocks needed to hold n_tokens more tokens of seq_id.
  std::int32_t blocks_needed(std::int32_t seq_id, std::int32_t n_tokens) const;

  // Grows seq_id's table so it holds n_tokens more tokens; kOutOfMemory (nothing changed)
  // when the pool cannot provide the blocks.
  Status reserve(std::int32_t seq_id, std::int32_t n_tokens);
  // Tokens currently stored for the sequence (its n_past).
  std::int32_t length(std::int32_t seq_id) const;
  std::span<const std::int32_t> block_table(std::int32_t seq_id) const;
  // Rolls the sequence back to its first n tokens (a failed forward pass), returning blocks no
  // longer needed. Committed tokens are never rolled back — their blocks may be published and
  // shared — so n is raised to the committed count.
  void truncate(std::int32_t seq_id, std::int32_t n);
  // Returns all blocks of the sequence to the pool (published ones stay cached).
  void release(std::int32_t seq_id);
  std::int32_t n_sequences() const { return static_cast<std::int32_t>(seqs_.size()); }

  // Prefix sharing. attach: for an empty sequence, takes the longest run of published blocks
  // matching tokens[0, max_tokens) block by block; returns the tokens attached (a multiple of
  // block_size). commit: the tokens the sequence's last forward pass stored (after
  // reserve()); publishes every block they complete.
  std::int32_t attach(std::int32_t seq_id, std::span<const std::int32_t> tokens,
                      std::int32_t max_tokens);
  void commit(std::int32_t seq_id, std::span<const std::int32_t> tokens);

 private:
  struct SeqState {
    std::int32_t length = 0;
    std::vector<std::int32_t> blocks;
    // Prefix chain of the committed tokens: hash through the last full block and the tokens
    // of the block being filled.
    std::uint64_t chain = 0;
    std::vector<std::int32_t> pending;
    std::int32_t committed = 0;
  };
  struct Published {
    std::uint64_t hash = 0;
    std::uint64_t parent = 0;
    std::vector<std::int32_t> tokens;
  };

  static std::uint64_t chain_hash(std::uint64_t parent, std::span<const std::int32_t> tokens);
  std::int32_t take_block();          // an unused block, evicting a cached one if needed
  void drop_ref(std::int32_t block);  // one holder fewer
  void unpublish(std::int32_t block);

  std::int32_t n_blocks_;
  std::int32_t block_size_;
  std::vector<std::int32_t> free_;    // stack of unused, unpublished block ids
  std::vector<std::int32_t> refs_;    // holders per block
  std::vector<Published> published_;  // by block; hash 0 = not published
  std::unordered_map<std::uint64_t, std::int32_t> by_hash_;
  std::list<std::int32_t> evictable_;  // published, unheld; front = released longest ago
  std::vector<std::list<std::int32_t>::iterator> evictable_pos_;
  std::unordered_map<std::int32_t, SeqState> seqs_;
};

}  // namespace zinfer::kv
