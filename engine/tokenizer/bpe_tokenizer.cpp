// BpeTokenizer (see bpe_tokenizer.h). Merges run on symbol ids rather than strings: each
// word starts as one symbol per byte, and a hash table maps an adjacent (left, right) pair
// to its rank and merged symbol. A heap orders candidate pairs by (rank, position), the
// order llama.cpp's llm_tokenizer_bpe_session uses, so results are identical.
#include "engine/tokenizer/bpe_tokenizer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/unicode.h"

namespace zinfer::tok {
namespace {

constexpr std::uint64_t kEmptyKey = ~std::uint64_t{0};
constexpr const char* kMergesKey = "tokenizer.ggml.merges";

std::uint64_t pair_key(std::int32_t left, std::int32_t right) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
         static_cast<std::uint32_t>(right);
}

std::uint64_t hash_key(std::uint64_t key) { return (key * 0x9E3779B97F4A7C15ull) ^ (key >> 29); }

// A candidate merge of symbols[left] and symbols[right]; stale once either symbol changed.
struct Bigram {
  std::int32_t rank;
  std::int32_t left;
  std::int32_t right;
  std::int32_t left_id;
  std::int32_t right_id;
  std::int32_t result;
};

// Max-heap comparator that puts the lowest rank, then the leftmost pair, on top.
bool bigram_after(const Bigram& a, const Bigram& b) {
  return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
}

struct Symbol {
  std::int32_t id;  // symbol id; kDead once merged into its left neighbour
  std::int32_t prev;
  std::int32_t next;
};
constexpr std::int32_t kDead = -2;
constexpr std::int32_t kNoSymbol = -3;  // a character that is neither a token nor in a merge

constexpr std::string_view kEscapedSpace = "\xE2\x96\x81";  // U+2581

std::string escape_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == ' ') {
      out += kEscapedSpace;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string unescape_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.substr(i, kEscapedSpace.size()) == kEscapedSpace) {
      out.push_back(' ');
      i += kEscapedSpace.size() - 1;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// "<0xAB>" → 0xAB; -1 for any other text.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int v = 0;
  for (char c : text.substr(3, 2)) {
    const int d = hex_digit_value(c);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::from_gguf(const gguf::GgufFile& file,
                                                              const std::string& pre_override) {
  BpeSpec spec;
  ZINFER_ASSIGN_OR_RETURN(Vocab vocab, Vocab::from_gguf(file));
  const gguf::MetaValue* merges = file.find(kMergesKey);
  if (merges == nullptr)
    return make_error(ErrorCode::kModelLoadFailed, std::string(kMergesKey) + " is missing");
  if (merges->type != gguf::ValueType::kArray || merges->elem_type != gguf::ValueType::kString) {
    return make_error(ErrorCode::kModelLoadFailed,
                      std::string(kMergesKey) + " must be an array of strings");
  }
  spec.merges.reserve(merges->arr.size());
  for (const gguf::MetaValue& m : merges->arr) spec.merges.push_back(m.s);
  ZINFER_ASSIGN_OR_RETURN(spec.pre, file.get_string_or("tokenizer.ggml.pre", ""));
  // llama.cpp: the "gemma4" tokenizer model implies its pre-tokenizer whatever the key says.
  ZINFER_ASSIGN_OR_RETURN(const std::string model, file.get_string("tokenizer.ggml.model"));
  if (model == "gemma4") spec.pre = "gemma4";
  if (!pre_override.empty()) {
    spdlog::warn("tokenizer: pre-tokenizer '{}' chosen by override (the file says '{}')",
                 pre_override, spec.pre);
    spec.pre = pre_override;
  }
  ZINFER_ASSIGN_OR_RETURN(spec.special, SpecialTokenKeys::from_gguf(file));
  ZINFER_ASSIGN_OR_RETURN(spec.chat_template, file.get_string_or("tokenizer.chat_template", ""));
  return build<BpeTokenizer>(vocab, spec);
}

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::create(BpeSpec spec) {
  return build<BpeTokenizer>(std::move(spec));
}

Status BpeTokenizer::init(const BpeSpec& spec) {
  std::string pre_name = spec.pre;
  if (pre_name.empty()) {
    // llama.cpp keeps going with its default split rules; so do we, loudly.
    spdlog::warn(
        "tokenizer: tokenizer.ggml.pre is missing; using llama.cpp's '{}' pre-tokenizer. Token "
        "ids may differ from the model's own tokenizer: regenerate the GGUF or pass "
        "--tokenizer-pre",
        PreTokenizer::kDefaultName);
    pre_name = PreTokenizer::kDefaultName;
  }
  ZINFER_ASSIGN_OR_RETURN(pre_, PreTokenizer::from_name(pre_name));
  const PreTokenizerRules& rules = pre_.rules();
  // llama.cpp's defaults when the file names no BOS/EOS (11 for gpt2-type vocabs).
  SpecialTokens defaults;
  defaults.bos = rules.default_bos;
  defaults.eos = rules.default_eos;
  defaults.add_bos = rules.add_bos;
  defaults.add_eos = false;
  ZINFER_ASSIGN_OR_RETURN(SpecialTokens specials, vocab_.resolve_specials(spec.special, defaults));
  if (rules.force_add_bos && !specials.add_bos) {
    if (specials.bos < 0) {
      return make_error(ErrorCode::kModelLoadFailed,
                        "pre-tokenizer '" + pre_name + "' needs BOS but the file has no BOS id");
    }
    spdlog::warn("tokenizer: tokenizer.ggml.add_bos_token overridden to true for '{}' (llama.cpp)",
                 pre_name);
    specials.add_bos = true;
  }
  set_specials(std::move(specials), spec.chat_template);

  ZINFER_RETURN_IF_ERROR(build_merges(spec.merges));
  for (int b = 0; b < 256; ++b) {
    std::string text;
    append_utf8(text, byte_to_codepoint(static_cast<std::uint8_t>(b)));
    if (rules.byte_encode) byte_symbol_[b] = intern(text);
    static constexpr char kHex[] = "0123456789ABCDEF";
    const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    byte_token_[b] = vocab_.find(std::string_view(name, sizeof(name)));
  }

  pieces_.resize(static_cast<std::size_t>(vocab_.size()));
  for (std::int32_t id = 0; id < vocab_.size(); ++id) {
    const std::uint32_t a = vocab_.attr(id);
    const std::string& text = vocab_.text(id);
    std::string& piece = pieces_[static_cast<std::size_t>(id)];
    if ((a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) != 0) {
      piece = text;
    } else if ((a & kAttrNormal) != 0) {
      piece = rules.byte_encode ? byte_level_to_bytes(text) : unescape_whitespace(text);
    } else if ((a & kAttrByte) != 0) {
      if (const int byte = parse_byte_token(text); byte >= 0)
        piece.push_back(static_cast<char>(byte));
    }  // unused / undefined tokens render as nothing, as in llama.cpp
  }
  return ok_status();
}

std::int32_t BpeTokenizer::intern(std::string_view text) {
  if (const std::int32_t id = vocab_.find(text); id >= 0) return id;
  auto it = extra_lookup_.find(std::string(text));
  if (it != extra_lookup_.end()) return it->second;
  const auto id = static_cast<std::int32_t>(vocab_.size() + extra_texts_.size());
  extra_texts_.emplace_back(text);
  extra_lookup_.emplace(std::string(text), id);
  return id;
}

const std::string& BpeTokenizer::symbol_text(std::int32_t id) const {
  return id < vocab_.size() ? vocab_.text(id)
                            : extra_texts_[static_cast<std::size_t>(id - vocab_.size())];
}

Status BpeTokenizer::build_merges(const std::vector<std::string>& merges) {
  if (merges.size() >= static_cast<std::size_t>(INT32_MAX / 4)) {
    return make_error(ErrorCode::kModelLoadFailed,
                      std::string(kMergesKey) + " has too many entries");
  }
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, merges.size() * 2));
  merge_keys_.assign(capacity, kEmptyKey);
  merge_values_.assign(capacity, MergeInfo{0, 0});
  merge_mask_ = capacity - 1;
  std::size_t malformed = 0;
  std::string joined;
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& m = merges[rank];
    // "left right"; the search starts at 1 so that a left part may itself be a space.
    const std::size_t sp = m.find(' ', 1);
    if (sp == std::string::npos) {
      ++malformed;
      continue;
    }
    const std::string_view left(m.data(), sp);
    const std::string_view right(m.data() + sp + 1, m.size() - sp - 1);
    joined.assign(left);
    joined.append(right);
    const std::int32_t l = intern(left);
    const std::int32_t r = intern(right);
    const std::int32_t result = intern(joined);
    const std::uint64_t key = pair_key(l, r);
    std::uint64_t slot = hash_key(key) & merge_mask_;
    while (merge_keys_[slot] != kEmptyKey && merge_keys_[slot] != key)
      slot = (slot + 1) & merge_mask_;
    if (merge_keys_[slot] == key) continue;  // duplicate pair: the first (lowest) rank wins
    merge_keys_[slot] = key;
    merge_values_[slot] = MergeInfo{static_cast<std::int32_t>(rank), result};
  }
  if (malformed > 0)
    spdlog::warn("tokenizer: {} entries of {} have no space; ignored", malformed, kMergesKey);
  return ok_status();
}

