// Sequence: the generation state of one job — prompt, sampler, incremental detokenizer, stop
// matching, limits. The scheduler feeds it logits; it decides the next token and the text.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/sample/sample_request.h"
#include "engine/sample/sampler.h"
#include "engine/sample/sampling_params.h"
#include "engine/sample/stop_matcher.h"
#include "engine/sched/job_spec.h"
#include "engine/tokenizer/harmony.h"
#include "engine/tokenizer/tokenizer.h"

namespace zinfer::sched {

enum class FinishReason : std::uint8_t {
  kNone = 0,
  kStop = 1,    // end-of-generation token, stop token id or stop string
  kLength = 2,  // max_tokens or the context length reached
  kCancelled = 3,
  kDeadline = 4,
};
const char* finish_reason_name(FinishReason r);  // "stop", "length", ...

struct StepOutput {
  std::vector<std::int32_t> tokens;  // tokens gained this step
  std::string text;                  // complete UTF-8 released this step
  std::string reasoning;             // harmony_channels: analysis-channel text released this step
  std::vector<sample::SampleResult> samples;  // per token: logprob and top logprobs
  FinishReason finish = FinishReason::kNone;
};

class Sequence {
 public:
  // The spec's prompt and parameters were checked (JobSpec::check); the sequence trusts them.
  Sequence(const tok::Tokenizer& tok, const JobSpec& spec);

  const std::vector<std::int32_t>& prompt() const { return prompt_; }
  const std::vector<std::int32_t>& generated() const { return generated_; }
  const GenerationParams& params() const { return params_; }
  // Tokens the next forward pass must append: the prompt first, then the last sampled token.
  std::span<const std::int32_t> pending_input() const;
  bool finished() const { return finish_ != FinishReason::kNone; }
  FinishReason finish_reason() const { return finish_; }

  // Samples from the logits of the last fed token and advances the state.
  Result<StepOutput> accept_logits(std::span<float> logits);
  // What sampling the next token needs (Llm::forward_sample): the job's parameters, its
  // history and the token's position. Valid until the sequence changes.
  sample::SampleRequest sample_request() const;
  // Advances the state with a token sampled elsewhere from sample_request(), as
  // accept_logits does with the token it samples.
  Result<StepOutput> accept_sample(sample::SampleResult s);
  // Ends the sequence from outside (cancel, deadline); returns the held-back text.
  StepOutput finish(FinishReason reason);

 private:
  const tok::Tokenizer& tok_;
  std::vector<std::int32_t> prompt_;
  GenerationParams params_;
  std::int32_t n_ctx_;
  sample::Sampler sampler_;
  tok::IncrementalDetokenizer detok_;
  sample::StopMatcher stops_;
  std::optional<tok::HarmonyParser> harmony_;  // params_.harmony_channels
  std::vector<std::int32_t> generated_;
  std::vector<std::int32_t> history_;  // prompt + generated, for penalties
  bool prompt_fed_ = false;
  FinishReason finish_ = FinishReason::kNone;
};

}  // namespace zinfer::sched
