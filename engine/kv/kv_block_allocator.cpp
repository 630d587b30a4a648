// Paged KV-cache bookkeeping with prefix sharing (see kv_block_allocator.h).
#include "engine/kv/kv_block_allocator.h"

#include <algorithm>
#include <string>

namespace zinfer::kv {

KvBlockAllocator::KvBlockAllocator(std::int32_t n_blocks, std::int32_t block_size)
    : n_blocks_(n_blocks),
      block_size_(block_size),
      refs_(static_cast<std::size_t>(n_blocks), 0),
      published_(static_cast<std::size_t>(n_blocks)),
      evictable_pos_(static_cast<std::size_t>(n_blocks)) {
  free_.reserve(static_cast<std::size_t>(n_blocks));
  // Hand out low block ids first (pop from the back).
  for (std::int32_t b = n_blocks - 1; b >= 0; --b) free_.push_back(b);
}

// splitmix64 over the parent hash and each token: cheap, well mixed; matches are verified
// token by token anyway, so a collision can only cost a cache miss, never a wrong answer.
std::uint64_t KvBlockAllocator::chain_hash(std::uint64_t parent,
                                           std::span<const std::int32_t> tokens) {
  auto mix = [](std::uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  std::uint64_t h = mix(parent);
  for (std::int32_t t : tokens) h = mix(h ^ static_cast<std::uint32_t>(t));
  return h == 0 ? 1 : h;  // 0 marks "not published"
}

std::int32_t KvBlockAllocator::blocks_needed(std::int32_t seq_id, std::int32_t n_tokens) const {
  auto it = seqs_.find(seq_id);
  const std::int32_t have_len = it == seqs_.end() ? 0 : it->second.length;
  const std::int32_t have_blocks =
      it == seqs_.end() ? 0 : static_cast<std::int32_t>(it->second.blocks.size());
  const std::int64_t total = static_cast<std::int64_t>(have_len) + n_tokens;
  const std::int64_t need = (total + block_size_ - 1) / block_size_;
  return need > have_blocks ? static_cast<std::int32_t>(need - have_blocks) : 0;
}

std::int32_t KvBlockAllocator::take_block() {
  std::int32_t b = 0;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else {
    b = evictable_.front();  // callers checked free_blocks()
    evictable_.pop_front();
    unpublish(b);
  }
  refs_[static_cast<std::size_t>(b)] = 1;
  return b;
}

void KvBlockAllocator::unpublish(std::int32_t block) {
  Published& p = published_[static_cast<std::size_t>(block)];
  if (p.hash == 0) return;
  auto it = by_hash_.find(p.hash);
  if (it != by_hash_.end() && it->second == block) by_hash_.erase(it);
  p = Published{};
}

void KvBlockAllocator::drop_ref(std::int32_t block) {
  const auto i = static_cast<std::size_t>(block);
  if (--refs_[i] > 0) return;
  if (published_[i].hash != 0) {
    evictable_.push_back(block);
    evictable_pos_[i] = std::prev(evictable_.end());
  } else {
    free_.push_back(block);
  }
}

Status KvBlockAllocator::reserve(std::int32_t seq_id, std::int32_t n_tokens) {
  const std::int32_t need = blocks_needed(seq_id, n_tokens);
  if (need > free_blocks()) {
    return make_error(ErrorCode::kOutOfMemory, "KV cache full: sequence " + std::to_string(seq_id) +
                                                   " needs " + std::to_string(need) + " blocks, " +
                                                   std::to_string(free_blocks()) + " free");
  }
  SeqState& s = seqs_[seq_id];
  for (std::int32_t i = 0; i < need; ++i) s.blocks.push_back(take_block());
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
  if (it == seqs_.end()) return;
  n = std::max(n, it->second.committed);
  if (n >= it->second.length) return;
  if (n <= 0) {
    release(seq_id);
    return;
  }
  SeqState& s = it->second;
  const std::size_t keep = static_cast<std::size_t>((n + block_size_ - 1) / block_size_);
  while (s.blocks.size() > keep) {
    drop_ref(s.blocks.back());
    s.blocks.pop_back();
  }
  s.length = n;
}

void KvBlockAllocator::release(std::int32_t seq_id) {
  auto it = seqs_.find(seq_id);
  if (it == seqs_.end()) return;
  // Last block first: a later block of a chain is useless without its parents, so it should
  // be evicted before them.
  for (auto b = it->second.blocks.rbegin(); b != it->second.blocks.rend(); ++b) drop_ref(*b);
  seqs_.erase(it);
}

std::int32_t KvBlockAllocator::attach(std::int32_t seq_id, std::span<const std::int32_t> tokens,
                                      std::int32_t max_tokens) {
  if (length(seq_id) != 0) return 0;
  const std::int32_t limit =
      std::min<std::int32_t>(max_tokens, static_cast<std::int32_t>(tokens.size()));
  const auto bs = static_cast<std::size_t>(block_size_);
  std::uint64_t parent = 0;
  std::vector<std::int32_t> got;
  for (std::int32_t end = block_size_; end <= limit; end += block_size_) {
    const auto chunk = tokens.subspan(static_cast<std::size_t>(end - block_size_), bs);
    const std::uint64_t h = chain_hash(parent, chunk);
    auto it = by_hash_.find(h);
    if (it == by_hash_.end()) break;
    const Published& p = published_[static_cast<std::size_t>(it->second)];
    if (p.parent != parent ||
        !std::equal(chunk.begin(), chunk.end(), p.tokens.begin(), p.tokens.end()))
      break;
    got.push_back(it->second);
    parent = h;
  }
  if (got.empty()) return 0;
  SeqState& s = seqs_[seq_id];
  s = SeqState{};
  for (std::int32_t b : got) {
    const auto i = static_cast<std::size_t>(b);
    if (refs_[i]++ == 0) evictable_.erase(evictable_pos_[i]);
    s.blocks.push_back(b);
  }
  s.length = static_cast<std::int32_t>(got.size()) * block_size_;
  s.committed = s.length;
  s.chain = parent;
  return s.length;
}

void KvBlockAllocator::commit(std::int32_t seq_id, std::span<const std::int32_t> tokens) {
  auto it = seqs_.find(seq_id);
  if (it == seqs_.end()) return;
  SeqState& s = it->second;
  if (s.committed + static_cast<std::int64_t>(tokens.size()) > s.length) return;  // not stored
  for (std::int32_t t : tokens) {
    s.pending.push_back(t);
    ++s.committed;
    if (static_cast<std::int32_t>(s.pending.size()) < block_size_) continue;
    const std::uint64_t h = chain_hash(s.chain, s.pending);
    const std::int32_t block = s.blocks[static_cast<std::size_t>(s.committed / block_size_ - 1)];
    Published& p = published_[static_cast<std::size_t>(block)];
    if (p.hash == 0 && by_hash_.count(h) == 0) {  // first publisher of this content wins
      p.hash = h;
      p.parent = s.chain;
      p.tokens = s.pending;
      by_hash_.emplace(h, block);
    }
    s.chain = h;
    s.pending.clear();
  }
}

}  // namespace zinfer::kv