const BpeTokenizer::MergeInfo* BpeTokenizer::find_merge(std::int32_t left,
                                                        std::int32_t right) const {
  const std::uint64_t key = pair_key(left, right);
  std::uint64_t slot = hash_key(key) & merge_mask_;
  while (true) {
    const std::uint64_t k = merge_keys_[slot];
    if (k == key) return &merge_values_[slot];
    if (k == kEmptyKey) return nullptr;
    slot = (slot + 1) & merge_mask_;
  }
}

std::string BpeTokenizer::token_to_piece(std::int32_t id, bool render_special) const {
  if (!vocab_.valid_id(id)) return {};
  if (!render_special && (vocab_.attr(id) & (kAttrUnknown | kAttrControl)) != 0) return {};
  return pieces_[static_cast<std::size_t>(id)];
}

std::vector<std::int32_t> BpeTokenizer::encode(std::string_view text, bool add_special,
                                               bool parse_special) const {
  std::vector<std::int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && add_bos_) out.push_back(bos_id_);
  for (const TextFragment& f : vocab_.partition(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
    } else {
      std::string_view raw = text.substr(f.offset, f.length);
      if (pre_.rules().escape_whitespace) {
        encode_raw(escape_whitespace(raw), out);
      } else {
        encode_raw(raw, out);
      }
    }
  }
  if (add_special && add_eos_) out.push_back(eos_id_);
  return out;
}

