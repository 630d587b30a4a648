// prepare_submit() (see submit_prep.h).
#include "service/worker/submit_prep.h"

#include <string>

namespace zinfer::worker {

Result<sched::JobSpec> prepare_submit(const protocol::SubmitMsg& s, const sched::EngineInfo& info) {
  std::vector<std::int32_t> ids;
  const tok::Tokenizer* tok = info.tokenizer;
  if (s.prompt_tokens) {
    ids = *s.prompt_tokens;
  } else if (s.prompt) {
    if (tok == nullptr) {
      return make_error(ErrorCode::kInvalidRequest,
                        "submit.prompt: this worker accepts prompt_tokens only");
    }
    // Plain text: the model's BOS flag applies; special-token text stays plain text.
    ids = tok->encode(*s.prompt, /*add_special=*/true, /*parse_special=*/false);
  } else if (s.messages) {
    if (tok == nullptr) {
      return make_error(ErrorCode::kInvalidRequest,
                        "submit.messages: this worker accepts prompt_tokens only");
    }
    // The template writes the special tokens itself (as `zinfer generate --chat` encodes it).
    auto chat = tok->encode_chat(*s.messages, /*add_generation_prompt=*/true);
    if (!chat.ok())
      return make_error(ErrorCode::kInvalidParameter, "submit.messages: " + chat.error().message);
    ids = std::move(*chat);
  } else {
    return make_error(ErrorCode::kInvalidRequest,
                      "submit: one of prompt, prompt_tokens, messages is required");
  }
  if (ids.empty() && !s.prompt_tokens) {
    return make_error(ErrorCode::kInvalidRequest, "submit.prompt: encodes to no tokens");
  }
  sched::GenerationParams params = s.params;
  // A harmony (gpt-oss) chat: the answer is the final channel, the reasoning its own field.
  if (s.messages && tok->chat_is_harmony()) params.harmony_channels = true;
  auto spec = sched::JobSpec::check(std::move(ids), std::move(params),
                                    sched::JobLimits{info.vocab_size, info.context_length});
  if (spec.ok()) return spec;
  // "prompt..." names the engine's field: say which form of the submit it came from.
  const std::string& msg = spec.error().message;
  const std::string prompt_field = s.prompt_tokens ? "submit.prompt_tokens"
                                   : s.messages    ? "submit.messages"
                                                   : "submit.prompt";
  const bool about_prompt = msg.compare(0, 6, "prompt") == 0;
  return make_error(spec.error().code,
                    about_prompt ? prompt_field + msg.substr(6) : "submit." + msg);
}

}  // namespace zinfer::worker
