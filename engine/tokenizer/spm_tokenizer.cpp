// SpmTokenizer (see spm_tokenizer.h). The merge loop follows llama.cpp's
// llm_tokenizer_spm_session so that results are identical: symbols start as UTF-8 characters
// (by lead byte, unvalidated), a max-heap orders candidate pairs by (score desc, left asc),
// and a candidate is stale once either side changed length. Symbols always cover contiguous
// bytes of the escaped text, so a pair's text is a view into it and the vocab lookup
// allocates nothing.
#include "engine/tokenizer/spm_tokenizer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace zinfer::tok {
namespace {

constexpr const char* kScoresKey = "tokenizer.ggml.scores";
constexpr std::string_view kSpaceEscape = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// Bytes of a UTF-8 sequence from its lead byte; continuation and invalid bytes count as
// sequences of their own (1) or by their high bits (0xF8..0xFF: 4), as llama.cpp's
// unicode_len_utf8 does.
int utf8_len_from_lead(unsigned char b) {
  static constexpr int kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[b >> 4];
}

// "<0xAB>" → 0xAB as llama.cpp's token_to_byte reads it (strtol of the two characters after
// "<0x", 0 when they are not hex).
char byte_of_byte_token(const std::string& text) {
  if (text.size() < 5) return 0;
  int v = 0;
  for (char c : text.substr(3, 2)) {
    const int d = hex_digit_value(c);
    if (d < 0) break;
    v = v * 16 + d;
  }
  return static_cast<char>(v);
}

std::string unescape_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, kSpaceEscape.size(), kSpaceEscape) == 0) {
      out.push_back(' ');
      i += kSpaceEscape.size();
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

struct Symbol {
  std::int32_t start;  // byte offset in the escaped text
  std::int32_t n;      // bytes; 0 once merged into the left neighbour
  std::int32_t prev;
  std::int32_t next;
};

struct Bigram {
  float score;
  std::int32_t left;
  std::int32_t right;
  std::int32_t size;  // bytes of the pair when it was queued
};

// Max-heap order: highest score on top, then the leftmost pair.
bool bigram_below(const Bigram& a, const Bigram& b) {
  return a.score < b.score || (a.score == b.score && a.left > b.left);
}

}  // namespace

Result<std::unique_ptr<SpmTokenizer>> SpmTokenizer::from_gguf(const gguf::GgufFile& file) {
  SpmSpec spec;
  ZINFER_ASSIGN_OR_RETURN(Vocab vocab, Vocab::from_gguf(file));
  if (file.has(kScoresKey)) {
    ZINFER_ASSIGN_OR_RETURN(spec.scores, file.get_f32_array(kScoresKey));
  }
  ZINFER_ASSIGN_OR_RETURN(spec.special, SpecialTokenKeys::from_gguf(file));
  if (file.has("tokenizer.ggml.add_space_prefix")) {
    ZINFER_ASSIGN_OR_RETURN(spec.add_space_prefix,
                            file.get_bool("tokenizer.ggml.add_space_prefix"));
  }
  ZINFER_ASSIGN_OR_RETURN(spec.model_name, file.get_string_or("general.name", ""));
  ZINFER_ASSIGN_OR_RETURN(spec.chat_template, file.get_string_or("tokenizer.chat_template", ""));
  return build<SpmTokenizer>(vocab, spec);
}

Result<std::unique_ptr<SpmTokenizer>> SpmTokenizer::create(SpmSpec spec) {
  return build<SpmTokenizer>(std::move(spec));
}

Status SpmTokenizer::init(SpmSpec& spec) {
  const auto n = static_cast<std::size_t>(vocab_.size());
  if (spec.scores.empty()) {
    scores_.assign(n, 0.0f);
  } else if (spec.scores.size() < n) {
    return make_error(ErrorCode::kModelLoadFailed,
                      std::string(kScoresKey) + " has " + std::to_string(spec.scores.size()) +
                          " entries for " + std::to_string(n) + " tokens");
  } else {
    scores_ = std::move(spec.scores);
    scores_.resize(n);
  }

  // llama.cpp's defaults for SPM vocabs: BOS 1, EOS 2, UNK 0, add BOS, add a space prefix.
  SpecialTokens defaults;
  defaults.bos = 1;
  defaults.eos = 2;
  defaults.unk = 0;
  defaults.add_bos = true;
  defaults.add_eos = false;
  ZINFER_ASSIGN_OR_RETURN(SpecialTokens specials, vocab_.resolve_specials(spec.special, defaults));
  unk_id_ = specials.unk;
  set_specials(std::move(specials), spec.chat_template);
  add_space_prefix_ = spec.add_space_prefix.value_or(true);

  // Phi-3's added tokens swallow the whitespace after them (Hugging Face rstrip); llama.cpp
  // recognises the model by name and sets that attribute on every special token but three.
  std::string name = spec.model_name;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (std::int32_t id = 0; id < vocab_.size(); ++id) {
      if ((vocab_.attr(id) & (kAttrControl | kAttrUserDefined | kAttrUnknown)) != 0)
        vocab_.set_attr(id, vocab_.attr(id) | kAttrRstrip);
    }
    auto set_rstrip = [&](std::string_view text, bool on) {
      const std::int32_t id = vocab_.find(text);
      if (id < 0) return;
      vocab_.set_attr(id, on ? vocab_.attr(id) | kAttrRstrip : vocab_.attr(id) & ~kAttrRstrip);
    };
    set_rstrip("</s>", true);
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set_rstrip(t, false);
  }

  static constexpr char kHex[] = "0123456789ABCDEF";
  std::size_t missing = 0;
  for (int b = 0; b < 256; ++b) {
    const char name_hex[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    std::int32_t id = vocab_.find(std::string_view(name_hex, 6));
    if (id < 0) {
      const char raw = static_cast<char>(b);
      id = vocab_.find(std::string_view(&raw, 1));
    }
    if (id < 0) ++missing;
    byte_token_[b] = id;
  }
  if (missing > 0) {
    spdlog::warn("tokenizer: {} byte values have no <0xXX> token; they encode as the unknown token",
                 missing);
  }
  return ok_status();
}

