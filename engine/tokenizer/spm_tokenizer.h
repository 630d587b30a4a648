// SpmTokenizer: SentencePiece-style BPE over a scored vocabulary (tokenizer.ggml.model =
// "llama": Llama 2, Mistral, Phi-3, Gemma), matching llama.cpp's SPM tokenizer: special tokens
// are split out first, spaces become U+2581 ("▁", with one prepended where the vocab adds a
// space prefix), then the adjacent pair whose concatenation is the highest-scoring vocab token
// is merged until no pair is a token; characters no token covers fall back to <0xXX> tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/vocab.h"

namespace zinfer::tok {

// Everything an SPM tokenizer is built from (the GGUF tokenizer.ggml.* keys).
struct SpmSpec {
  std::vector<std::string> tokens;       // tokenizer.ggml.tokens
  std::vector<float> scores;             // tokenizer.ggml.scores (empty: all 0)
  std::vector<TokenType> types;          // tokenizer.ggml.token_type (empty: all normal)
  SpecialTokenKeys special;              // tokenizer.ggml.*_token_id, add_bos/add_eos_token
  std::optional<bool> add_space_prefix;  // tokenizer.ggml.add_space_prefix (absent: true)
  std::string model_name;                // general.name (Phi-3 special tokens strip right)
  std::string chat_template;             // tokenizer.chat_template
};

class SpmTokenizer final : public VocabTokenizer {
 public:
  static Result<std::unique_ptr<SpmTokenizer>> from_gguf(const gguf::GgufFile& file);
  static Result<std::unique_ptr<SpmTokenizer>> create(SpmSpec spec);

  std::vector<std::int32_t> encode(std::string_view text, bool add_special,
                                   bool parse_special) const override;
  // Normal tokens with "▁" → " ", byte tokens → their byte, control / user-defined / unknown
  // tokens → their text (control and unknown only when render_special), others → "".
  std::string token_to_piece(std::int32_t id, bool render_special) const override;

  // llama.cpp's llama_detokenize: the pieces joined, with the first piece's leading space
  // dropped when the vocab adds a space prefix. remove_special drops a leading BOS (then the
  // space is kept) and a trailing EOS where the model adds them.
  std::string detokenize(std::span<const std::int32_t> ids, bool remove_special,
                         bool render_special) const;

  bool add_space_prefix() const { return add_space_prefix_; }
  float score(std::int32_t id) const;

 private:
  friend class VocabTokenizer;  // build()
  SpmTokenizer() = default;
  Status init(SpmSpec& spec);  // everything but the vocab, which is set first
  // Tokenizes one fragment of raw text (no special tokens in it) and appends its ids.
  void encode_raw(std::string_view text, bool space_prefix, std::vector<std::int32_t>& out) const;

  std::vector<float> scores_;  // [vocab size]
  bool add_space_prefix_ = true;
  std::int32_t unk_id_ = -1;  // stands in for a byte that has no token
  // Fallback token of each byte: "<0xXX>", else the token whose text is that byte, else -1.
  std::int32_t byte_token_[256] = {};
};

}  // namespace zinfer::tok
