// SequenceRunner: runs sequences on an Llm without the scheduler — `zinfer generate`, the
// engine benchmark and the model tests. It owns a KV block allocator over the Llm's pool and
// plans each step itself: a sequence's n_past is what it fed before, and its new tokens get
// blocks before the forward pass. No admission, no preemption: a step that does not fit the
// pool or the context is refused.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/error.h"
#include "engine/kv/kv_block_allocator.h"
#include "engine/model/llm.h"

namespace zinfer::sched {

// One sequence's share of a step: its new tokens, appended after those it already fed.
struct SeqInput {
  std::int32_t seq_id = 0;               // any id ≥ 0; the runner keeps one KV table per id
  std::span<const std::int32_t> tokens;  // appended after the sequence's cached tokens
  bool all_logits = false;               // logits for every token, else only the last
  bool generated = false;                // tokens the engine sampled (SeqStep::generated)
};

class SequenceRunner {
 public:
  // The Llm must outlive the runner and have no other KV owner (no Scheduler) while it lives.
  explicit SequenceRunner(Llm& llm);

  // Appends tokens to sequence seq_id and returns logits: [tokens.size()][n_vocab] row-major
  // when all_logits, else [n_vocab] for the last token. generated: the tokens were sampled
  // (SeqStep::generated), else prompt tokens.
  Result<std::vector<float>> forward(std::int32_t seq_id, std::span<const std::int32_t> tokens,
                                     bool all_logits, bool generated = false);
  // One forward pass over several sequences; per input, the logits as forward() gives them.
  // Token ids must be in the vocabulary (asserted: they come from a sched::JobSpec, the
  // tokenizer or a fixture). kInvalidParameter (a seq_id repeated or negative, no tokens),
  // kPromptTooLong (past n_ctx), kOutOfMemory (the KV pool cannot hold the new tokens);
  // nothing changes on an error.
  Result<std::vector<std::vector<float>>> forward_batch(std::span<const SeqInput> inputs);
  // The same pass, sampling instead of returning logits (Llm::forward_sample): requests[i]
  // samples input i's last token (params == nullptr: none). Same errors as forward_batch.
  Result<std::vector<StepSample>> forward_sample(std::span<const SeqInput> inputs,
                                                 std::span<const sample::SampleRequest> requests);
  // Forgets the sequence's KV cache.
  void reset(std::int32_t seq_id) { kv_.release(seq_id); }
  // Tokens cached for the sequence.
  std::int32_t seq_length(std::int32_t seq_id) const { return kv_.length(seq_id); }
  const kv::KvBlockAllocator& kv() const { return kv_; }

 private:
  // Checks the step against the context and the pool, reserves its blocks and returns the
  // planned steps; nothing changes on an error. undo() forgets a failed step's tokens.
  Result<std::vector<SeqStep>> plan(std::span<const SeqInput> inputs);
  void undo(std::span<const SeqInput> inputs, std::span<const SeqStep> steps);

  Llm& llm_;
  kv::KvBlockAllocator kv_;
};

}  // namespace zinfer::sched
