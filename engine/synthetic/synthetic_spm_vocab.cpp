// SentencePiece-style synthetic vocabularies (tokenizer.ggml.model "llama"), laid out like
// the real Gemma 3 and Phi-3 files as llama.cpp's converter writes them. Pieces are learnt
// by BPE over the training text split at spaces, each word carrying its leading "▁"; a
// piece's score is minus its merge rank, so a SentencePiece tokenizer (which merges the
// adjacent pair whose union has the highest score) replays the learnt merges. Single
// characters follow with lower scores; anything else falls back to <0xXX> byte tokens.
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "engine/synthetic/synthetic_vocab.h"

namespace zinfer::model {
namespace {

// llama_token_type values.
constexpr std::int32_t kNormal = 1;
constexpr std::int32_t kControl = 3;
constexpr std::int32_t kUserDefined = 4;
constexpr std::int32_t kUnused = 5;
constexpr std::int32_t kByte = 6;

constexpr float kSpecialScore = -1000.0f;            // what the converters give added tokens
constexpr float kPadScore = -10000.0f;               // Phi-3 converter's [PADn] fillers
constexpr std::string_view kSpace = "\xE2\x96\x81";  // ▁ U+2581

constexpr std::string_view kPhi3Template =
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + "
    "message['content'] + "
    "'<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + "
    "'<|end|>\\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + "
    "'<|end|>\\n'}}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ "
    "eos_token }}"
    "{% endif %}";

struct Special {
  std::string_view text;
  std::int32_t type;
};

// Splits UTF-8 into characters (the training text is valid UTF-8).
std::vector<std::string> utf8_chars(std::string_view s) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : 4;
    out.emplace_back(s.substr(i, len));
    i += len;
  }
  return out;
}

// Words as SentencePiece sees them: whitespace becomes ▁ at the start of the next word.
WordCounts spm_words() {
  WordCounts words;
  const std::string_view text = synthetic_training_text();
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n')) ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\n') ++i;
    if (i == start) break;
    std::vector<std::string> symbols{std::string(kSpace)};
    for (auto& ch : utf8_chars(text.substr(start, i - start))) symbols.push_back(std::move(ch));
    ++words[symbols];
  }
  return words;
}

// Every single character of the training words (▁ included), in code-point order.
std::vector<std::string> training_chars() {
  std::set<std::string> chars;
  for (const auto& [symbols, count] : spm_words()) chars.insert(symbols.begin(), symbols.end());
  return {chars.begin(), chars.end()};
}

// Learns up to max_pieces merged pieces (most frequent pair first, ties by text), in rank
// order.
std::vector<std::string> learn_pieces(std::size_t max_pieces) {
  auto words = spm_words();
  const auto chars = training_chars();
  std::vector<std::string> pieces;
  std::set<std::string> known(chars.begin(), chars.end());
  while (pieces.size() < max_pieces) {
    const auto pair = merge_most_frequent_pair(words);
    if (!pair) break;
    const std::string merged = pair->first + pair->second;
    if (known.insert(merged).second) pieces.push_back(merged);
  }
  return pieces;
}

class Builder {
 public:
  explicit Builder(SyntheticVocab& v) : v_(v) {}
  void add(std::string_view text, std::int32_t type, float score) {
    v_.tokens.emplace_back(text);
    v_.token_types.push_back(type);
    v_.scores.push_back(score);
  }
  void add_bytes() {
    static const char* kHex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>', '\0'};
      add(name, kByte, 0.0f);
    }
  }
  // Learnt pieces (score -rank) then the single characters, until `limit` tokens exist;
  // room for the characters is kept so that text never needs byte fallback for them.
  void add_pieces(std::int32_t limit) {
    const auto chars = training_chars();
    const std::int32_t room = limit - size() - static_cast<std::int32_t>(chars.size());
    const auto pieces = learn_pieces(room > 0 ? static_cast<std::size_t>(room) : 0);
    float score = 0.0f;
    for (const auto& p : pieces) {
      if (size() >= limit) return;
      add(p, kNormal, -score);
      score += 1.0f;
    }
    for (const auto& c : chars) {
      if (size() >= limit) return;
      add(c, kNormal, -score);
      score += 1.0f;
    }
  }
  std::int32_t size() const { return static_cast<std::int32_t>(v_.tokens.size()); }
  std::int32_t id_of(std::string_view text) const {
    for (std::size_t i = 0; i < v_.tokens.size(); ++i) {
      if (v_.tokens[i] == text) return static_cast<std::int32_t>(i);
    }
    return -1;
  }

 private:
  SyntheticVocab& v_;
};

