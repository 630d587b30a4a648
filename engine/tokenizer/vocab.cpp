// Vocab (see vocab.h). The special-token rules follow llama.cpp's llama_vocab::load so that
// the same GGUF yields the same BOS/EOS/EOG ids and the same special-token matching.
#include "engine/tokenizer/vocab.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace zinfer::tok {
namespace {

constexpr const char* kTokensKey = "tokenizer.ggml.tokens";
constexpr const char* kTypesKey = "tokenizer.ggml.token_type";

std::uint32_t attr_from_type(TokenType t) {
  switch (t) {
    case TokenType::kNormal:
      return kAttrNormal;
    case TokenType::kUnknown:
      return kAttrUnknown;
    case TokenType::kControl:
      return kAttrControl;
    case TokenType::kUserDefined:
      return kAttrUserDefined;
    case TokenType::kUnused:
      return kAttrUnused;
    case TokenType::kByte:
      return kAttrByte;
    case TokenType::kUndefined:
      return kAttrUndefined;
  }
  return kAttrUndefined;
}

// Texts llama.cpp treats as end-of-turn / end-of-generation (llama-vocab.cpp, "auto-detect
// special tokens by text"). Kept as data so new families are one line.
constexpr std::array<std::string_view, 11> kEotTexts = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "<end_of_utterance>"};
constexpr std::array<std::string_view, 22> kEogTexts = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "[e~["};
constexpr std::array<std::string_view, 5> kFimPadTexts = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>",
                                                          "<PAD>", "[PAD]"};
constexpr std::array<std::string_view, 5> kFimRepTexts = {"<|fim_repo|>", "<|repo_name|>",
                                                          "<fim-repo>", "<REPO>", "<reponame>"};
constexpr std::array<std::string_view, 1> kFimSepTexts = {"<|file_sep|>"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

Result<std::optional<std::int64_t>> optional_id(const gguf::GgufFile& file, std::string_view key) {
  if (!file.has(key)) return std::optional<std::int64_t>();
  ZINFER_ASSIGN_OR_RETURN(std::int64_t v, file.get_i64(key));
  return std::optional<std::int64_t>(v);
}

Result<std::optional<bool>> optional_flag(const gguf::GgufFile& file, std::string_view key) {
  if (!file.has(key)) return std::optional<bool>();
  ZINFER_ASSIGN_OR_RETURN(bool v, file.get_bool(key));
  return std::optional<bool>(v);
}

}  // namespace

Result<SpecialTokenKeys> SpecialTokenKeys::from_gguf(const gguf::GgufFile& file) {
  SpecialTokenKeys k;
  ZINFER_ASSIGN_OR_RETURN(k.bos, optional_id(file, "tokenizer.ggml.bos_token_id"));
  ZINFER_ASSIGN_OR_RETURN(k.eos, optional_id(file, "tokenizer.ggml.eos_token_id"));
  ZINFER_ASSIGN_OR_RETURN(k.eot, optional_id(file, "tokenizer.ggml.eot_token_id"));
  ZINFER_ASSIGN_OR_RETURN(k.eom, optional_id(file, "tokenizer.ggml.eom_token_id"));
  ZINFER_ASSIGN_OR_RETURN(k.unk, optional_id(file, "tokenizer.ggml.unknown_token_id"));
  ZINFER_ASSIGN_OR_RETURN(k.pad, optional_id(file, "tokenizer.ggml.padding_token_id"));
  ZINFER_ASSIGN_OR_RETURN(k.fim_pad, optional_id(file, "tokenizer.ggml.fim_pad_token_id"));
  ZINFER_ASSIGN_OR_RETURN(k.fim_rep, optional_id(file, "tokenizer.ggml.fim_rep_token_id"));
  ZINFER_ASSIGN_OR_RETURN(k.fim_sep, optional_id(file, "tokenizer.ggml.fim_sep_token_id"));
  ZINFER_ASSIGN_OR_RETURN(k.add_bos, optional_flag(file, "tokenizer.ggml.add_bos_token"));
  ZINFER_ASSIGN_OR_RETURN(k.add_eos, optional_flag(file, "tokenizer.ggml.add_eos_token"));
  return k;
}

