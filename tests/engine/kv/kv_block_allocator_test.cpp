// KvBlockAllocator: paging and prefix sharing — published blocks are found only by their
// exact token chain, shared with refcounts, cached after release (counted as free), evicted
// least recently released first (a chain's last block before its parents), and a partial
// block is never shared.
#include "engine/kv/kv_block_allocator.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace zinfer::kv {
namespace {

constexpr std::int32_t kBs = 4;

std::vector<std::int32_t> seq_tokens(std::int32_t n, std::int32_t first = 1) {
  std::vector<std::int32_t> t(static_cast<std::size_t>(n));
  std::iota(t.begin(), t.end(), first);
  return t;
}

// Stores tokens for a sequence the way Llm::forward_batch does: reserve, then commit.
void store(KvBlockAllocator& kv, std::int32_t seq, const std::vector<std::int32_t>& tokens) {
  ASSERT_TRUE(kv.reserve(seq, static_cast<std::int32_t>(tokens.size())).ok());
  kv.commit(seq, tokens);
}

TEST(KvBlockAllocator, PublishedBlocksAreSharedAndCachedAfterRelease) {
  KvBlockAllocator kv(16, kBs);
  const auto t = seq_tokens(10);  // two full blocks + 2 tokens
  store(kv, 0, t);
  EXPECT_EQ(kv.free_blocks(), 13);
  // A new sequence with the same 10 tokens may take at most 9: the two full blocks.
  EXPECT_EQ(kv.attach(1, t, 9), 8);
  EXPECT_EQ(kv.length(1), 8);
  ASSERT_EQ(kv.block_table(1).size(), 2u);
  EXPECT_EQ(kv.block_table(1)[0], kv.block_table(0)[0]);
  EXPECT_EQ(kv.block_table(1)[1], kv.block_table(0)[1]);
  EXPECT_EQ(kv.free_blocks(), 13) << "sharing takes no block";
  // It continues on its own blocks.
  store(kv, 1, {50, 51, 52});
  EXPECT_NE(kv.block_table(1)[2], kv.block_table(0)[2]);
  EXPECT_EQ(kv.free_blocks(), 12);
  kv.release(0);
  EXPECT_EQ(kv.free_blocks(), 13)
      << "seq 0's partial block is free; its shared ones are held by seq 1";
  kv.release(1);
  EXPECT_EQ(kv.free_blocks(), 16);
  EXPECT_EQ(kv.cached_blocks(), 2);
  // Cached, nobody holds them: still attachable.
  EXPECT_EQ(kv.attach(2, t, 10), 8);
  EXPECT_EQ(kv.cached_blocks(), 0);
  EXPECT_EQ(kv.free_blocks(), 14);
}

TEST(KvBlockAllocator, MatchesOnlyTheExactChainAndNeverAPartialBlock) {
  KvBlockAllocator kv(16, kBs);
  store(kv, 0, seq_tokens(8));
  std::vector<std::int32_t> other_first = seq_tokens(8);
  other_first[1] = 99;
  EXPECT_EQ(kv.attach(1, other_first, 8), 0) << "a different first block shares nothing";
  std::vector<std::int32_t> other_second = seq_tokens(8);
  other_second[6] = 99;
  EXPECT_EQ(kv.attach(2, other_second, 8), 4) << "the first block matches, the second does not";
  // Same second block after a different first block: its chain hash differs, no match.
  std::vector<std::int32_t> shifted = seq_tokens(8);
  shifted[0] = 77;
  EXPECT_EQ(kv.attach(3, shifted, 8), 0);
  // Only committed, full blocks are published.
  KvBlockAllocator kv2(8, kBs);
  store(kv2, 0, seq_tokens(3));
  EXPECT_EQ(kv2.attach(1, seq_tokens(8), 8), 0);
  // A sequence that already holds tokens attaches nothing.
  EXPECT_EQ(kv.attach(0, seq_tokens(8), 8), 0);
}

TEST(KvBlockAllocator, EvictsLeastRecentlyReleasedChainTailsFirst) {
  KvBlockAllocator kv(4, kBs);
  store(kv, 0, seq_tokens(8));       // blocks A0 A1
  store(kv, 1, seq_tokens(8, 100));  // blocks B0 B1
  kv.release(0);                     // A1, A0 cached (A released first)
  kv.release(1);                     // B1, B0 cached
  EXPECT_EQ(kv.free_blocks(), 4);
  EXPECT_EQ(kv.cached_blocks(), 4);
  // Needing one block evicts A1 (released longest ago, the tail of its chain).
  ASSERT_TRUE(kv.reserve(2, 1).ok());
  EXPECT_EQ(kv.cached_blocks(), 3);
  EXPECT_EQ(kv.attach(3, seq_tokens(8), 8), 4) << "A0 survives, A1 was evicted";
  EXPECT_EQ(kv.attach(4, seq_tokens(8, 100), 8), 8) << "B is intact";
  // Full pool: no more blocks, nothing changes.
  EXPECT_EQ(kv.free_blocks(), 0);
  EXPECT_FALSE(kv.reserve(5, 1).ok());
}

TEST(KvBlockAllocator, RollbackNeverCutsIntoCommittedTokens) {
  KvBlockAllocator kv(8, kBs);
  store(kv, 0, seq_tokens(6));
  ASSERT_TRUE(kv.reserve(0, 5).ok());  // a pass that then fails: 11 tokens reserved
  EXPECT_EQ(kv.length(0), 11);
  kv.truncate(0, 2);  // asks for less than what was committed
  EXPECT_EQ(kv.length(0), 6) << "committed tokens (and a published block) stay";
  EXPECT_EQ(kv.free_blocks(), 6);
  store(kv, 0, {7, 8});
  EXPECT_EQ(kv.attach(1, seq_tokens(8), 8), 8) << "the chain continues where it was";
}

}  // namespace
}  // namespace zinfer::kv
