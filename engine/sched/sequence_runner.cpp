// SequenceRunner (see sequence_runner.h).
#include "engine/sched/sequence_runner.h"

#include <algorithm>
#include <cassert>
#include <string>

namespace zinfer::sched {

SequenceRunner::SequenceRunner(Llm& llm) : llm_(llm), kv_(llm.kv_blocks(), llm.kv_block_size()) {}

Result<std::vector<float>> SequenceRunner::forward(std::int32_t seq_id,
                                                   std::span<const std::int32_t> tokens,
                                                   bool all_logits, bool generated) {
  const SeqInput in{seq_id, tokens, all_logits, generated};
  ZINFER_ASSIGN_OR_RETURN(auto out, forward_batch(std::span<const SeqInput>(&in, 1)));
  return std::move(out[0]);
}

Result<std::vector<std::vector<float>>> SequenceRunner::forward_batch(
    std::span<const SeqInput> inputs) {
  ZINFER_ASSIGN_OR_RETURN(const std::vector<SeqStep> steps, plan(inputs));
  auto out = llm_.forward_batch(steps);
  if (!out.ok()) undo(inputs, steps);
  return out;
}

Result<std::vector<StepSample>> SequenceRunner::forward_sample(
    std::span<const SeqInput> inputs, std::span<const sample::SampleRequest> requests) {
  assert(requests.size() == inputs.size());
  ZINFER_ASSIGN_OR_RETURN(const std::vector<SeqStep> steps, plan(inputs));
  auto out = llm_.forward_sample(steps, requests);
  if (!out.ok()) undo(inputs, steps);
  return out;
}

void SequenceRunner::undo(std::span<const SeqInput> inputs, std::span<const SeqStep> steps) {
  for (std::size_t i = 0; i < inputs.size(); ++i) kv_.truncate(inputs[i].seq_id, steps[i].n_past);
}

Result<std::vector<SeqStep>> SequenceRunner::plan(std::span<const SeqInput> inputs) {
  // Plan the step (check it fits the context and the pool) before reserving anything.
  const std::int32_t n_ctx = llm_.options().n_ctx;
  std::int32_t need = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const SeqInput& in = inputs[i];
    if (in.seq_id < 0)
      return make_error(ErrorCode::kInvalidParameter,
                        "seq_id " + std::to_string(in.seq_id) + " < 0");
    for (std::size_t j = 0; j < i; ++j) {
      if (inputs[j].seq_id == in.seq_id)
        return make_error(ErrorCode::kInvalidParameter, "seq_id repeated in batch");
    }
    if (in.tokens.empty())
      return make_error(ErrorCode::kInvalidParameter, "sequence with no tokens");
    if (kv_.length(in.seq_id) + static_cast<std::int64_t>(in.tokens.size()) > n_ctx) {
      return make_error(ErrorCode::kPromptTooLong,
                        "sequence would exceed n_ctx=" + std::to_string(n_ctx));
    }
    // Token ids come from a checked JobSpec, a tokenizer or a fixture: trusted.
    assert(std::all_of(in.tokens.begin(), in.tokens.end(),
                       [&](std::int32_t t) { return t >= 0 && t < llm_.hparams().n_vocab; }));
    need += kv_.blocks_needed(in.seq_id, static_cast<std::int32_t>(in.tokens.size()));
  }
  if (need > kv_.free_blocks()) {
    return make_error(ErrorCode::kOutOfMemory, "KV cache full: batch needs " +
                                                   std::to_string(need) + " blocks, " +
                                                   std::to_string(kv_.free_blocks()) + " free");
  }

  std::vector<SeqStep> steps;
  steps.reserve(inputs.size());
  for (const SeqInput& in : inputs) {
    const std::int32_t n_past = kv_.length(in.seq_id);
    ZINFER_RETURN_IF_ERROR(
        kv_.reserve(in.seq_id, static_cast<std::int32_t>(in.tokens.size())));  // fits: checked
    steps.push_back(SeqStep{in.tokens, n_past, {}, in.all_logits, in.generated});
  }
  // Tables are read after every reservation: a reservation never moves another sequence's table.
  for (std::size_t i = 0; i < inputs.size(); ++i)
    steps[i].block_table = kv_.block_table(inputs[i].seq_id);
  return steps;
}

}  // namespace zinfer::sched
