// prepare_submit() (see submit_prep.h).
#include "service/worker/submit_prep.h"

#include <string>

namespace zinfer::worker {

Result<std::vector<std::int32_t>> prepare_submit(const protocol::SubmitMsg& s, const EngineInfo& info) {
  std::vector<std::int32_t> ids;
  const tok::Tokenizer* tok = info.tokenizer;
  if (s.prompt_tokens) {
    ids = *s.prompt_tokens;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= info.vocab_size) {
        return make_error(ErrorCode::kInvalidRequest,
                          "submit.prompt_tokens[" + std::to_string(i) + "]: token id " + std::to_string(ids[i]) +
                              " is outside the vocabulary [0, " + std::to_string(info.vocab_size) + ")");
      }
    }
  } else if (s.prompt) {
    if (tok == nullptr) {
      return make_error(ErrorCode::kInvalidRequest, "submit.prompt: this worker accepts prompt_tokens only");
    }
    // Plain text: the model's BOS flag applies; special-token text stays plain text.
    ids = tok->encode(*s.prompt, /*add_special=*/true, /*parse_special=*/false);
  } else if (s.messages) {
    if (tok == nullptr) {
      return make_error(ErrorCode::kInvalidRequest, "submit.messages: this worker accepts prompt_tokens only");
    }
    auto text = tok->apply_chat_template(*s.messages, /*add_generation_prompt=*/true);
    if (!text.ok()) return make_error(ErrorCode::kInvalidParameter, "submit.messages: " + text.error().message);
    // The template writes the special tokens itself (as `zinfer generate --chat` encodes it).
    ids = tok->encode(*text, /*add_special=*/false, /*parse_special=*/true);
  } else {
    return make_error(ErrorCode::kInvalidRequest, "submit: one of prompt, prompt_tokens, messages is required");
  }
  if (ids.empty()) return make_error(ErrorCode::kInvalidRequest, "submit.prompt: encodes to no tokens");
  if (static_cast<std::int64_t>(ids.size()) >= info.context_length) {
    return make_error(ErrorCode::kPromptTooLong, "submit.prompt: " + std::to_string(ids.size()) +
                                                     " tokens; the context holds " +
                                                     std::to_string(info.context_length) +
                                                     " and at least one must be left to generate");
  }
  Status st = sched::validate(s.params, info.vocab_size);
  if (!st.ok()) return make_error(st.error().code, "submit." + st.error().message);
  return ids;
}

}  // namespace zinfer::worker
