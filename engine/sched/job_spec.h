// JobSpec: a generation job as the engine accepts it — prompt token ids and generation
// parameters checked once, against the model, by JobSpec::check(). That is the boundary:
// the service (service/worker/submit_prep.cpp), `zinfer generate` and tests all make their
// jobs through it, and everything inside the engine (Scheduler, Sequence, Sampler, Llm, the
// backends) trusts a JobSpec's contents, asserting instead of re-checking.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/sample/sampling_params.h"

namespace zinfer::sched {

using Clock = std::chrono::steady_clock;
using JobId = std::uint64_t;

struct GenerationParams {
  sample::SamplingParams sampling;
  std::int32_t max_tokens = 256;             // ≥ 1
  std::vector<std::string> stop;             // stop strings (excluded from the text)
  std::vector<std::int32_t> stop_token_ids;  // extra ids that end generation
  bool ignore_eos = false;                   // keep going past end-of-generation tokens
  // The model writes harmony messages (gpt-oss; engine/tokenizer/harmony.h): the text is the
  // final channel's content, the analysis channel goes to StepOutput::reasoning, and the
  // structure (headers, other channels) to neither. Set by whoever renders a harmony chat
  // prompt (prepare_submit, `zinfer generate --chat`); not a wire field.
  bool harmony_channels = false;
};

// The generation-parameter part of JobSpec::check (kInvalidParameter naming the field);
// public so the wire decoder can check what it can before the vocabulary is known.
Status validate(const GenerationParams& params, std::int32_t n_vocab);

// The model facts a job is checked against.
struct JobLimits {
  std::int32_t n_vocab = 0;  // valid token ids are [0, n_vocab)
  std::int32_t n_ctx = 0;    // tokens per sequence; a prompt must leave room for one more
  bool operator==(const JobLimits&) const = default;
};

class JobSpec {
 public:
  // The one check of a job's contents. Errors, each naming the field:
  //  kInvalidRequest   "prompt: is empty", "prompt[3]: token id 70000 is outside the vocabulary [0,
  //  49152)" kPromptTooLong    "prompt: 4096 tokens; the context holds 4096 and ..."
  //  kInvalidParameter "max_tokens must be ≥ 1, got 0", "top_p must be in (0, 1], got 1.5",
  //                    "stop_token_ids[0] = -1 is outside the vocabulary", "logit_bias[2] ..."
  static Result<JobSpec> check(std::vector<std::int32_t> prompt, GenerationParams params,
                               const JobLimits& limits);

  // Scheduling fields: every value is valid, so they are set freely after check().
  JobId id = 0;                               // unique among a scheduler's live jobs
  std::int32_t priority = 0;                  // higher runs first; ties in add() order
  std::optional<Clock::time_point> deadline;  // absolute; checked at every step
  Clock::time_point arrival = Clock::now();   // receipt time: the origin of queue/ttft timings

  const std::vector<std::int32_t>& prompt() const {
    return prompt_;
  }  // 1 ≤ size < n_ctx, ids < n_vocab
  const GenerationParams& params() const { return params_; }
  const JobLimits& limits() const { return limits_; }  // what it was checked against

 private:
  JobSpec(std::vector<std::int32_t> prompt, GenerationParams params, const JobLimits& limits)
      : prompt_(std::move(prompt)), params_(std::move(params)), limits_(limits) {}

  std::vector<std::int32_t> prompt_;
  GenerationParams params_;
  JobLimits limits_;
};

}  // namespace zinfer::sched
