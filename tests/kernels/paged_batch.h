// PagedSeqs: test-side stand-in for the Llm's KV bookkeeping. Sequences get blocks from a
// shuffled pool (so block tables are non-contiguous), grow step by step, and each step is
// turned into a model::Batch whose spans point into this object.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/model/ops.h"

namespace zinfer::testing {

class PagedSeqs {
 public:
  PagedSeqs(std::int32_t n_seqs, std::int32_t n_blocks, std::int32_t block_size, std::uint32_t seed)
      : block_size_(block_size),
        length_(static_cast<std::size_t>(n_seqs), 0),
        tables_(static_cast<std::size_t>(n_seqs)) {
    for (std::int32_t b = 0; b < n_blocks; ++b) free_.push_back(b);
    std::mt19937 rng(seed);
    std::shuffle(free_.begin(), free_.end(), rng);
  }

  // One step: new_tokens[i] more tokens for sequence i (0 → not in this batch), of the kind
  // generated[i] (model::SeqSpan::generated; none given → prompt tokens). Token ids are
  // arbitrary (rope/attention ignore them). The returned Batch is valid until the next step.
  const model::Batch& step(const std::vector<std::int32_t>& new_tokens,
                           const std::vector<bool>& generated = {}) {
    tokens_.clear();
    positions_.clear();
    batch_ = model::Batch{};
    for (std::size_t i = 0; i < new_tokens.size(); ++i) {
      const std::int32_t n = new_tokens[i];
      if (n == 0) continue;
      const std::int32_t need = (length_[i] + n + block_size_ - 1) / block_size_;
      while (static_cast<std::int32_t>(tables_[i].size()) < need) {
        tables_[i].push_back(free_.back());
        free_.pop_back();
      }
      model::SeqSpan s;
      s.seq_id = static_cast<std::int32_t>(i);
      s.n_past = length_[i];
      s.n_tokens = n;
      s.row_start = static_cast<std::int32_t>(tokens_.size());
      s.generated = i < generated.size() && generated[i];
      for (std::int32_t t = 0; t < n; ++t) {
        tokens_.push_back(static_cast<std::int32_t>(i));
        positions_.push_back(length_[i] + t);
      }
      length_[i] += n;
      batch_.seqs.push_back(s);
    }
    // Spans are set after all tables grew, so none points into a reallocated vector.
    for (auto& s : batch_.seqs) s.block_table = tables_[static_cast<std::size_t>(s.seq_id)];
    batch_.tokens = tokens_;
    batch_.positions = positions_;
    return batch_;
  }

 private:
  std::int32_t block_size_;
  std::vector<std::int32_t> length_;
  std::vector<std::vector<std::int32_t>> tables_;
  std::vector<std::int32_t> free_;
  std::vector<std::int32_t> tokens_, positions_;
  model::Batch batch_;
};

}  // namespace zinfer::testing