float SpmTokenizer::score(std::int32_t id) const {
  return vocab_.valid_id(id) ? scores_[static_cast<std::size_t>(id)] : 0.0f;
}

std::string SpmTokenizer::token_to_piece(std::int32_t id, bool render_special) const {
  if (!vocab_.valid_id(id)) return {};
  const std::uint32_t a = vocab_.attr(id);
  if (!render_special && (a & (kAttrUnknown | kAttrControl)) != 0) return {};
  const std::string& text = vocab_.text(id);
  if ((a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) != 0) return text;
  if ((a & kAttrNormal) != 0) return unescape_spaces(text);
  if ((a & kAttrByte) != 0) return std::string(1, byte_of_byte_token(text));
  return {};  // unused / undefined tokens render as nothing, as in llama.cpp
}

std::string SpmTokenizer::detokenize(std::span<const std::int32_t> ids, bool remove_special,
                                     bool render_special) const {
  bool remove_space = add_space_prefix_;
  if (remove_special && add_bos_ && !ids.empty() && ids.front() == bos_id_) {
    remove_space = false;
    ids = ids.subspan(1);
  }
  if (remove_special && add_eos_ && !ids.empty() && ids.back() == eos_id_)
    ids = ids.first(ids.size() - 1);
  std::string out;
  for (std::int32_t id : ids) {
    const std::string piece = token_to_piece(id, render_special);
    // Only the first token loses its leading space, even when it renders as nothing.
    out.append(piece, remove_space && !piece.empty() && piece[0] == ' ' ? 1 : 0);
    remove_space = false;
  }
  return out;
}

std::vector<std::int32_t> SpmTokenizer::encode(std::string_view text, bool add_special,
                                               bool parse_special) const {
  std::vector<std::int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && add_bos_) out.push_back(bos_id_);
  // The space prefix goes before the first raw fragment and before any that follows a
  // special token.
  bool prev_special = true;
  for (const TextFragment& f : vocab_.partition(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
    } else {
      encode_raw(text.substr(f.offset, f.length), add_space_prefix_ && prev_special, out);
      prev_special = false;
    }
  }
  if (add_special && add_eos_) out.push_back(eos_id_);
  return out;
}

void SpmTokenizer::encode_raw(std::string_view raw, bool space_prefix,
                              std::vector<std::int32_t>& out) const {
  // Scratch buffers survive across fragments and calls of this thread.
  thread_local std::string text;
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Bigram> heap;
  text.clear();
  if (space_prefix) text.append(kSpaceEscape);
  for (char c : raw) {
    if (c == ' ') {
      text.append(kSpaceEscape);
    } else {
      text.push_back(c);
    }
  }
  if (text.empty()) return;

  symbols.clear();
  heap.clear();
  const auto size = static_cast<std::int32_t>(text.size());
  for (std::int32_t offs = 0; offs < size;) {
    const std::int32_t n =
        std::min(utf8_len_from_lead(static_cast<unsigned char>(text[offs])), size - offs);
    const auto index = static_cast<std::int32_t>(symbols.size());
    offs += n;
    symbols.push_back(Symbol{offs - n, n, index - 1, offs == size ? -1 : index + 1});
  }

  auto try_add = [&](std::int32_t left, std::int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<std::size_t>(left)];
    const std::int32_t n = l.n + symbols[static_cast<std::size_t>(right)].n;
    const std::int32_t id = vocab_.find(std::string_view(text).substr(l.start, n));
    if (id < 0) return;
    heap.push_back(Bigram{scores_[static_cast<std::size_t>(id)], left, right, n});
    std::push_heap(heap.begin(), heap.end(), bigram_below);
  };
  for (std::int32_t i = 1; i < static_cast<std::int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), bigram_below);
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& left = symbols[static_cast<std::size_t>(b.left)];
    Symbol& right = symbols[static_cast<std::size_t>(b.right)];
    if (left.n == 0 || right.n == 0 || left.n + right.n != b.size) continue;  // stale
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<std::size_t>(right.next)].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  // Every merged symbol is a token by construction; a symbol that is not is one character
  // no token covers, which falls back to its bytes.
  const std::int32_t unk = vocab_.valid_id(unk_id_) ? unk_id_ : -1;
  for (std::int32_t i = 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next) {
    const Symbol& s = symbols[static_cast<std::size_t>(i)];
    const std::string_view piece = std::string_view(text).substr(s.start, s.n);
    if (const std::int32_t id = vocab_.find(piece); id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char c : piece) {
      const std::int32_t id = byte_token_[static_cast<unsigned char>(c)];
      if (id >= 0) {
        out.push_back(id);
      } else if (unk >= 0) {
        out.push_back(unk);  // llama.cpp throws here; a vocab without byte tokens is rare
      }
    }
  }
}

}  // namespace zinfer::tok
