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

// "<0xAB>" → 0xAB; -1 for any other text.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int v = 0;
  for (char c : text.substr(3, 2)) {
    const int d = (c >= '0' && c <= '9')   ? c - '0'
                  : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                  : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                           : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::from_gguf(const gguf::GgufFile& file) {
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
  ZINFER_ASSIGN_OR_RETURN(spec.special, SpecialTokenKeys::from_gguf(file));
  ZINFER_ASSIGN_OR_RETURN(spec.chat_template, file.get_string_or("tokenizer.chat_template", ""));

  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
  t->vocab_ = std::move(vocab);
  ZINFER_RETURN_IF_ERROR(t->init(spec));
  return t;
}

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::create(BpeSpec spec) {
  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
  ZINFER_ASSIGN_OR_RETURN(t->vocab_,
                          Vocab::from_tokens(std::move(spec.tokens), std::move(spec.types)));
  ZINFER_RETURN_IF_ERROR(t->init(spec));
  return t;
}

Status BpeTokenizer::init(const BpeSpec& spec) {
  pre_ = pre_tokenizer_config(spec.pre);
  if (!pre_.known) {
    spdlog::warn("tokenizer: unknown tokenizer.ggml.pre '{}', using the GPT-2 pre-tokenizer",
                 spec.pre);
  }
  // llama.cpp's defaults for gpt2-type vocabs: BOS = EOS = 11 unless the file says otherwise.
  SpecialTokens defaults;
  defaults.bos = 11;
  defaults.eos = 11;
  defaults.add_bos = pre_.add_bos;
  defaults.add_eos = false;
  ZINFER_ASSIGN_OR_RETURN(SpecialTokens specials, vocab_.resolve_specials(spec.special, defaults));
  bos_id_ = specials.bos;
  eos_id_ = specials.eos;
  add_bos_ = specials.add_bos;
  add_eos_ = specials.add_eos;
  eog_ids_ = std::move(specials.eog);
  chat_template_ = spec.chat_template;

  ZINFER_RETURN_IF_ERROR(build_merges(spec.merges));
  for (int b = 0; b < 256; ++b) {
    std::string text;
    append_utf8(text, byte_to_codepoint(static_cast<std::uint8_t>(b)));
    byte_symbol_[b] = intern(text);
  }

  pieces_.resize(static_cast<std::size_t>(vocab_.size()));
  for (std::int32_t id = 0; id < vocab_.size(); ++id) {
    const std::uint32_t a = vocab_.attr(id);
    const std::string& text = vocab_.text(id);
    std::string& piece = pieces_[static_cast<std::size_t>(id)];
    if ((a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) != 0) {
      piece = text;
    } else if ((a & kAttrNormal) != 0) {
      piece = byte_level_to_bytes(text);
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

TokenType BpeTokenizer::token_type(std::int32_t id) const {
  return vocab_.valid_id(id) ? vocab_.type(id) : TokenType::kUndefined;
}

const std::string& BpeTokenizer::token_text(std::int32_t id) const {
  static const std::string kEmpty;
  return vocab_.valid_id(id) ? vocab_.text(id) : kEmpty;
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
      encode_raw(text.substr(f.offset, f.length), out);
    }
  }
  if (add_special && add_eos_) out.push_back(eos_id_);
  return out;
}

void BpeTokenizer::encode_raw(std::string_view text, std::vector<std::int32_t>& out) const {
  const std::vector<std::uint32_t> cps = decode_utf8_lenient(text);
  std::vector<std::size_t> ends;
  ends.reserve(cps.size() / 3 + 1);
  pre_tokenize(pre_.kind, cps, ends);
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
  if (pre_.ignore_merges) {
    if (const std::int32_t id = vocab_.find(bytes_to_byte_level(word)); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  // Scratch buffers survive across words and calls of this thread.
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Bigram> heap;
  const auto n = static_cast<std::int32_t>(word.size());
  symbols.resize(static_cast<std::size_t>(n));
  heap.clear();
  for (std::int32_t i = 0; i < n; ++i) {
    symbols[i] =
        Symbol{byte_symbol_[static_cast<std::uint8_t>(word[i])], i - 1, i + 1 < n ? i + 1 : -1};
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
    if (id < vocab_.size()) {
      out.push_back(id);
      continue;
    }
    // A merge result that is not a token (malformed vocab): llama.cpp falls back to the
    // single-byte tokens of its text and silently drops the bytes that have none.
    for (char c : symbol_text(id)) {
      if (const std::int32_t t = vocab_.find(std::string_view(&c, 1)); t >= 0) out.push_back(t);
    }
  }
}

}  // namespace zinfer::tok
