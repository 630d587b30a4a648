// BPE training over a fixed English text: words (with their leading space, as GPT-2's
// pre-tokenizers split them) are mapped to byte-unicode symbols and the most frequent
// adjacent pair is merged repeatedly (ties broken by the pair's text), so the merges and
// tokens are identical on every run and every platform.
#include "engine/synthetic/synthetic_vocab.h"

#include <array>
#include <cctype>
#include <map>
#include <set>
#include <span>
#include <string_view>

namespace zinfer::model {
namespace {

constexpr std::int32_t kTypeNormal = 1;
constexpr std::int32_t kTypeControl = 3;
constexpr std::int32_t kTypeUnused = 5;

constexpr std::array<std::string_view, 3> kSpecials = {"<|endoftext|>", "<|im_start|>",
                                                       "<|im_end|>"};

constexpr std::string_view kChatMl =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] "
    "+ "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' "
    "}}"
    "{% endif %}";

// Original text written for this purpose; any English prose gives sensible merges.
constexpr std::string_view kTrainingText =
    "The small river ran past the old mill and into the town, where the people of the valley "
    "came every morning to trade bread, cheese, wool and news. In the spring the water was high "
    "and fast, and the children were told to stay away from the bank; in the summer it was slow "
    "and warm, and they spent whole afternoons there, building dams of stone and mud that the "
    "next rain would wash away. The miller was a patient man who kept a careful record of every "
    "sack of grain that passed through his doors. He said that a good record is worth more than "
    "a good memory, because a memory changes with the teller while the record stays the same. "
    "When the new road was built along the other side of the hill, fewer travellers came through "
    "the town, and the market grew quieter each year. Some families moved to the city to find "
    "work in the factories; others stayed, and learned to make what they needed from what the "
    "land could give them. There is a lesson in this story about change and about the things "
    "that remain. A town is not only its houses and its road; it is also the habits of the people "
    "who live there, the way they greet each other in the morning, the songs they sing when the "
    "harvest is in, and the stories they tell their children in the evening. These things are "
    "harder to build than a road, and harder to destroy. The teacher at the village school asked "
    "her students to write about the place where they were born. One wrote about the river, one "
    "about the mill, and one about the light on the hills in the early morning. She kept their "
    "pages in a box, and many years later, when the school was closed, she gave the box to the "
    "town library, where anyone can still read them. Computers and language models learn in a "
    "similar way: they read a great deal of text, they count which pieces appear together, and "
    "they build from those counts a vocabulary of common words and parts of words. A model that "
    "has seen the word \"the\" many thousands of times will give it a single token, while a rare "
    "name will be spelled out from smaller pieces. Nothing here is magic; it is only patient "
    "counting, like the miller with his sacks of grain.\n";

// GPT-2's bytes_to_unicode order: printable bytes keep their code point, the others are
// numbered from U+0100 upwards. Returns the byte order of the first 256 token ids.
std::array<std::uint32_t, 256> byte_code_points(std::array<std::uint8_t, 256>* order) {
  std::array<std::uint32_t, 256> cp{};
  std::array<bool, 256> direct{};
  std::size_t k = 0;
  auto keep = [&](int lo, int hi) {
    for (int b = lo; b <= hi; ++b) {
      direct[b] = true;
      cp[b] = static_cast<std::uint32_t>(b);
      if (order != nullptr) (*order)[k] = static_cast<std::uint8_t>(b);
      ++k;
    }
  };
  keep('!', '~');
  keep(0xA1, 0xAC);
  keep(0xAE, 0xFF);
  std::uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    if (direct[b]) continue;
    cp[b] = next++;
    if (order != nullptr) (*order)[k] = static_cast<std::uint8_t>(b);
    ++k;
  }
  return cp;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else {  // every code point here is below U+0800
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Splits the text like a GPT-2 pre-tokenizer would for letters: " word" keeps its space.
WordCounts training_words() {
  WordCounts words;
  const std::string_view text = kTrainingText;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    if (text[i] == ' ' && i + 1 < text.size() &&
        std::isalpha(static_cast<unsigned char>(text[i + 1])))
      ++i;
    if (std::isalpha(static_cast<unsigned char>(text[i]))) {
      while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    } else {
      ++i;  // punctuation, digits and lone whitespace stay single symbols
    }
    std::vector<std::string> symbols;
    for (std::size_t j = start; j < i; ++j)
      symbols.push_back(byte_token_text(static_cast<std::uint8_t>(text[j])));
    if (symbols.size() > 1) ++words[symbols];
  }
  return words;
}

}  // namespace

std::string_view synthetic_training_text() { return kTrainingText; }

