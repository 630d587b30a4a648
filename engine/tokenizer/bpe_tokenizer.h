// BpeTokenizer: BPE as llama.cpp tokenizes it: special tokens split out first, then the
// model's pre-tokenizer (pre_tokenizer.h), then merges by rank inside each word. Byte-level
// vocabularies (tokenizer.ggml.model = "gpt2") merge over the GPT-2 byte alphabet;
// SentencePiece-style ones ("gemma4") over UTF-8 characters, with spaces written as U+2581
// and <0xXX> tokens for bytes no merge covers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/vocab.h"

namespace zinfer::tok {

// Everything a byte-level BPE tokenizer is built from (the GGUF tokenizer.ggml.* keys).
struct BpeSpec {
  std::vector<std::string> tokens;  // tokenizer.ggml.tokens
  std::vector<TokenType> types;     // tokenizer.ggml.token_type (empty: all normal)
  std::vector<std::string> merges;  // tokenizer.ggml.merges, "left right", rank = index
  std::string pre;                  // tokenizer.ggml.pre ("" → llama.cpp's default, warned)
  SpecialTokenKeys special;         // tokenizer.ggml.*_token_id, add_bos/add_eos_token
  std::string chat_template;        // tokenizer.chat_template
};

class BpeTokenizer final : public VocabTokenizer {
 public:
  // pre_override, when set, replaces the file's tokenizer.ggml.pre.
  static Result<std::unique_ptr<BpeTokenizer>> from_gguf(const gguf::GgufFile& file,
                                                         const std::string& pre_override = {});
  static Result<std::unique_ptr<BpeTokenizer>> create(BpeSpec spec);

  std::vector<std::int32_t> encode(std::string_view text, bool add_special,
                                   bool parse_special) const override;
  std::vector<std::int32_t> encode_ordinary(std::string_view text) const override;
  std::string token_to_piece(std::int32_t id, bool render_special) const override;

  const PreTokenizer& pre_tokenizer() const { return pre_; }

 private:
  friend class VocabTokenizer;  // build()
  // Merge of two adjacent symbols (ids; ids >= vocab size name merge results that are not
  // vocab tokens, see extra_texts_).
  struct MergeInfo {
    std::int32_t rank;
    std::int32_t result;
  };

  BpeTokenizer() = default;
  Status init(const BpeSpec& spec);  // everything but the vocab, which is set first
  Status build_merges(const std::vector<std::string>& merges);
  std::int32_t intern(std::string_view text);
  const MergeInfo* find_merge(std::int32_t left, std::int32_t right) const;
  // Encodes one pre-tokenized word (raw bytes) and appends its ids.
  void encode_word(std::string_view word, std::vector<std::int32_t>& out) const;
  void encode_raw(std::string_view text, std::vector<std::int32_t>& out) const;
  // Symbol id of one UTF-8 character (SentencePiece-style vocabs), or kNoSymbol.
  std::int32_t char_symbol(std::string_view text) const;
  // Byte-level text of a symbol id (vocab token or interned merge result).
  const std::string& symbol_text(std::int32_t id) const;

  PreTokenizer pre_;
  std::int32_t byte_symbol_[256] = {};  // byte-level vocabs: symbol id of each raw byte
  std::int32_t byte_token_[256] = {};   // id of the <0xXX> token of each byte (-1: none)
  // Open-addressing table keyed by (left << 32 | right); empty slots have key kEmptyKey.
  std::vector<std::uint64_t> merge_keys_;
  std::vector<MergeInfo> merge_values_;
  std::uint64_t merge_mask_ = 0;
  std::vector<std::string> extra_texts_;  // symbol id vocab_size() + k has text extra_texts_[k]
  std::unordered_map<std::string, std::int32_t> extra_lookup_;
  std::vector<std::string> pieces_;  // token_to_piece(id, render_special=true)
};

}  // namespace zinfer::tok