std::vector<std::int32_t> BpeTokenizer::encode_ordinary(std::string_view text) const {
  std::vector<std::int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (pre_.rules().escape_whitespace) {
    encode_raw(escape_whitespace(text), out);
  } else {
    encode_raw(text, out);
  }
  return out;
}

void BpeTokenizer::encode_raw(std::string_view text, std::vector<std::int32_t>& out) const {
  const std::vector<std::uint32_t> cps = decode_utf8_lenient(text);
  std::vector<std::size_t> ends;
  ends.reserve(cps.size() / 3 + 1);
  pre_.split(cps, ends);
  // Words are re-encoded from code points, so invalid input bytes become U+FFFD exactly
  // as llama.cpp's unicode_regex_split does.
  std::string word;
  std::size_t begin = 0;
  for (std::size_t end : ends) {
    word.clear();
    for (std::size_t i = begin; i < end; ++i) append_utf8(word, cps[i]);
    encode_word(word, out);
    begin = end;
  }
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<std::int32_t>& out) const {
  if (word.empty()) return;
  const PreTokenizerRules& rules = pre_.rules();
  if (rules.ignore_merges ||
      (rules.newline_words && word.find_first_not_of('\n') == std::string_view::npos)) {
    const std::int32_t id = vocab_.find(rules.byte_encode ? bytes_to_byte_level(word) : word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  // Scratch buffers survive across words and calls of this thread.
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<std::int32_t> offsets;  // byte offset in word of each symbol
  thread_local std::vector<Bigram> heap;
  symbols.clear();
  offsets.clear();
  heap.clear();
  if (rules.byte_encode) {
    for (std::size_t i = 0; i < word.size(); ++i) {
      symbols.push_back(Symbol{byte_symbol_[static_cast<std::uint8_t>(word[i])], 0, 0});
      offsets.push_back(static_cast<std::int32_t>(i));
    }
  } else {
    // One symbol per UTF-8 character (the word is valid UTF-8: pre-tokenized code points).
    std::size_t i = 0;
    while (i < word.size()) {
      const std::size_t start = i;
      next_codepoint_lenient(word, &i);
      symbols.push_back(Symbol{char_symbol(word.substr(start, i - start)), 0, 0});
      offsets.push_back(static_cast<std::int32_t>(start));
    }
  }
  const auto n = static_cast<std::int32_t>(symbols.size());
  for (std::int32_t i = 0; i < n; ++i) {
    symbols[i].prev = i - 1;
    symbols[i].next = i + 1 < n ? i + 1 : -1;
  }
  auto try_add = [&](std::int32_t left, std::int32_t right) {
    if (left < 0 || right < 0) return;
    const std::int32_t l = symbols[left].id;
    const std::int32_t r = symbols[right].id;
    if (const MergeInfo* m = find_merge(l, r); m != nullptr) {
      heap.push_back(Bigram{m->rank, left, right, l, r, m->result});
      std::push_heap(heap.begin(), heap.end(), bigram_after);
    }
  };
  for (std::int32_t i = 0; i + 1 < n; ++i) try_add(i, i + 1);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), bigram_after);
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    if (left.id != b.left_id || right.id != b.right_id) continue;  // stale: a side changed
    left.id = b.result;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    right.id = kDead;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (std::int32_t i = 0; i >= 0; i = symbols[i].next) {
    const std::int32_t id = symbols[i].id;
    if (id >= 0 && id < vocab_.size()) {
      out.push_back(id);
      continue;
    }
    if (rules.byte_encode) {
      // A merge result that is not a token (malformed vocab): llama.cpp falls back to the
      // single-byte tokens of its text and silently drops the bytes that have none.
      for (char c : symbol_text(id)) {
        if (const std::int32_t t = vocab_.find(std::string_view(&c, 1)); t >= 0) out.push_back(t);
      }
      continue;
    }
    // SentencePiece-style: the symbol's raw bytes as <0xXX> tokens (byte fallback).
    const std::int32_t next = symbols[i].next;
    const std::size_t end = next >= 0 ? static_cast<std::size_t>(offsets[next]) : word.size();
    for (std::size_t k = static_cast<std::size_t>(offsets[i]); k < end; ++k) {
      const std::int32_t t = byte_token_[static_cast<std::uint8_t>(word[k])];
      if (t >= 0) out.push_back(t);
    }
  }
}

std::int32_t BpeTokenizer::char_symbol(std::string_view text) const {
  if (const std::int32_t id = vocab_.find(text); id >= 0) return id;
  auto it = extra_lookup_.find(std::string(text));
  return it != extra_lookup_.end() ? it->second : kNoSymbol;
}

}  // namespace zinfer::tok
