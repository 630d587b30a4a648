// Tokenizer factory and the parts shared by every implementation: decode, the
// end-of-generation test and chat-template formatting.
#include "engine/tokenizer/tokenizer.h"

#include <algorithm>

#include "engine/tokenizer/bpe_tokenizer.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/harmony.h"
#include "engine/tokenizer/spm_tokenizer.h"

namespace zinfer::tok {

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const gguf::GgufFile& file,
                                                        const TokenizerOptions& options) {
  const Result<std::string> model = file.get_string("tokenizer.ggml.model");
  if (!model.ok()) return model.error();
  if (*model == "gpt2" || *model == "gemma4") {
    ZINFER_ASSIGN_OR_RETURN(std::unique_ptr<BpeTokenizer> bpe,
                            BpeTokenizer::from_gguf(file, options.pre_override));
    return std::unique_ptr<Tokenizer>(std::move(bpe));
  }
  if (*model == "llama") {
    ZINFER_ASSIGN_OR_RETURN(std::unique_ptr<SpmTokenizer> spm, SpmTokenizer::from_gguf(file));
    return std::unique_ptr<Tokenizer>(std::move(spm));
  }
  return make_error(
      ErrorCode::kModelLoadFailed,
      "tokenizer.ggml.model '" + *model + "' is not supported (supported: gpt2, gemma4, llama)");
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids, bool render_special) const {
  std::string out;
  for (std::int32_t id : ids) out += token_to_piece(id, render_special);
  return out;
}

bool Tokenizer::is_eog(std::int32_t id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

Result<std::string> Tokenizer::apply_chat_template(const std::vector<ChatMessage>& messages,
                                                   bool add_generation_prompt) const {
  const std::string bos =
      bos_id_ >= 0 && bos_id_ < vocab_size() ? token_text(bos_id_) : std::string();
  const std::string eos =
      eos_id_ >= 0 && eos_id_ < vocab_size() ? token_text(eos_id_) : std::string();
  return format_chat(chat_template_, messages, add_generation_prompt, bos, eos);
}

Result<std::vector<std::int32_t>> Tokenizer::encode_chat(const std::vector<ChatMessage>& messages,
                                                         bool add_generation_prompt) const {
  if (chat_is_harmony()) {
    const HarmonyOptions options;
    ZINFER_RETURN_IF_ERROR(check_harmony_messages(options, messages));
    return encode_harmony(*this, render_harmony(options, messages, add_generation_prompt));
  }
  ZINFER_ASSIGN_OR_RETURN(std::string text, apply_chat_template(messages, add_generation_prompt));
  return encode(text, /*add_special=*/false, /*parse_special=*/true);
}

bool Tokenizer::chat_is_harmony() const {
  const auto info = detect_chat_template(chat_template_);
  return info && info->family == ChatTemplateFamily::kHarmony;
}

}  // namespace zinfer::tok
