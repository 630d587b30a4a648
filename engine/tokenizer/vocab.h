// Vocab: the token table shared by every tokenizer family (texts, GGUF token types and the
// attribute bits llama.cpp derives from them), special-token ids and flags, the
// end-of-generation set, and the split of raw text around special-token text.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/string_id_map.h"
#include "engine/tokenizer/tokenizer.h"

namespace zinfer::tok {

// Attribute bits of a token (llama.cpp's llama_token_attr). Start from the GGUF token type;
// end-of-turn tokens found by their text gain kAttrControl, as in llama.cpp.
enum TokenAttr : std::uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,  // special-token match swallows ASCII spaces on its left
  kAttrRstrip = 1u << 8,  // ... and on its right
};

// tokenizer.ggml.* special-token keys as found in the file (nullopt: key absent).
struct SpecialTokenKeys {
  std::optional<std::int64_t> bos, eos, eot, eom, unk, pad, fim_pad, fim_rep, fim_sep;
  std::optional<bool> add_bos, add_eos;

  // A present key of the wrong type is kModelLoadFailed naming the key.
  static Result<SpecialTokenKeys> from_gguf(const gguf::GgufFile& file);
};

// Resolved special tokens (-1: none).
struct SpecialTokens {
  std::int32_t bos = -1;
  std::int32_t eos = -1;
  std::int32_t eot = -1;
  std::int32_t eom = -1;
  std::int32_t unk = -1;
  std::int32_t pad = -1;
  bool add_bos = false;
  bool add_eos = false;
  std::vector<std::int32_t> eog;  // sorted, unique
};

// A piece of input text: raw text to run through the model's tokenizer, or one special
// token matched by its text.
struct TextFragment {
  std::size_t offset = 0;
  std::size_t length = 0;
  std::int32_t token = -1;  // >= 0: a special token; -1: raw text [offset, offset+length)
};

class Vocab {
 public:
  Vocab() = default;

  // Reads tokenizer.ggml.tokens and tokenizer.ggml.token_type (optional; all normal if absent).
  static Result<Vocab> from_gguf(const gguf::GgufFile& file);
  // From plain arrays; types may be empty (all normal) or one per token.
  static Result<Vocab> from_tokens(std::vector<std::string> texts, std::vector<TokenType> types);

  std::int32_t size() const { return static_cast<std::int32_t>(texts_.size()); }
  bool valid_id(std::int32_t id) const { return id >= 0 && id < size(); }
  const std::string& text(std::int32_t id) const { return texts_[static_cast<std::size_t>(id)]; }
  TokenType type(std::int32_t id) const { return types_[static_cast<std::size_t>(id)]; }
  std::uint32_t attr(std::int32_t id) const { return attrs_[static_cast<std::size_t>(id)]; }
  void set_attr(std::int32_t id, std::uint32_t attr) {
    attrs_[static_cast<std::size_t>(id)] = attr;
  }
  // Token whose text is exactly `text`, or -1.
  std::int32_t find(std::string_view text) const;

  // Resolves special tokens the way llama.cpp does: file keys over the model family's
  // defaults (an id outside the vocab is ignored with a warning), EOT/EOM/FIM tokens found
  // by text, the end-of-generation set, and control-looking tokens marked control. Also
  // builds the list partition() matches. kModelLoadFailed if add_bos/add_eos is set while
  // that token is missing.
  Result<SpecialTokens> resolve_specials(const SpecialTokenKeys& keys,
                                         const SpecialTokens& defaults);

  // Splits text around special-token text (llama.cpp's tokenizer_st_partition): tokens are
  // tried longest first, each splitting every raw fragment at all its occurrences. Control
  // and unknown tokens are matched only when parse_special is true; user-defined always.
  std::vector<TextFragment> partition(std::string_view text, bool parse_special) const;

 private:
  void build_lookup();

  std::vector<std::string> texts_;
  std::vector<TokenType> types_;
  std::vector<std::uint32_t> attrs_;
  StringIdMap lookup_;                           // ids index texts_
  std::vector<std::int32_t> special_by_length_;  // control/user-defined/unknown, longest first
};

// 0..15 for a hexadecimal digit (either case), -1 for any other character: the digits of
// "<0xAB>" byte tokens.
inline int hex_digit_value(char c) {
  return (c >= '0' && c <= '9')   ? c - '0'
         : (c >= 'A' && c <= 'F') ? c - 'A' + 10
         : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                  : -1;
}

// What the BPE and SentencePiece tokenizers share: the vocabulary and the per-token queries
// answered from it.
class VocabTokenizer : public Tokenizer {
 public:
  std::int32_t vocab_size() const final { return vocab_.size(); }
  TokenType token_type(std::int32_t id) const final;           // kUndefined outside the vocab
  const std::string& token_text(std::int32_t id) const final;  // "" outside the vocab
  const Vocab& vocab() const { return vocab_; }

 protected:
  // The resolved special ids and flags, and the chat template, as Tokenizer reports them.
  void set_specials(SpecialTokens specials, const std::string& chat_template);

  // A T (which befriends this class) with the given vocabulary, then T::init(spec) for the
  // rest of what its spec holds.
  template <typename T, typename Spec>
  static Result<std::unique_ptr<T>> build(const Vocab& vocab, Spec& spec) {
    std::unique_ptr<T> t(new T());
    t->vocab_ = vocab;
    ZINFER_RETURN_IF_ERROR(t->init(spec));
    return t;
  }
  // The same with the vocabulary made from spec.tokens and spec.types.
  template <typename T, typename Spec>
  static Result<std::unique_ptr<T>> build(Spec spec) {
    ZINFER_ASSIGN_OR_RETURN(Vocab vocab,
                            Vocab::from_tokens(std::move(spec.tokens), std::move(spec.types)));
    return build<T>(vocab, spec);
  }

  Vocab vocab_;
};

}  // namespace zinfer::tok