// Gemma 3: ids 0-4 <pad> <eos> <bos> <unk> <mask> (CONTROL), [multimodal] (USER_DEFINED),
// the turn markers (CONTROL), newline runs (USER_DEFINED), 256 byte tokens, pieces, and
// <unusedN> CONTROL fillers — the real file's kinds in the real order, minus its size.
SyntheticVocab gemma3_vocab(std::int32_t n_vocab, std::int32_t n_fixed) {
  SyntheticVocab v;
  Builder b(v);
  const Special head[] = {{"<pad>", kControl},           {"<eos>", kControl},
                          {"<bos>", kControl},           {"<unk>", kControl},
                          {"<mask>", kControl},          {"[multimodal]", kUserDefined},
                          {"<start_of_turn>", kControl}, {"<end_of_turn>", kControl},
                          {"\n", kUserDefined},          {"\n\n", kUserDefined}};
  static_assert(std::size(head) == 10);
  for (const auto& s : head) b.add(s.text, s.type, kSpecialScore);
  b.add_bytes();
  b.add_pieces(n_vocab - (n_vocab - n_fixed) / 8);  // keep some <unusedN> like the real vocab
  for (std::int32_t i = 0; b.size() < n_vocab; ++i)
    b.add("<unused" + std::to_string(i) + ">", kControl, kSpecialScore);
  v.pre = "default";
  v.bos_id = 2;
  v.eos_id = 1;
  v.unk_id = 3;
  v.pad_id = 0;
  v.add_bos = true;
  v.add_sep = false;
  v.add_eos = false;
  v.add_space_prefix = false;
  return v;
}

// Phi-3: Llama 2's <unk> <s> </s> and byte tokens first, pieces, [PADn] UNUSED fillers,
// then the chat tokens. The converter marks tokens the tokenizer config calls special as
// CONTROL (</s> is not special in Phi-3's config) and gives all of them score -1000.
SyntheticVocab phi3_vocab(std::int32_t n_vocab) {
  SyntheticVocab v;
  Builder b(v);
  b.add("<unk>", kControl, kSpecialScore);
  b.add("<s>", kControl, kSpecialScore);
  b.add("</s>", kUserDefined, kSpecialScore);
  b.add_bytes();
  const Special tail[] = {{"<|endoftext|>", kControl},
                          {"<|assistant|>", kControl},
                          {"<|system|>", kControl},
                          {"<|end|>", kControl},
                          {"<|user|>", kControl}};
  const auto n_tail = static_cast<std::int32_t>(std::size(tail));
  b.add_pieces(n_vocab - n_tail);
  while (b.size() < n_vocab - n_tail)
    b.add("[PAD" + std::to_string(b.size()) + "]", kUnused, kPadScore);
  for (const auto& s : tail) b.add(s.text, s.type, kSpecialScore);
  v.pre = "default";
  v.bos_id = 1;
  v.eos_id = b.id_of("<|endoftext|>");
  v.unk_id = 0;
  v.pad_id = v.eos_id;
  v.add_bos = false;
  v.add_eos = false;
  v.chat_template = std::string(kPhi3Template);
  return v;
}

}  // namespace

Result<SyntheticVocab> build_spm_vocab(VocabStyle style, std::int32_t n_vocab) {
  const std::int32_t n_fixed = 256 + (style == VocabStyle::kGemma3 ? 10 : 8);
  if (n_vocab < n_fixed) {
    return make_error(ErrorCode::kInvalidParameter, "vocab_size must be at least " +
                                                        std::to_string(n_fixed) + ", got " +
                                                        std::to_string(n_vocab));
  }
  SyntheticVocab v;
  if (style == VocabStyle::kGemma3) {
    v = gemma3_vocab(n_vocab, n_fixed);
  } else if (style == VocabStyle::kPhi3) {
    v = phi3_vocab(n_vocab);
  } else {
    return make_error(ErrorCode::kInvalidParameter, "vocabulary style is not SentencePiece");
  }
  v.model = "llama";
  return v;
}

}  // namespace zinfer::model
