// Tokenizer interface built from GGUF metadata (tokenizer.ggml.*), and the incremental
// detokenizer. Implementations: BPE (tokenizer.ggml.model = "gpt2", byte-level, or
// "gemma4", SentencePiece-style; bpe_tokenizer.h) and SentencePiece ("llama",
// spm_tokenizer.h). Behaviour follows
// llama.cpp's tokenizer, which the tests use as the reference.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"

namespace zinfer::tok {

// tokenizer.ggml.token_type values (llama_token_type).
enum class TokenType : std::int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// How a tokenizer is built besides what the file says.
struct TokenizerOptions {
  std::string pre_override;  // used instead of tokenizer.ggml.pre when set (experts only: a
                             // wrong pre-tokenizer silently changes token ids)
};

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Builds the tokenizer a GGUF file describes; kModelLoadFailed naming the key on error,
  // and for a tokenizer model or pre-tokenizer this code does not know.
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const gguf::GgufFile& file,
                                                      const TokenizerOptions& options = {});

  // Encodes text. add_special: prepend BOS / append EOS where the model's flags say so.
  // parse_special: text such as "<|im_start|>" becomes the control token (as llama.cpp's
  // llama_tokenize(..., parse_special=true)); otherwise it is tokenized as plain text.
  virtual std::vector<std::int32_t> encode(std::string_view text, bool add_special,
                                           bool parse_special) const = 0;
  // Encodes text as ordinary text only: no BOS/EOS and no special token at all — not even the
  // user-defined ones that encode(..., parse_special = false) still matches, as llama.cpp
  // does (gpt-oss's <|start|>, <|message|>, ...). What tiktoken's encode_ordinary does; the
  // harmony renderer encodes message content with it.
  virtual std::vector<std::int32_t> encode_ordinary(std::string_view text) const {
    return encode(text, false, false);
  }
  // Bytes of one token as text (byte-level BPE mapped back to raw bytes; control tokens
  // render as their text only when render_special is true, else as "").
  virtual std::string token_to_piece(std::int32_t id, bool render_special) const = 0;
  // Concatenated pieces; may contain incomplete UTF-8 at the end.
  std::string decode(std::span<const std::int32_t> ids, bool render_special) const;

  virtual std::int32_t vocab_size() const = 0;
  virtual TokenType token_type(std::int32_t id) const = 0;
  virtual const std::string& token_text(std::int32_t id) const = 0;  // as stored in the vocab

  std::int32_t bos_id() const { return bos_id_; }
  std::int32_t eos_id() const { return eos_id_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  // End-of-generation: EOS, EOT and the model's other end-of-turn tokens (e.g. <|im_end|>).
  bool is_eog(std::int32_t id) const;
  const std::vector<std::int32_t>& eog_ids() const { return eog_ids_; }

  // Formats messages with the model's chat template (tokenizer.chat_template), recognised
  // by family (ChatML, Llama-3, Gemma, Phi-3; chat_template.h) and rendered exactly as its
  // Jinja source would with bos_token / eos_token = the BOS / EOS token's text. Encode the
  // result with parse_special = true and add_special = false. kInvalidParameter if the model
  // has no template of a family we know, or the template rejects the messages (Gemma: roles
  // must alternate user/assistant).
  Result<std::string> apply_chat_template(const std::vector<ChatMessage>& messages,
                                          bool add_generation_prompt) const;
  const std::string& chat_template() const { return chat_template_; }
  // The chat prompt as token ids: apply_chat_template's text encoded with parse_special =
  // true and add_special = false — except for the harmony format (gpt-oss), rendered piece by
  // piece (harmony.h) so that special-token text typed inside a message stays text, as
  // openai-harmony renders it. Same errors as apply_chat_template.
  Result<std::vector<std::int32_t>> encode_chat(const std::vector<ChatMessage>& messages,
                                                bool add_generation_prompt) const;
  // Whether the chat template is the harmony format: generated text then carries channels
  // (harmony.h's HarmonyParser splits the answer from the reasoning).
  bool chat_is_harmony() const;

 protected:
  std::int32_t bos_id_ = -1;
  std::int32_t eos_id_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
  std::vector<std::int32_t> eog_ids_;
  std::string chat_template_;
};

// Turns a stream of token ids into text that is always complete UTF-8: bytes of a
// character split across tokens are held back until the character is complete.
class IncrementalDetokenizer {
 public:
  explicit IncrementalDetokenizer(const Tokenizer& tok, bool render_special = false)
      : tok_(tok), render_special_(render_special) {}
  // Returns the newly completed text (possibly empty).
  std::string push(std::int32_t id);
  // Returns whatever is held back (an incomplete trailing sequence becomes one U+FFFD) and
  // resets the state.
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool render_special_;
  std::string pending_;
};

}  // namespace zinfer::tok
