// Working vocabularies for synthetic models, learnt deterministically from a built-in
// English text. Byte-level BPE (tokenizer.ggml.model "gpt2"): the 256 GPT-2 byte-to-unicode
// tokens, merges, the family's special tokens as CONTROL, and [PADn] UNUSED fillers up to
// n_vocab. SentencePiece ("llama", synthetic_spm_vocab.cpp): <0xXX> byte tokens, ▁-prefixed
// pieces with scores, and the family's special tokens where the real vocabulary has them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/core/error.h"

namespace zinfer::model {

// Which real model family the vocabulary's layout and special ids imitate.
enum class VocabStyle {
  kSmolLM,  // pre "smollm": specials at ids 0..2, bos <|im_start|>, eos <|im_end|>
  kQwen2,   // pre "qwen2": specials after the merges, bos <|endoftext|>, eos <|im_end|>
  kLlama3,  // pre "llama-bpe": as qwen2, but add_bos_token = true
  kGpt2,    // pre "gpt-2": only <|endoftext|> (last id) as bos/eos/unk, no chat template
  kGemma3,  // SentencePiece laid out like Gemma 3's: <pad> <eos> <bos> <unk> <mask> first,
            // <start_of_turn>/<end_of_turn>, byte tokens, pieces, <unusedN> fillers
  kPhi3,    // SentencePiece laid out like Phi-3's (Llama 2 + chat tokens at the end)
  kGptOss,  // pre "gpt-4o" (o200k's rules), otherwise laid out as kQwen2
};

struct SyntheticVocab {
  std::string model = "gpt2";             // tokenizer.ggml.model: "gpt2" or "llama"
  std::string pre;                        // tokenizer.ggml.pre
  std::vector<std::string> tokens;        // tokenizer.ggml.tokens, size n_vocab
  std::vector<std::int32_t> token_types;  // tokenizer.ggml.token_type (llama_token_type)
  std::vector<std::string> merges;        // tokenizer.ggml.merges, "left right", rank order (BPE)
  std::vector<float> scores;              // tokenizer.ggml.scores (SentencePiece only)
  std::int32_t bos_id = -1;
  std::int32_t eos_id = -1;
  std::int32_t pad_id = -1;  // -1: not written
  std::int32_t unk_id = -1;  // -1: not written
  bool add_bos = false;
  std::optional<bool> add_sep;  // tokenizer.ggml.add_sep_token, when the converter writes it
  std::optional<bool> add_eos;  // tokenizer.ggml.add_eos_token, likewise
  std::optional<bool> add_space_prefix;  // tokenizer.ggml.add_space_prefix (Gemma 3: false)
  std::string chat_template;             // empty: not written
};

// n_vocab must hold the bytes and the style's special tokens (≥ 259 for BPE styles);
// kInvalidParameter otherwise.
Result<SyntheticVocab> build_synthetic_vocab(VocabStyle style, std::int32_t n_vocab);
// The SentencePiece styles (kGemma3, kPhi3); build_synthetic_vocab dispatches to it.
Result<SyntheticVocab> build_spm_vocab(VocabStyle style, std::int32_t n_vocab);

// The GPT-2 byte-to-unicode mapping: the UTF-8 text of the token standing for byte b.
std::string byte_token_text(std::uint8_t b);
// The English text every synthetic vocabulary is learnt from.
std::string_view synthetic_training_text();

// Training words (each a sequence of symbols) with their counts.
using WordCounts = std::map<std::vector<std::string>, std::int64_t>;
// One step of BPE training, as both vocabulary styles learn: the most frequent pair of adjacent
// symbols (ties: the first pair in text order) is merged wherever it occurs. Returns the pair,
// or nullopt when no word has two symbols left.
std::optional<std::pair<std::string, std::string>> merge_most_frequent_pair(WordCounts& words);

}  // namespace zinfer::model
