// Pre-tokenizer matchers (see pre_tokenizer.h). Each matcher walks one piece of text left to
// right and, at each position, tries the pattern's alternatives in order, as a backtracking
// regex engine would; the comments name the alternative each branch implements.
#include "engine/tokenizer/pre_tokenizer.h"

#include <array>
#include <utility>

#include "engine/tokenizer/unicode.h"

namespace zinfer::tok {
namespace {

// The input with its classes looked up once.
struct Text {
  std::span<const std::uint32_t> cps;
  std::vector<CodepointClass> cls;
};

bool is_other(const CodepointClass& c) { return !c.whitespace && !c.is_letter() && !c.is_number(); }

bool is_cr_lf(std::uint32_t cp) { return cp == '\r' || cp == '\n'; }

// Length of a contraction 's 't 're 've 'm 'll 'd at pos (0 if none). With fold_case the
// letters match either case (llama3's (?i:...)).
std::size_t contraction_length(const Text& t, std::size_t pos, std::size_t end, bool fold_case) {
  if (t.cps[pos] != '\'' || pos + 1 >= end) return 0;
  auto letter = [&](std::size_t p) { return fold_case ? to_lower(t.cps[p]) : t.cps[p]; };
  const std::uint32_t c1 = letter(pos + 1);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (pos + 2 >= end) return 0;
  const std::uint32_t c2 = letter(pos + 2);
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  return 0;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) over [begin, end).
// A lone whitespace before a non-space matches nothing; like llama.cpp we still emit it
// as its own word (a regex split keeps unmatched text as a piece).
void split_gpt2(const Text& t, std::size_t begin, std::size_t end, std::vector<std::size_t>& ends) {
  std::size_t pos = begin;
  while (pos < end) {
    if (const std::size_t n = contraction_length(t, pos, end, false); n > 0) {
      pos += n;
      ends.push_back(pos);
      continue;
    }
    // The optional literal space of " ?X+": X is tested after it.
    const std::size_t x = (t.cps[pos] == ' ' && pos + 1 < end) ? pos + 1 : pos;
    const CodepointClass& cx = t.cls[x];
    bool (*same)(const CodepointClass&) = nullptr;
    if (cx.is_letter()) {
      same = [](const CodepointClass& c) { return c.is_letter(); };
    } else if (cx.is_number()) {
      same = [](const CodepointClass& c) { return c.is_number(); };
    } else if (is_other(cx)) {
      same = is_other;
    }
    if (same != nullptr) {
      std::size_t p = x + 1;
      while (p < end && same(t.cls[p])) ++p;
      pos = p;
      ends.push_back(pos);
      continue;
    }
    // Here t.cps[pos] is whitespace. \s+(?!\S): a run followed by a non-space gives back
    // its last character, which then prefixes the next word (or stands alone).
    std::size_t n = 0;
    while (pos + n < end && t.cls[pos + n].whitespace) ++n;
    pos += (n > 1 && pos + n < end) ? n - 1 : n;
    ends.push_back(pos);
  }
}

// \p{N} first: each number code point is its own piece; the GPT-2 pattern runs on the rest.
void split_digits_gpt2(const Text& t, std::size_t begin, std::size_t end,
                       std::vector<std::size_t>& ends) {
  std::size_t pos = begin;
  while (pos < end) {
    if (t.cls[pos].is_number()) {
      ends.push_back(++pos);
      continue;
    }
    std::size_t run_end = pos + 1;
    while (run_end < end && !t.cls[run_end].is_number()) ++run_end;
    split_gpt2(t, pos, run_end, ends);
    pos = run_end;
  }
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}
// | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
void split_llama3(const Text& t, std::size_t begin, std::size_t end, std::size_t max_digits,
                  std::vector<std::size_t>& ends) {
  std::size_t pos = begin;
  while (pos < end) {
    const std::uint32_t c = t.cps[pos];
    const CodepointClass& cc = t.cls[pos];
    if (const std::size_t n = contraction_length(t, pos, end, true); n > 0) {
      pos += n;
      ends.push_back(pos);
      continue;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!is_cr_lf(c) && !cc.is_number() &&
        (cc.is_letter() || (pos + 1 < end && t.cls[pos + 1].is_letter()))) {
      std::size_t p = pos + 1;
      while (p < end && t.cls[p].is_letter()) ++p;
      pos = p;
      ends.push_back(pos);
      continue;
    }
    // \p{N}{1,max_digits}
    if (cc.is_number()) {
      std::size_t p = pos + 1;
      while (p < end && p - pos < max_digits && t.cls[p].is_number()) ++p;
      pos = p;
      ends.push_back(pos);
      continue;
    }
    // " ?[^\s\p{L}\p{N}]+[\r\n]*"
    const std::size_t x = (c == ' ' && pos + 1 < end) ? pos + 1 : pos;
    if (is_other(t.cls[x])) {
      std::size_t p = x + 1;
      while (p < end && is_other(t.cls[p])) ++p;
      while (p < end && is_cr_lf(t.cps[p])) ++p;
      pos = p;
      ends.push_back(pos);
      continue;
    }
    // Whitespace run [pos, pos + n).
    std::size_t n = 0;
    std::size_t after_last_cr_lf = 0;
    while (pos + n < end && t.cls[pos + n].whitespace) {
      if (is_cr_lf(t.cps[pos + n])) after_last_cr_lf = pos + n + 1;
      ++n;
    }
    if (after_last_cr_lf > 0) {
      pos = after_last_cr_lf;  // \s*[\r\n]+ : greedy \s* backtracks to the last newline
    } else if (n > 1 && pos + n < end) {
      pos += n - 1;  // \s+(?!\S)
    } else {
      pos += n > 0 ? n : 1;  // \s+ (n == 0 cannot happen: every class is covered above)
    }
    ends.push_back(pos);
  }
}

struct NamedConfig {
  std::string_view name;
  PreTokenizerConfig config;
};

// tokenizer.ggml.pre values and their flags, as in llama.cpp's llama_vocab::load. Not
// reproduced: chatglm-bpe/glm4 also drop llama.cpp's default BOS id (only matters when the
// file has no bos_token_id), and families with other patterns (deepseek-llm, tekken, gpt-4o,
// ...) fall back to GPT-2 with a warning.
constexpr PreTokenizerConfig kGpt2Cfg{PreTokenizerKind::kGpt2, false, false, true};
constexpr PreTokenizerConfig kDigitsCfg{PreTokenizerKind::kDigitsGpt2, false, false, true};
constexpr PreTokenizerConfig kLlama3Cfg{PreTokenizerKind::kLlama3, true, true, true};
constexpr PreTokenizerConfig kLlama3NoBosCfg{PreTokenizerKind::kLlama3, false, false, true};
constexpr PreTokenizerConfig kQwen2Cfg{PreTokenizerKind::kQwen2, false, false, true};
constexpr std::array<NamedConfig, 37> kConfigs = {{
    {"gpt-2", kGpt2Cfg},
    {"phi-2", kGpt2Cfg},
    {"jina-es", kGpt2Cfg},
    {"jina-de", kGpt2Cfg},
    {"gigachat", kGpt2Cfg},
    {"jina-v2-es", kGpt2Cfg},
    {"jina-v2-de", kGpt2Cfg},
    {"a.x-4.0", kGpt2Cfg},
    {"mellum", kGpt2Cfg},
    {"mpt", kGpt2Cfg},
    {"olmo", kGpt2Cfg},
    {"jais", kGpt2Cfg},
    {"trillion", kGpt2Cfg},
    {"exaone4", kGpt2Cfg},
    {"granite-docling", kGpt2Cfg},
    {"starcoder", kDigitsCfg},
    {"refact", kDigitsCfg},
    {"command-r", kDigitsCfg},
    {"smollm", kDigitsCfg},
    {"codeshell", kDigitsCfg},
    {"exaone", kDigitsCfg},
    {"minerva-7b", kDigitsCfg},
    {"llama3", kLlama3Cfg},
    {"llama-v3", kLlama3Cfg},
    {"llama-bpe", kLlama3Cfg},
    {"falcon3", kLlama3Cfg},
    {"falcon-h1", kLlama3Cfg},
    {"pixtral", kLlama3Cfg},
    {"dbrx", kLlama3NoBosCfg},
    {"smaug-bpe", kLlama3NoBosCfg},
    {"chatglm-bpe", kLlama3NoBosCfg},
    {"glm4", kLlama3NoBosCfg},
    {"qwen2", kQwen2Cfg},
    {"deepseek-r1-qwen", kQwen2Cfg},
    {"megrez", kQwen2Cfg},
    {"stablelm2", kQwen2Cfg},
    {"hunyuan", kQwen2Cfg},
}};

}  // namespace

PreTokenizerConfig pre_tokenizer_config(std::string_view pre_name) {
  for (const NamedConfig& c : kConfigs) {
    if (c.name == pre_name) return c.config;
  }
  PreTokenizerConfig fallback = kGpt2Cfg;
  fallback.known = false;
  return fallback;
}

const char* pre_tokenizer_name(PreTokenizerKind kind) {
  switch (kind) {
    case PreTokenizerKind::kGpt2:
      return "gpt2";
    case PreTokenizerKind::kDigitsGpt2:
      return "digits+gpt2";
    case PreTokenizerKind::kLlama3:
      return "llama3";
    case PreTokenizerKind::kQwen2:
      return "qwen2";
  }
  return "?";
}

void pre_tokenize(PreTokenizerKind kind, std::span<const std::uint32_t> cps,
                  std::vector<std::size_t>& word_ends) {
  Text t{cps, {}};
  t.cls.reserve(cps.size());
  for (std::uint32_t cp : cps) t.cls.push_back(codepoint_class(cp));
  switch (kind) {
    case PreTokenizerKind::kGpt2:
      split_gpt2(t, 0, cps.size(), word_ends);
      break;
    case PreTokenizerKind::kDigitsGpt2:
      split_digits_gpt2(t, 0, cps.size(), word_ends);
      break;
    case PreTokenizerKind::kLlama3:
      split_llama3(t, 0, cps.size(), 3, word_ends);
      break;
    case PreTokenizerKind::kQwen2:
      split_llama3(t, 0, cps.size(), 1, word_ends);
      break;
  }
}

}  // namespace zinfer::tok
