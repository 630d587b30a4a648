// Synthetic Gemma 3, Phi-3 and GPT-2 presets: published parameter counts and shapes, the
// metadata keys llama.cpp's converters write for each architecture (checked against the
// real Gemma 3 270M GGUF when it is present), and vocabularies that load as working
// tokenizers (SentencePiece for Gemma 3 / Phi-3, byte-level BPE for GPT-2).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "engine/gguf/gguf_file.h"
#include "engine/model/hparams.h"
#include "engine/synthetic/synthetic_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/test_util.h"

namespace zinfer::model {
namespace {

std::string write_tiny(const std::string& preset) {
  SyntheticOptions o;
  o.preset = preset;
  o.type = quant::GgmlType::kQ8_0;
  o.seed = 3;
  return testing::write_synthetic(o, preset + ".gguf");
}

std::set<std::string> keys_with_prefix(const gguf::GgufFile& f, const std::string& prefix) {
  std::set<std::string> out;
  for (const auto& kv : f.metadata()) {
    if (kv.first.rfind(prefix, 0) == 0) out.insert(kv.first);
  }
  return out;
}

// Parameter counts of the published checkpoints (GGUF adds GPT-2's copied output matrix).
TEST(SyntheticArchPresets, ParameterCountsMatchPublishedModels) {
  struct Want {
    const char* preset;
    double params;  // millions
  };
  const Want wants[] = {
      {"gemma-3-270m", 268.1},  // 170M embedding + 98M transformer
      {"gemma-3-1b", 999.9},         {"phi-3-mini-4k", 3821.1},
      {"gpt2", 124.4 + 38.6},  // + output.weight (50257 × 768)
      {"gpt2-medium", 354.8 + 51.5},
  };
  for (const auto& w : wants) {
    SCOPED_TRACE(w.preset);
    const auto plan = testing::synthetic_plan(w.preset);
    ASSERT_TRUE(plan.has_value());
    double n = 0.0;
    for (const auto& t : plan->tensors) {
      double e = 1.0;
      for (auto x : t.ne) e *= static_cast<double>(x);
      n += e;
    }
    EXPECT_NEAR(n / 1e6, w.params, w.params * 0.005);
  }
}

TEST(SyntheticArchPresets, HparamsReadBackFromMetadata) {
  struct Want {
    const char* preset;
    std::int32_t head_dim, n_head_kv, sliding_window;
    float eps;
  };
  for (const Want w : {Want{"tiny-gemma3", 128, 1, 4, 1e-6f}, Want{"tiny-phi3", 64, 2, 2047, 1e-5f},
                       Want{"tiny-gpt2", 64, 4, 0, 1e-5f}}) {
    SCOPED_TRACE(w.preset);
    auto file = gguf::GgufFile::open(write_tiny(w.preset));
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto hp = read_hparams(**file);
    ASSERT_TRUE(hp.ok()) << hp.error().message;
    EXPECT_EQ(hp->head_dim, w.head_dim);
    EXPECT_EQ(hp->n_head_kv, w.n_head_kv);
    EXPECT_EQ(hp->sliding_window, w.sliding_window);
    EXPECT_EQ(hp->norm_eps, w.eps);
    EXPECT_EQ(hp->n_vocab, 512);
  }
}

// The keys each converter writes beyond general.* (Gemma3Model, Phi3MiniModel, GPT2Model
// set_gguf_parameters plus the special-token vocab section).
TEST(SyntheticArchPresets, ArchitectureKeysAreTheConvertersOnes) {
  const std::set<std::string> gemma3 = {"gemma3.context_length",
                                        "gemma3.embedding_length",
                                        "gemma3.block_count",
                                        "gemma3.feed_forward_length",
                                        "gemma3.attention.head_count",
                                        "gemma3.attention.head_count_kv",
                                        "gemma3.attention.layer_norm_rms_epsilon",
                                        "gemma3.attention.key_length",
                                        "gemma3.attention.value_length",
                                        "gemma3.rope.freq_base",
                                        "gemma3.attention.sliding_window"};
  const std::set<std::string> phi3 = {"phi3.context_length",
                                      "phi3.rope.scaling.original_context_length",
                                      "phi3.embedding_length",
                                      "phi3.feed_forward_length",
                                      "phi3.block_count",
                                      "phi3.attention.head_count",
                                      "phi3.attention.head_count_kv",
                                      "phi3.attention.layer_norm_rms_epsilon",
                                      "phi3.rope.dimension_count",
                                      "phi3.rope.freq_base",
                                      "phi3.attention.sliding_window"};
  const std::set<std::string> gpt2 = {
      "gpt2.block_count",         "gpt2.context_length",       "gpt2.embedding_length",
      "gpt2.feed_forward_length", "gpt2.attention.head_count", "gpt2.attention.layer_norm_epsilon"};
  for (const auto& [preset, want] :
       {std::pair{"tiny-gemma3", gemma3}, {"tiny-phi3", phi3}, {"tiny-gpt2", gpt2}}) {
    SCOPED_TRACE(preset);
    auto file = gguf::GgufFile::open(write_tiny(preset));
    ASSERT_TRUE(file.ok()) << file.error().message;
    const std::string arch = (*file)->get_string("general.architecture").value();
    EXPECT_EQ(keys_with_prefix(**file, arch + "."), want);
  }
}

// Same keys, same value types and the same tokenizer section as the real converted file.
TEST(SyntheticArchPresets, Gemma3KeysMatchRealGguf) {
  ZINFER_REQUIRE_MODEL(real_path, "gemma-3-270m-q4_k_m.gguf");
  auto real = gguf::GgufFile::open(real_path);
  ASSERT_TRUE(real.ok()) << real.error().message;
  auto ours = gguf::GgufFile::open(write_tiny("tiny-gemma3"));
  ASSERT_TRUE(ours.ok()) << ours.error().message;
  for (const std::string prefix : {"gemma3.", "tokenizer."}) {
    const auto want = keys_with_prefix(**real, prefix);
    EXPECT_EQ(keys_with_prefix(**ours, prefix), want);
    for (const auto& key : want) {
      const gguf::MetaValue* a = (*real)->find(key);
      const gguf::MetaValue* b = (*ours)->find(key);
      if (a != nullptr && b != nullptr) {
        EXPECT_EQ(a->type, b->type) << key;
      }
    }
  }
  // Token kinds in the real file's order: control specials, bytes, pieces, fillers.
  auto tok = tok::Tokenizer::from_gguf(**ours);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ((*tok)->token_text(2), "<bos>");
  EXPECT_EQ((*tok)->token_text(1), "<eos>");
  EXPECT_EQ((*tok)->token_type(10), tok::TokenType::kByte);
  EXPECT_EQ((*tok)->token_text(10), "<0x00>");
}

TEST(SyntheticArchPresets, VocabulariesAreWorkingTokenizers) {
  const std::string text = "The miller kept a careful record of the river, 42 sacks & caf\xc3\xa9!";
  for (const std::string preset : {"tiny-gemma3", "tiny-phi3", "tiny-gpt2"}) {
    SCOPED_TRACE(preset);
    auto file = gguf::GgufFile::open(write_tiny(preset));
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto tok = tok::Tokenizer::from_gguf(**file);
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    const tok::Tokenizer& t = **tok;
    EXPECT_EQ(t.vocab_size(), 512);
    const auto ids = t.encode(text, /*add_special=*/false, /*parse_special=*/false);
    std::string decoded = t.decode(ids, false);
    if (preset == "tiny-phi3" && !decoded.empty() && decoded[0] == ' ')
      decoded.erase(0, 1);  // space prefix
    EXPECT_EQ(decoded, text);
    EXPECT_LT(ids.size(), text.size() * 2 / 3) << "learnt pieces should compress English text";
    EXPECT_TRUE(t.is_eog(t.eos_id()));
  }
}

TEST(SyntheticArchPresets, SpecialTokensFollowTheRealVocabularies) {
  {
    auto file = gguf::GgufFile::open(write_tiny("tiny-gemma3"));
    ASSERT_TRUE(file.ok());
    auto tok = tok::Tokenizer::from_gguf(**file);
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    EXPECT_TRUE((*tok)->add_bos());
    const auto ids = (*tok)->encode("<start_of_turn>user\nhi<end_of_turn>\n", /*add_special=*/true,
                                    /*parse_special=*/true);
    ASSERT_GE(ids.size(), 4u);
    EXPECT_EQ(ids[0], 2);  // <bos>
    EXPECT_EQ((*tok)->token_text(ids[1]), "<start_of_turn>");
    EXPECT_EQ((*tok)->token_type(ids[1]), tok::TokenType::kControl);
  }
  {
    auto file = gguf::GgufFile::open(write_tiny("tiny-phi3"));
    ASSERT_TRUE(file.ok());
    auto tok = tok::Tokenizer::from_gguf(**file);
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    EXPECT_EQ((*tok)->token_text((*tok)->eos_id()), "<|endoftext|>");
    EXPECT_EQ((*tok)->token_text(511), "<|user|>");
    auto prompt = (*tok)->apply_chat_template({{"user", "hi"}}, true);
    if (prompt.ok()) {
      EXPECT_EQ(*prompt, "<|user|>\nhi<|end|>\n<|assistant|>\n");
    }
  }
  {
    auto file = gguf::GgufFile::open(write_tiny("tiny-gpt2"));
    ASSERT_TRUE(file.ok());
    auto tok = tok::Tokenizer::from_gguf(**file);
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    EXPECT_EQ((*tok)->eos_id(), 511);
    EXPECT_EQ((*tok)->bos_id(), 511);
    EXPECT_EQ((*tok)->token_text(511), "<|endoftext|>");
    EXPECT_FALSE((*tok)->add_bos());
  }
}

}  // namespace
}  // namespace zinfer::model
