// Sequence (see sequence.h).
#include "engine/sched/sequence.h"

#include <algorithm>

namespace zinfer::sched {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kNone:
      return "none";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kDeadline:
      return "deadline";
  }
  return "none";
}

Sequence::Sequence(const tok::Tokenizer& tok, const JobSpec& spec)
    : tok_(tok),
      prompt_(spec.prompt()),
      params_(spec.params()),
      n_ctx_(spec.limits().n_ctx),
      sampler_(params_.sampling),
      detok_(tok),
      stops_(params_.stop) {
  if (params_.harmony_channels) harmony_.emplace(tok);
  history_ = prompt_;
}

std::span<const std::int32_t> Sequence::pending_input() const {
  if (!prompt_fed_) return prompt_;
  if (generated_.empty()) return {};
  return std::span<const std::int32_t>(&generated_.back(), 1);
}

sample::SampleRequest Sequence::sample_request() const {
  return sample::SampleRequest{&sampler_.params(), history_,
                               static_cast<std::int64_t>(generated_.size())};
}

Result<StepOutput> Sequence::accept_logits(std::span<float> logits) {
  if (finished()) return StepOutput{};
  const sample::SampleRequest r = sample_request();
  ZINFER_ASSIGN_OR_RETURN(sample::SampleResult s, sampler_.sample(logits, r.history, r.position));
  return accept_sample(std::move(s));
}

Result<StepOutput> Sequence::accept_sample(sample::SampleResult s) {
  StepOutput out;
  if (finished()) return out;
  prompt_fed_ = true;
  const std::int32_t id = s.token;
  generated_.push_back(id);
  history_.push_back(id);
  out.tokens.push_back(id);
  out.samples.push_back(std::move(s));

  const bool eog = !params_.ignore_eos && tok_.is_eog(id);
  const bool stop_id = std::find(params_.stop_token_ids.begin(), params_.stop_token_ids.end(),
                                 id) != params_.stop_token_ids.end();
  if (eog || stop_id) {
    StepOutput tail = finish(FinishReason::kStop);
    out.text += tail.text;
    out.reasoning += tail.reasoning;
    out.finish = FinishReason::kStop;
    return out;
  }
  std::string piece;
  if (harmony_) {
    tok::HarmonyParser::Delta d = harmony_->push(id);
    piece = std::move(d.text);
    out.reasoning += d.reasoning;
  } else {
    piece = detok_.push(id);
  }
  auto matched = stops_.push(piece);
  out.text += matched.emit;
  if (matched.stopped) {
    finish_ = FinishReason::kStop;
    out.finish = finish_;
    return out;
  }
  const bool at_max = static_cast<std::int32_t>(generated_.size()) >= params_.max_tokens;
  const bool at_ctx = static_cast<std::int32_t>(history_.size()) >= n_ctx_;
  if (at_max || at_ctx) {
    StepOutput tail = finish(FinishReason::kLength);
    out.text += tail.text;
    out.reasoning += tail.reasoning;
    out.finish = FinishReason::kLength;
  }
  return out;
}

StepOutput Sequence::finish(FinishReason reason) {
  StepOutput out;
  if (finished()) return out;
  finish_ = reason;
  // Release text held back for UTF-8 completion or a possible stop string.
  std::string held;
  if (harmony_) {
    tok::HarmonyParser::Delta d = harmony_->flush();
    held = std::move(d.text);
    out.reasoning = std::move(d.reasoning);
  } else {
    held = detok_.flush();
  }
  auto matched = stops_.push(held);
  out.text = matched.emit;
  if (!matched.stopped) out.text += stops_.flush();
  out.finish = reason;
  return out;
}

}  // namespace zinfer::sched
