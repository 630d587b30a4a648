// A working byte-level BPE vocabulary for synthetic models (tokenizer.ggml.model "gpt2"):
// the 256 GPT-2 byte-to-unicode tokens, merges learnt deterministically from a built-in
// English text, ChatML special tokens as CONTROL, and [PADn] UNUSED fillers up to n_vocab.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/error.h"

namespace zinfer::model {

// Which real model family the vocabulary's layout and special ids imitate.
enum class VocabStyle {
  kSmolLM,  // pre "smollm": specials at ids 0..2, bos <|im_start|>, eos <|im_end|>
  kQwen2,   // pre "qwen2": specials after the merges, bos <|endoftext|>, eos <|im_end|>
  kLlama3,  // pre "llama-bpe": as qwen2, but add_bos_token = true
};

struct SyntheticVocab {
  std::string pre;                       // tokenizer.ggml.pre
  std::vector<std::string> tokens;       // tokenizer.ggml.tokens, size n_vocab
  std::vector<std::int32_t> token_types; // tokenizer.ggml.token_type (llama_token_type)
  std::vector<std::string> merges;       // tokenizer.ggml.merges, "left right", rank order
  std::int32_t bos_id = -1;
  std::int32_t eos_id = -1;
  std::int32_t pad_id = -1;
  std::int32_t unk_id = -1;              // -1: not written
  bool add_bos = false;
  std::string chat_template;             // ChatML
};

// n_vocab must be at least 259 (bytes + 3 specials); kInvalidParameter otherwise.
Result<SyntheticVocab> build_synthetic_vocab(VocabStyle style, std::int32_t n_vocab);

// The GPT-2 byte-to-unicode mapping: the UTF-8 text of the token standing for byte b.
std::string byte_token_text(std::uint8_t b);

}  // namespace zinfer::model
