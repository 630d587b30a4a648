// Pre-tokenizer word splits of every table row against the families' regexes run by
// Python's `regex` module (tests/data/tokenizer/pretokenizer_vectors.json from
// scripts/golden/pretokenizer_vectors.py), plus a few hand-derived splits and the
// tokenizer.ggml.pre name table.
#include "engine/tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/tokenizer/unicode.h"
#include "tests/engine/tokenizer/golden_fixture.h"
#include "tests/test_util.h"

namespace zinfer::tok {
namespace {

std::vector<std::string> split(std::string_view pre, const std::string& text) {
  const std::vector<std::uint32_t> cps = decode_utf8_lenient(text);
  std::vector<std::size_t> ends;
  Result<PreTokenizer> p = PreTokenizer::from_name(pre);
  EXPECT_TRUE(p.ok()) << pre;
  if (!p.ok()) return {};
  p->split(cps, ends);
  return golden::pieces_at(cps, ends);
}

using Words = std::vector<std::string>;

TEST(PreTokenizer, MatchesPythonRegexReference) {
  const std::string text =
      testing::read_file(testing::data_path("tokenizer/pretokenizer_vectors.json"));
  ASSERT_FALSE(text.empty());
  const nlohmann::json ref = nlohmann::json::parse(text);
  // Fixture key → the tokenizer.ggml.pre name whose rules it holds.
  const std::pair<const char*, std::string_view> kinds[] = {
      {"gpt2", "gpt-2"},
      {"digits_gpt2", "smollm"},
      {"llama3", "llama-bpe"},
      {"qwen2", "qwen2"},
      {"default", "default"},
      {"qwen35", "qwen35"},
      {"deepseek-llm", "deepseek-llm"},
      {"deepseek-coder", "deepseek-coder"},
      {"deepseek-v3", "deepseek-v3"},
      {"falcon", "falcon"},
      {"gpt-4o", "llama4"},
      {"tekken", "tekken"},
      {"gemma4", "gemma4"},
  };
  ASSERT_EQ(ref["patterns"].size(), std::size(kinds));
  ASSERT_GE(ref["cases"].size(), 60u);
  for (const auto& c : ref["cases"]) {
    const std::string input = c["text"];
    for (const auto& [key, kind] : kinds) {
      EXPECT_EQ(split(kind, input), c[key].get<Words>()) << key << " on " << c["text"].dump();
    }
  }
}

TEST(PreTokenizer, HandDerivedSplits) {
  EXPECT_EQ(split("gpt-2", "Hello world"), (Words{"Hello", " world"}));
  EXPECT_EQ(split("gpt-2", "a   b"), (Words{"a", "  ", " b"}));
  EXPECT_EQ(split("gpt-2", "I'm 42!"), (Words{"I", "'m", " 42", "!"}));
  EXPECT_EQ(split("starcoder", "x 2024"), (Words{"x", " ", "2", "0", "2", "4"}));
  EXPECT_EQ(split("llama3", "DON'T 1234567"), (Words{"DON", "'T", " ", "123", "456", "7"}));
  EXPECT_EQ(split("qwen2", "a 123"), (Words{"a", " ", "1", "2", "3"}));
  EXPECT_EQ(split("llama3", "x\n\n  y"), (Words{"x", "\n\n", " ", " y"}));
  EXPECT_EQ(split("llama3", "(hi)!!\n"), (Words{"(hi", ")!!\n"}));
  // Combining marks are not letters: NFD "é" splits before the mark.
  EXPECT_EQ(split("gpt-2", "cafe\xCC\x81"), (Words{"cafe", "\xCC\x81"}));
  EXPECT_TRUE(split("llama3", "").empty());
}

TEST(PreTokenizer, NameTable) {
  auto rules_of = [](std::string_view name) {
    Result<PreTokenizer> p = PreTokenizer::from_name(name);
    EXPECT_TRUE(p.ok()) << name;
    return p.ok() ? p->rules().id : std::string_view("(none)");
  };
  EXPECT_EQ(rules_of("smollm"), "starcoder");
  EXPECT_EQ(rules_of("command-r"), "starcoder");
  EXPECT_EQ(rules_of("deepseek-r1-qwen"), "qwen2");
  EXPECT_EQ(rules_of("llama4"), "gpt-4o");
  EXPECT_EQ(rules_of("qwen35"), "qwen35");
  Result<PreTokenizer> l3 = PreTokenizer::from_name("llama-bpe");
  ASSERT_TRUE(l3.ok());
  EXPECT_EQ(l3->rules().id, "llama3");
  EXPECT_EQ(l3->name(), "llama-bpe");
  EXPECT_TRUE(l3->rules().ignore_merges);
  EXPECT_TRUE(l3->rules().add_bos);
  Result<PreTokenizer> gemma4 = PreTokenizer::from_name("gemma4");
  ASSERT_TRUE(gemma4.ok());
  EXPECT_FALSE(gemma4->rules().byte_encode);
  EXPECT_TRUE(gemma4->rules().escape_whitespace);
}

// Every row's regexes compile, and each name in the list is accepted.
TEST(PreTokenizer, EverySupportedNameLoads) {
  const std::string names = PreTokenizer::supported_names();
  std::size_t begin = 0;
  int n = 0;
  while (begin < names.size()) {
    std::size_t end = names.find(", ", begin);
    if (end == std::string::npos) end = names.size();
    const std::string name = names.substr(begin, end - begin);
    Result<PreTokenizer> p = PreTokenizer::from_name(name);
    EXPECT_TRUE(p.ok()) << name << ": " << (p.ok() ? "" : p.error().message);
    ++n;
    begin = end + 2;
  }
  EXPECT_GE(n, 40);
}

// An unknown name is refused (no fallback): the error names it and lists the supported ones.
TEST(PreTokenizer, UnknownNameIsAnError) {
  for (std::string_view name : {"no-such-pre", "", "GPT-2", "qwen3.5"}) {
    Result<PreTokenizer> p = PreTokenizer::from_name(name);
    ASSERT_FALSE(p.ok()) << name;
    EXPECT_EQ(p.error().code, ErrorCode::kModelLoadFailed);
    EXPECT_NE(p.error().message.find("'" + std::string(name) + "'"), std::string::npos);
    EXPECT_NE(p.error().message.find("qwen35"), std::string::npos);
    EXPECT_NE(p.error().message.find("deepseek-coder"), std::string::npos);
  }
}

}  // namespace
}  // namespace zinfer::tok