Result<Vocab> Vocab::from_gguf(const gguf::GgufFile& file) {
  const gguf::MetaValue* toks = file.find(kTokensKey);
  if (toks == nullptr)
    return make_error(ErrorCode::kModelLoadFailed, std::string(kTokensKey) + " is missing");
  if (toks->type != gguf::ValueType::kArray || toks->elem_type != gguf::ValueType::kString) {
    return make_error(ErrorCode::kModelLoadFailed,
                      std::string(kTokensKey) + " must be an array of strings");
  }
  std::vector<std::string> texts;
  texts.reserve(toks->arr.size());
  for (const gguf::MetaValue& v : toks->arr) texts.push_back(v.s);

  std::vector<TokenType> types;
  if (file.has(kTypesKey)) {
    ZINFER_ASSIGN_OR_RETURN(std::vector<std::int32_t> raw, file.get_i32_array(kTypesKey));
    if (raw.size() < texts.size()) {
      return make_error(ErrorCode::kModelLoadFailed,
                        std::string(kTypesKey) + " has " + std::to_string(raw.size()) +
                            " entries for " + std::to_string(texts.size()) + " tokens");
    }
    types.reserve(texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
      // Unknown values read as undefined, as llama.cpp does.
      types.push_back(raw[i] >= 0 && raw[i] <= 6 ? static_cast<TokenType>(raw[i])
                                                 : TokenType::kUndefined);
    }
  }
  return from_tokens(std::move(texts), std::move(types));
}

Result<Vocab> Vocab::from_tokens(std::vector<std::string> texts, std::vector<TokenType> types) {
  if (texts.empty())
    return make_error(ErrorCode::kModelLoadFailed, std::string(kTokensKey) + " is empty");
  if (texts.size() > static_cast<std::size_t>(INT32_MAX)) {
    return make_error(ErrorCode::kModelLoadFailed,
                      std::string(kTokensKey) + " has too many tokens");
  }
  if (!types.empty() && types.size() != texts.size()) {
    return make_error(ErrorCode::kModelLoadFailed,
                      std::string(kTypesKey) + " size differs from the token count");
  }
  Vocab v;
  v.texts_ = std::move(texts);
  v.types_ = types.empty() ? std::vector<TokenType>(v.texts_.size(), TokenType::kNormal)
                           : std::move(types);
  v.attrs_.resize(v.texts_.size());
  for (std::size_t i = 0; i < v.texts_.size(); ++i) v.attrs_[i] = attr_from_type(v.types_[i]);
  v.build_lookup();
  return v;
}

void Vocab::build_lookup() {
  const std::size_t duplicates = lookup_.build(texts_);
  if (duplicates > 0)
    spdlog::warn("tokenizer: {} duplicated token texts; the lowest id wins", duplicates);
}

std::int32_t Vocab::find(std::string_view text) const { return lookup_.find(text, texts_); }

