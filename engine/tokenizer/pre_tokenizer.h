// Pre-tokenizers of byte-level BPE models: split text into words before BPE merges, one per
// tokenizer.ggml.pre family. Each reproduces the regex llama.cpp uses for that family as a
// hand-written matcher over code points (no std::regex: it has no \p{L}):
//   kGpt2:    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
//   kDigitsGpt2 (starcoder, smollm, refact, command-r, ...): first \p{N} (every number code
//             point alone), then the GPT-2 pattern inside each remaining piece
//   kLlama3:  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//             | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   kQwen2:   the llama3 pattern with \p{N} instead of \p{N}{1,3}
// \s is Unicode White_Space (as in llama.cpp), \p{X} the general category (unicode.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace zinfer::tok {

enum class PreTokenizerKind {
  kGpt2,
  kDigitsGpt2,
  kLlama3,
  kQwen2,
};

// What a tokenizer.ggml.pre name implies besides the split pattern (llama.cpp's flags).
struct PreTokenizerConfig {
  PreTokenizerKind kind = PreTokenizerKind::kGpt2;
  bool ignore_merges = false;  // a word that is itself a token is emitted without merging
  bool add_bos = false;        // default of tokenizer.ggml.add_bos_token
  bool known = true;           // false: unknown name, fell back to GPT-2
};

// Maps a tokenizer.ggml.pre value to its configuration. Unknown names (and "default" or an
// empty name) fall back to GPT-2 with known = false; the caller logs a warning.
PreTokenizerConfig pre_tokenizer_config(std::string_view pre_name);
const char* pre_tokenizer_name(PreTokenizerKind kind);

// Splits code points into words; appends the end offset (exclusive, in code points) of each
// word to word_ends, in order. Every code point belongs to exactly one word.
void pre_tokenize(PreTokenizerKind kind, std::span<const std::uint32_t> cps,
                  std::vector<std::size_t>& word_ends);

}  // namespace zinfer::tok
