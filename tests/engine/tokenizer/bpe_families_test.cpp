// BPE tokenizer families against Hugging Face `tokenizers` (fixtures written by
// scripts/golden/bpe_family_vectors.py): for each family, the ids of its own HF tokenizer on
// llama.cpp's test strings (.out files), HF's ids from the GGUF vocabulary rebuilt as a
// tokenizer.json for ~50 more strings, or, for families without a vocabulary at hand, HF's
// ids on a small vocabulary it trained with that family's pre-tokenizer (committed GGUF);
// for o200k_harmony (gpt-oss), OpenAI's tiktoken on the real vocabulary
// (scripts/golden/o200k_harmony_vectors.py).
// Every string must also survive detokenize(tokenize(s)) unchanged.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/bpe_tokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/engine/tokenizer/golden_fixture.h"
#include "tests/test_util.h"

namespace zinfer::tok {
namespace {

using golden::from_hex;
using nlohmann::json;

struct Family {
  const char* fixture;  // tests/data/tokenizer/families/<fixture>.json
  const char* rules;    // the pre-tokenizer row its tokenizer.ggml.pre selects
};

const Family kFamilies[] = {
    {"qwen35", "qwen35"},
    {"qwen2", "qwen2"},
    {"deepseek-llm", "deepseek-llm"},
    {"deepseek-coder", "deepseek-coder"},
    {"deepseek-v3", "deepseek-v3"},
    {"falcon", "falcon"},
    {"gpt-4o", "gpt-4o"},
    {"o200k-harmony", "gpt-4o"},  // gpt-oss's real vocabulary, ids from tiktoken
    {"llama4", "gpt-4o"},
    {"tekken", "tekken"},
    {"smollm", "starcoder"},
    {"starcoder", "starcoder"},
    {"llama-bpe", "llama3"},
    {"gpt-2", "gpt-2"},
    {"gemma4", "gemma4"},
};

std::string fixture_path(const std::string& name) {
  return testing::data_path("tokenizer/families/" + name);
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

class BpeFamily : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    const std::string text =
        testing::read_file(fixture_path(std::string(GetParam().fixture) + ".json"));
    ASSERT_FALSE(text.empty()) << "missing fixture for " << GetParam().fixture;
    golden_ = json::parse(text);
  }
  json golden_;
};

// The vocabulary: committed next to the fixture (synthetic ones), else fetched into the
// models cache by scripts/fetch_models.sh.
// var names the variable the macro declares: it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define LOAD_OR_SKIP(var)                                                 \
  const std::string var##_name = golden_["vocab"].get<std::string>();     \
  std::string var##_path = fixture_path(var##_name);                      \
  if (!exists(var##_path)) {                                              \
    ZINFER_REQUIRE_MODEL(var##_cached, var##_name);                       \
    var##_path = var##_cached;                                            \
  }                                                                       \
  golden::LoadedTokenizer& var = golden::load_tokenizer_once(var##_path); \
  ASSERT_NE(var.tok, nullptr)
// NOLINTEND(bugprone-macro-parentheses)

TEST_P(BpeFamily, SelectsItsPreTokenizer) {
  LOAD_OR_SKIP(m);
  const auto* bpe = dynamic_cast<const BpeTokenizer*>(m.tok.get());
  ASSERT_NE(bpe, nullptr);
  EXPECT_EQ(bpe->pre_tokenizer().rules().id, GetParam().rules);
  EXPECT_EQ(m.tok->vocab_size(), golden_["n_vocab"].get<int>());
}

TEST_P(BpeFamily, IdsEqualHuggingFace) {
  LOAD_OR_SKIP(m);
  const json& vectors = golden_["vectors"];
  ASSERT_GE(vectors.size(), 40u);
  int originals = 0;
  for (const json& v : vectors) {
    const std::string text = from_hex(v["bytes_hex"]);
    const auto want = v["ids"].get<std::vector<std::int32_t>>();
    EXPECT_EQ(m.tok->encode(text, false, true), want) << v["name"] << " " << v["source"];
    if (v["source"] == "hf-original") {
      // llama.cpp's own test tokenizes these without special-token parsing.
      EXPECT_EQ(m.tok->encode(text, false, false), want) << v["name"];
      ++originals;
    }
  }
  EXPECT_EQ(originals, golden_["original_lines_reproduced"].get<int>());
}

TEST_P(BpeFamily, DetokenizeRestoresText) {
  LOAD_OR_SKIP(m);
  for (const json& v : golden_["vectors"]) {
    const std::string text = from_hex(v["bytes_hex"]);
    const std::vector<std::int32_t> ids = m.tok->encode(text, false, true);
    EXPECT_EQ(m.tok->decode(ids, true), text) << v["name"];
  }
}

// The fixtures can tell pre-tokenizers apart: the vocabulary forced through another
// family's split rules (--tokenizer-pre) gets at least one string wrong.
TEST_P(BpeFamily, AnotherPreTokenizerGetsIdsWrong) {
  LOAD_OR_SKIP(m);
  TokenizerOptions options;
  options.pre_override = std::string(GetParam().rules) == "gpt-2" ? "qwen2" : "gpt-2";
  auto other = Tokenizer::from_gguf(*m.file, options);
  ASSERT_TRUE(other.ok()) << other.error().message;
  int differ = 0;
  for (const json& v : golden_["vectors"]) {
    const std::string text = from_hex(v["bytes_hex"]);
    if ((*other)->encode(text, false, true) != v["ids"].get<std::vector<std::int32_t>>()) ++differ;
  }
  EXPECT_GT(differ, 0) << options.pre_override;
}

INSTANTIATE_TEST_SUITE_P(Families, BpeFamily, ::testing::ValuesIn(kFamilies),
                         [](const ::testing::TestParamInfo<Family>& i) {
                           std::string name = i.param.fixture;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace zinfer::tok
