// Pre-tokenizers of BPE models: how text is cut into words before BPE merges, one table row
// per pre-tokenizer (its regexes, applied in order as a chain of Split steps with behaviour
// "isolated", and llama.cpp's flags for it), and the tokenizer.ggml.pre names that select
// each row. The regexes are the upstream tokenizers' own (tokenizer.json), the names and
// flags those of llama.cpp's llama_vocab::load. An unknown name is an error: guessing a
// pre-tokenizer silently produces wrong token ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.h"
#include "engine/tokenizer/split_regex.h"

namespace zinfer::tok {

// One pre-tokenizer: what llama.cpp calls a LLAMA_VOCAB_PRE_TYPE.
struct PreTokenizerRules {
  std::string_view id;                        // e.g. "qwen35"; also accepted as a name
  std::span<const std::string_view> regexes;  // Split steps, in order
  bool ignore_merges = false;      // a word that is itself a token is emitted without merging
  bool add_bos = false;            // default of tokenizer.ggml.add_bos_token
  bool byte_encode = true;         // GPT-2 byte-level alphabet; false: raw UTF-8 with <0xXX>
                                   // byte-fallback tokens (SentencePiece-style BPE)
  bool escape_whitespace = false;  // ' ' → U+2581 before splitting (SentencePiece-style)
  bool newline_words = false;      // a word of only '\n' that is a token stays whole (Gemma 4)
  bool force_add_bos = false;      // add BOS even when the file says not to (Gemma 4)
  std::int32_t default_bos = 11;   // llama.cpp's ids when the file has none (-1: none)
  std::int32_t default_eos = 11;
};

class PreTokenizer {
 public:
  // The pre-tokenizer a tokenizer.ggml.pre value names. kModelLoadFailed naming the value
  // and listing every supported name when it is unknown.
  static Result<PreTokenizer> from_name(std::string_view name);
  // Every accepted tokenizer.ggml.pre value, comma-separated.
  static std::string supported_names();
  // llama.cpp's pre-tokenizer for a BPE file without tokenizer.ggml.pre ("default").
  static constexpr std::string_view kDefaultName = "default";

  const PreTokenizerRules& rules() const { return *rules_; }
  const std::string& name() const { return name_; }

  // Splits code points into words; appends the end offset (exclusive, in code points) of
  // each word to word_ends, in order. Every code point belongs to exactly one word.
  void split(std::span<const std::uint32_t> cps, std::vector<std::size_t>& word_ends) const;

 private:
  const PreTokenizerRules* rules_ = nullptr;
  std::string name_;
  std::shared_ptr<const std::vector<SplitRegex>> regexes_;  // compiled rules_->regexes
};

}  // namespace zinfer::tok