Result<SpecialTokens> Vocab::resolve_specials(const SpecialTokenKeys& keys,
                                              const SpecialTokens& defaults) {
  SpecialTokens s = defaults;
  s.eog.clear();
  struct Slot {
    const char* key;
    const std::optional<std::int64_t>& value;
    std::int32_t* id;
  };
  std::int32_t fim_pad = -1, fim_rep = -1, fim_sep = -1;
  const Slot slots[] = {
      {"tokenizer.ggml.bos_token_id", keys.bos, &s.bos},
      {"tokenizer.ggml.eos_token_id", keys.eos, &s.eos},
      {"tokenizer.ggml.eot_token_id", keys.eot, &s.eot},
      {"tokenizer.ggml.eom_token_id", keys.eom, &s.eom},
      {"tokenizer.ggml.unknown_token_id", keys.unk, &s.unk},
      {"tokenizer.ggml.padding_token_id", keys.pad, &s.pad},
      {"tokenizer.ggml.fim_pad_token_id", keys.fim_pad, &fim_pad},
      {"tokenizer.ggml.fim_rep_token_id", keys.fim_rep, &fim_rep},
      {"tokenizer.ggml.fim_sep_token_id", keys.fim_sep, &fim_sep},
  };
  for (const Slot& slot : slots) {
    if (*slot.id >= size()) {
      spdlog::warn("tokenizer: default {} = {} is outside the vocab; disabled", slot.key, *slot.id);
      *slot.id = -1;
    }
    if (!slot.value) continue;
    if (*slot.value < 0 || *slot.value >= size()) {
      spdlog::warn("tokenizer: {} = {} is outside the vocab; keeping {}", slot.key, *slot.value,
                   *slot.id);
      continue;
    }
    *slot.id = static_cast<std::int32_t>(*slot.value);
  }
  if (keys.add_bos) s.add_bos = *keys.add_bos;
  if (keys.add_eos) s.add_eos = *keys.add_eos;
  if (s.add_bos && s.bos < 0) {
    return make_error(
        ErrorCode::kModelLoadFailed,
        "tokenizer.ggml.add_bos_token is true but tokenizer.ggml.bos_token_id is not set");
  }
  if (s.add_eos && s.eos < 0) {
    return make_error(
        ErrorCode::kModelLoadFailed,
        "tokenizer.ggml.add_eos_token is true but tokenizer.ggml.eos_token_id is not set");
  }

  // Tokens found by text must behave as control tokens (only parsed with parse_special,
  // rendered only with render_special) even if the converter typed them otherwise.
  auto mark_control = [&](std::int32_t id) {
    if ((attrs_[id] & kAttrControl) == 0) {
      spdlog::warn(
          "tokenizer: control-looking token {} '{}' was not control-type; treating it as control",
          id, text(id));
      attrs_[id] |= kAttrControl;
    }
  };
  // llama.cpp picks the first match of an unordered_map walk here; we take the lowest id
  // so that the result does not depend on hashing. The EOG set below is the same either way.
  for (std::int32_t id = 0; id < size(); ++id) {
    const std::string_view t = text(id);
    if (s.eot < 0 && contains(kEotTexts, t)) {
      s.eot = id;
      mark_control(id);
    }
    if (s.eom < 0 && t == "<|eom_id|>") {
      s.eom = id;
      mark_control(id);
    }
    if (fim_pad < 0 && contains(kFimPadTexts, t)) {
      fim_pad = id;
      mark_control(id);
    }
    if (fim_rep < 0 && contains(kFimRepTexts, t)) {
      fim_rep = id;
      mark_control(id);
    }
    if (fim_sep < 0 && contains(kFimSepTexts, t)) {
      fim_sep = id;
      mark_control(id);
    }
  }
  // Control tokens whose text says "unused" are unused (llama.cpp).
  for (std::int32_t id = 0; id < size(); ++id) {
    if ((attrs_[id] & kAttrControl) != 0 && text(id).find("unused") != std::string::npos)
      attrs_[id] |= kAttrUnused;
  }

  std::vector<std::int32_t> eog;
  for (std::int32_t id : {fim_pad, fim_rep, fim_sep}) {
    if (id >= 0) eog.push_back(id);
  }
  for (std::int32_t id = 0; id < size(); ++id) {
    if (contains(kEogTexts, text(id))) {
      eog.push_back(id);
      mark_control(id);
    }
  }
  for (std::int32_t id : {s.eos, s.eot, s.eom}) {
    if (id >= 0) eog.push_back(id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());

  // gpt-oss / solar-open style vocabs: "<|end|>" ends a message, not the generation.
  auto eog_has = [&](std::string_view t) {
    return std::any_of(eog.begin(), eog.end(), [&](std::int32_t id) { return text(id) == t; });
  };
  if (((eog_has("<|return|>") && eog_has("<|call|>")) ||
       (eog_has("<|calls|>") && eog_has("<|flush|>"))) &&
      eog_has("<|end|>")) {
    auto it = std::find_if(eog.begin(), eog.end(),
                           [&](std::int32_t id) { return text(id) == "<|end|>"; });
    attrs_[*it] = kAttrUserDefined;
    eog.erase(it);
  }
  // Gemma 4 style vocabs: "</s>" is an ordinary token there.
  if (eog_has("<|tool_response>") && eog_has("</s>")) {
    auto it =
        std::find_if(eog.begin(), eog.end(), [&](std::int32_t id) { return text(id) == "</s>"; });
    attrs_[*it] = kAttrNormal;
    eog.erase(it);
  }
  s.eog = std::move(eog);

  // gpt-oss (harmony) structural tokens are always parsed and rendered, as in llama.cpp.
  for (std::string_view t : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    if (const std::int32_t id = find(t); id >= 0) attrs_[id] = kAttrUserDefined;
  }

  special_by_length_.clear();
  for (std::int32_t id = 0; id < size(); ++id) {
    if ((attrs_[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) != 0 && !text(id).empty()) {
      special_by_length_.push_back(id);
    }
  }
  // Longest first; ties by id so the order is deterministic.
  std::stable_sort(special_by_length_.begin(), special_by_length_.end(),
                   [&](std::int32_t a, std::int32_t b) { return text(a).size() > text(b).size(); });
  return s;
}

namespace {

// Set of the 4-byte windows of a text, as bits of a 2^20-bit table: a token of 4 or more
// bytes can occur in the text only if its first and last 4 bytes are both windows of it.
// Gemma has ~6,400 special tokens; this turns most of the per-token scans of the text into
// two bit tests.
class WindowSet {
 public:
  explicit WindowSet(std::string_view text) : text_(text) {
    bits_.resize(kWords);  // zero on first use in this thread, cleared again by the destructor
    for (std::size_t i = 0; i + 4 <= text_.size(); ++i) {
      const std::uint32_t h = hash(text_.data() + i);
      bits_[h >> 6] |= std::uint64_t{1} << (h & 63);
    }
  }
  ~WindowSet() {
    for (std::size_t i = 0; i + 4 <= text_.size(); ++i) bits_[hash(text_.data() + i) >> 6] = 0;
  }
  WindowSet(const WindowSet&) = delete;
  WindowSet& operator=(const WindowSet&) = delete;

  // False only if `tok` (>= 4 bytes) cannot occur in the text.
  bool may_contain(std::string_view tok) const {
    return has(tok.data()) && has(tok.data() + tok.size() - 4);
  }

 private:
  static constexpr std::size_t kWords = (std::size_t{1} << 20) / 64;
  static std::uint32_t hash(const char* p) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    return (w * 0x9E3779B1u) >> 12;
  }
  bool has(const char* p) const {
    const std::uint32_t h = hash(p);
    return (bits_[h >> 6] >> (h & 63)) & 1;
  }

  std::string_view text_;
  static thread_local std::vector<std::uint64_t> bits_;
};

thread_local std::vector<std::uint64_t> WindowSet::bits_;

}  // namespace

std::vector<TextFragment> Vocab::partition(std::string_view text, bool parse_special) const {
  std::vector<TextFragment> frags;
  if (text.empty()) return frags;
  frags.push_back({0, text.size(), -1});
  std::vector<TextFragment> next;
  const WindowSet windows(text);
  for (std::int32_t id : special_by_length_) {
    const std::uint32_t a = attrs_[id];
    if (!parse_special && (a & (kAttrControl | kAttrUnknown)) != 0) continue;
    const std::string_view tok = texts_[id];
    // Cheap reject: most texts contain few or no special tokens.
    if (tok.size() >= 4 && !windows.may_contain(tok)) continue;
    if (text.find(tok) == std::string_view::npos) continue;
    next.clear();
    for (const TextFragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      std::size_t begin = f.offset;
      const std::size_t end = f.offset + f.length;
      while (begin < end) {
        const std::size_t match = text.substr(0, end).find(tok, begin);
        if (match == std::string_view::npos) break;
        std::size_t left_end = match;
        if ((a & kAttrLstrip) != 0) {
          while (left_end > begin && std::isspace(static_cast<unsigned char>(text[left_end - 1])))
            --left_end;
        }
        if (left_end > begin) next.push_back({begin, left_end - begin, -1});
        next.push_back({match, tok.size(), id});
        begin = match + tok.size();
        if ((a & kAttrRstrip) != 0) {
          while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
        }
      }
      if (begin < end) next.push_back({begin, end - begin, -1});
    }
    frags.swap(next);
  }
  return frags;
}

void VocabTokenizer::set_specials(SpecialTokens specials, const std::string& chat_template) {
  bos_id_ = specials.bos;
  eos_id_ = specials.eos;
  add_bos_ = specials.add_bos;
  add_eos_ = specials.add_eos;
  eog_ids_ = std::move(specials.eog);
  chat_template_ = chat_template;
}

TokenType VocabTokenizer::token_type(std::int32_t id) const {
  return vocab_.valid_id(id) ? vocab_.type(id) : TokenType::kUndefined;
}

const std::string& VocabTokenizer::token_text(std::int32_t id) const {
  static const std::string kEmpty;
  return vocab_.valid_id(id) ? vocab_.text(id) : kEmpty;
}

}  // namespace zinfer::tok
