// BpeTokenizer: byte-level BPE (tokenizer.ggml.model = "gpt2"), matching llama.cpp's
// tokenization: special tokens split out first, then the model's pre-tokenizer, then merges
// by rank inside each word over the GPT-2 byte alphabet.
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
  std::string pre;                  // tokenizer.ggml.pre
  SpecialTokenKeys special;         // tokenizer.ggml.*_token_id, add_bos/add_eos_token
  std::string chat_template;        // tokenizer.chat_template
};

class BpeTokenizer final : public Tokenizer {
 public:
  static Result<std::unique_ptr<BpeTokenizer>> from_gguf(const gguf::GgufFile& file);
  static Result<std::unique_ptr<BpeTokenizer>> create(BpeSpec spec);

  std::vector<std::int32_t> encode(std::string_view text, bool add_special,
                                   bool parse_special) const override;
  std::string token_to_piece(std::int32_t id, bool render_special) const override;
  std::int32_t vocab_size() const override { return vocab_.size(); }
  TokenType token_type(std::int32_t id) const override;
  const std::string& token_text(std::int32_t id) const override;

  PreTokenizerKind pre_tokenizer() const { return pre_.kind; }
  const Vocab& vocab() const { return vocab_; }

 private:
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
  // Byte-level text of a symbol id (vocab token or interned merge result).
  const std::string& symbol_text(std::int32_t id) const;

  Vocab vocab_;
  PreTokenizerConfig pre_;
  std::int32_t byte_symbol_[256] = {};  // symbol id of each raw byte (-1: not in vocab)
  // Open-addressing table keyed by (left << 32 | right); empty slots have key kEmptyKey.
  std::vector<std::uint64_t> merge_keys_;
  std::vector<MergeInfo> merge_values_;
  std::uint64_t merge_mask_ = 0;
  std::vector<std::string> extra_texts_;  // symbol id vocab_size() + k has text extra_texts_[k]
  std::unordered_map<std::string, std::int32_t> extra_lookup_;
  std::vector<std::string> pieces_;  // token_to_piece(id, render_special=true)
};

}  // namespace zinfer::tok