std::optional<std::pair<std::string, std::string>> merge_most_frequent_pair(WordCounts& words) {
  std::map<std::pair<std::string, std::string>, std::int64_t> pairs;
  for (const auto& [symbols, count] : words) {
    for (std::size_t i = 0; i + 1 < symbols.size(); ++i)
      pairs[{symbols[i], symbols[i + 1]}] += count;
  }
  if (pairs.empty()) return std::nullopt;
  auto best = pairs.begin();  // map order makes the tie-break the pair's text
  for (auto it = pairs.begin(); it != pairs.end(); ++it) {
    if (it->second > best->second) best = it;
  }
  const auto& [left, right] = best->first;
  WordCounts next;
  for (const auto& [symbols, count] : words) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < symbols.size(); ++i) {
      if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
        out.push_back(left + right);
        ++i;
      } else {
        out.push_back(symbols[i]);
      }
    }
    if (out.size() > 1) next[out] += count;  // a single symbol has no pair left to merge
  }
  words = std::move(next);
  return best->first;
}

std::string byte_token_text(std::uint8_t b) {
  static const std::array<std::uint32_t, 256> cp = byte_code_points(nullptr);
  std::string s;
  append_utf8(s, cp[b]);
  return s;
}

Result<SyntheticVocab> build_synthetic_vocab(VocabStyle style, std::int32_t n_vocab) {
  if (style == VocabStyle::kGemma3 || style == VocabStyle::kPhi3)
    return build_spm_vocab(style, n_vocab);
  // GPT-2 has a single special token; the ChatML families have three.
  const std::span<const std::string_view> specials =
      style == VocabStyle::kGpt2 ? std::span<const std::string_view>(kSpecials.data(), 1)
                                 : std::span<const std::string_view>(kSpecials);
  const std::int32_t n_fixed = 256 + static_cast<std::int32_t>(specials.size());
  if (n_vocab < n_fixed) {
    return make_error(ErrorCode::kInvalidParameter, "vocab_size must be at least " +
                                                        std::to_string(n_fixed) + ", got " +
                                                        std::to_string(n_vocab));
  }
  SyntheticVocab v;
  if (style != VocabStyle::kGpt2) v.chat_template = std::string(kChatMl);
  const bool specials_first = style == VocabStyle::kSmolLM;
  v.pre = style == VocabStyle::kSmolLM   ? "smollm"
          : style == VocabStyle::kQwen2  ? "qwen2"
          : style == VocabStyle::kGpt2   ? "gpt-2"
          : style == VocabStyle::kGptOss ? "gpt-4o"
                                         : "llama-bpe";
  v.add_bos = style == VocabStyle::kLlama3;

  auto add_specials = [&] {
    for (auto s : specials) {
      v.tokens.emplace_back(s);
      v.token_types.push_back(kTypeControl);
    }
  };
  if (specials_first) add_specials();
  std::array<std::uint8_t, 256> order{};
  byte_code_points(&order);
  std::set<std::string> known;
  for (std::uint8_t b : order) {
    v.tokens.push_back(byte_token_text(b));
    v.token_types.push_back(kTypeNormal);
    known.insert(v.tokens.back());
  }

  // Learn merges until the vocabulary is full or every training word is one token.
  auto words = training_words();
  const std::size_t n_learnt_max = static_cast<std::size_t>(n_vocab - n_fixed);
  std::size_t n_learnt = 0;
  while (n_learnt < n_learnt_max) {
    const auto pair = merge_most_frequent_pair(words);
    if (!pair) break;
    const std::string merged = pair->first + pair->second;
    v.merges.push_back(pair->first + " " + pair->second);
    if (known.insert(merged).second) {
      v.tokens.push_back(merged);
      v.token_types.push_back(kTypeNormal);
      ++n_learnt;
    }
  }

  // GPT-2's <|endoftext|> is its last id (50256), after everything learnt.
  const std::int32_t n_before_specials = style == VocabStyle::kGpt2 ? n_vocab - 1 : 0;
  while (static_cast<std::int32_t>(v.tokens.size()) < n_before_specials) {
    v.tokens.push_back("[PAD" + std::to_string(v.tokens.size()) + "]");
    v.token_types.push_back(kTypeUnused);
  }
  if (!specials_first) add_specials();
  while (static_cast<std::int32_t>(v.tokens.size()) < n_vocab) {
    v.tokens.push_back("[PAD" + std::to_string(v.tokens.size()) + "]");
    v.token_types.push_back(kTypeUnused);
  }

  auto id_of = [&](std::string_view s) {
    for (std::size_t i = 0; i < v.tokens.size(); ++i) {
      if (v.tokens[i] == s) return static_cast<std::int32_t>(i);
    }
    return std::int32_t{-1};
  };
  const std::int32_t eot = id_of("<|endoftext|>");
  const std::int32_t im_start = id_of("<|im_start|>");
  const std::int32_t im_end = id_of("<|im_end|>");
  if (style == VocabStyle::kGpt2) {
    v.bos_id = eot;  // GPT-2's tokenizer config names <|endoftext|> as bos, eos and unk
    v.eos_id = eot;
    v.unk_id = eot;
  } else if (style == VocabStyle::kSmolLM) {
    v.bos_id = im_start;
    v.eos_id = im_end;
    v.pad_id = im_end;
    v.unk_id = eot;
  } else {
    v.bos_id = eot;
    v.eos_id = im_end;
    v.pad_id = eot;
  }
  return v;
}

}  // namespace zinfer::model
