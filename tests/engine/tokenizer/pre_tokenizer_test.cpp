// Pre-tokenizer word splits against the regexes llama.cpp uses, run by Python's `regex`
// module (tests/data/tokenizer/pretokenizer_vectors.json from
// scripts/golden/pretokenizer_vectors.py), plus a few hand-derived splits and the
// tokenizer.ggml.pre name table.
#include "engine/tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/tokenizer/unicode.h"
#include "tests/test_util.h"

namespace zinfer::tok {
namespace {

std::vector<std::string> split(PreTokenizerKind kind, const std::string& text) {
  const std::vector<std::uint32_t> cps = decode_utf8_lenient(text);
  std::vector<std::size_t> ends;
  pre_tokenize(kind, cps, ends);
  std::vector<std::string> words;
  std::size_t begin = 0;
  for (std::size_t end : ends) {
    std::string w;
    for (std::size_t i = begin; i < end; ++i) append_utf8(w, cps[i]);
    words.push_back(w);
    begin = end;
  }
  EXPECT_EQ(begin, cps.size());
  return words;
}

using Words = std::vector<std::string>;

TEST(PreTokenizer, MatchesPythonRegexReference) {
  const std::string text =
      testing::read_file(testing::data_path("tokenizer/pretokenizer_vectors.json"));
  ASSERT_FALSE(text.empty());
  const nlohmann::json ref = nlohmann::json::parse(text);
  const std::pair<const char*, PreTokenizerKind> kinds[] = {
      {"gpt2", PreTokenizerKind::kGpt2},
      {"digits_gpt2", PreTokenizerKind::kDigitsGpt2},
      {"llama3", PreTokenizerKind::kLlama3},
      {"qwen2", PreTokenizerKind::kQwen2},
  };
  ASSERT_GE(ref["cases"].size(), 60u);
  for (const auto& c : ref["cases"]) {
    const std::string input = c["text"];
    for (const auto& [key, kind] : kinds) {
      EXPECT_EQ(split(kind, input), c[key].get<Words>()) << key << " on " << c["text"].dump();
    }
  }
}

TEST(PreTokenizer, HandDerivedSplits) {
  EXPECT_EQ(split(PreTokenizerKind::kGpt2, "Hello world"), (Words{"Hello", " world"}));
  EXPECT_EQ(split(PreTokenizerKind::kGpt2, "a   b"), (Words{"a", "  ", " b"}));
  EXPECT_EQ(split(PreTokenizerKind::kGpt2, "I'm 42!"), (Words{"I", "'m", " 42", "!"}));
  EXPECT_EQ(split(PreTokenizerKind::kDigitsGpt2, "x 2024"), (Words{"x", " ", "2", "0", "2", "4"}));
  EXPECT_EQ(split(PreTokenizerKind::kLlama3, "DON'T 1234567"),
            (Words{"DON", "'T", " ", "123", "456", "7"}));
  EXPECT_EQ(split(PreTokenizerKind::kQwen2, "a 123"), (Words{"a", " ", "1", "2", "3"}));
  EXPECT_EQ(split(PreTokenizerKind::kLlama3, "x\n\n  y"), (Words{"x", "\n\n", " ", " y"}));
  EXPECT_EQ(split(PreTokenizerKind::kLlama3, "(hi)!!\n"), (Words{"(hi", ")!!\n"}));
  // Combining marks are not letters: NFD "é" splits before the mark.
  EXPECT_EQ(split(PreTokenizerKind::kGpt2, "cafe\xCC\x81"), (Words{"cafe", "\xCC\x81"}));
  EXPECT_TRUE(split(PreTokenizerKind::kLlama3, "").empty());
}

TEST(PreTokenizer, NameTable) {
  EXPECT_EQ(pre_tokenizer_config("smollm").kind, PreTokenizerKind::kDigitsGpt2);
  EXPECT_EQ(pre_tokenizer_config("starcoder").kind, PreTokenizerKind::kDigitsGpt2);
  EXPECT_EQ(pre_tokenizer_config("qwen2").kind, PreTokenizerKind::kQwen2);
  EXPECT_EQ(pre_tokenizer_config("gpt-2").kind, PreTokenizerKind::kGpt2);
  const PreTokenizerConfig l3 = pre_tokenizer_config("llama-bpe");
  EXPECT_EQ(l3.kind, PreTokenizerKind::kLlama3);
  EXPECT_TRUE(l3.ignore_merges);
  EXPECT_TRUE(l3.add_bos);
  EXPECT_TRUE(pre_tokenizer_config("llama3").known);
  const PreTokenizerConfig unknown = pre_tokenizer_config("no-such-pre");
  EXPECT_FALSE(unknown.known);
  EXPECT_EQ(unknown.kind, PreTokenizerKind::kGpt2);
  EXPECT_FALSE(pre_tokenizer_config("").known);
}

}  // namespace
}  // namespace zinfer::tok
