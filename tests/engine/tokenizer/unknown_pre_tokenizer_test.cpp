// No silent fallback: a GGUF whose tokenizer.ggml.pre this code does not know fails to load
// with MODEL_LOAD_FAILED naming the value, both as a vocabulary-only file (Tokenizer) and as
// a whole model (Llm::load); the expert override picks a pre-tokenizer explicitly. The
// synthetic files are the committed gpt-4o test vocabulary and a `mkmodel`-style model with
// the value patched in place.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/model/llm.h"
#include "engine/synthetic/synthetic_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/engine/tokenizer/golden_fixture.h"
#include "tests/test_util.h"

namespace zinfer::tok {
namespace {

constexpr const char* kPreKey = "tokenizer.ggml.pre";

std::string unknown_pre_vocab() {
  return testing::copy_with_gguf_string(testing::data_path("tokenizer/families/gpt-4o.gguf"),
                                        kPreKey, "gpt-4x", "unknown_pre_vocab.gguf");
}

void expect_refused(const Error& e, const std::string& value) {
  EXPECT_EQ(e.code, ErrorCode::kModelLoadFailed);
  EXPECT_NE(e.message.find("'" + value + "'"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("supported: "), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("gpt-4o"), std::string::npos) << e.message;
}

TEST(UnknownPreTokenizer, VocabOnlyFileIsRefused) {
  const std::string path = unknown_pre_vocab();
  ASSERT_FALSE(path.empty());
  auto file = gguf::GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  ASSERT_EQ(*(*file)->get_string(kPreKey), "gpt-4x");
  auto t = Tokenizer::from_gguf(**file);
  ASSERT_FALSE(t.ok());
  expect_refused(t.error(), "gpt-4x");
}

TEST(UnknownPreTokenizer, OverrideSelectsThePreTokenizer) {
  const std::string path = unknown_pre_vocab();
  ASSERT_FALSE(path.empty());
  auto file = gguf::GgufFile::open(path);
  ASSERT_TRUE(file.ok());
  TokenizerOptions options;
  options.pre_override = "gpt-4o";
  auto t = Tokenizer::from_gguf(**file, options);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const nlohmann::json golden = nlohmann::json::parse(
      testing::read_file(testing::data_path("tokenizer/families/gpt-4o.json")));
  for (const nlohmann::json& v : golden["vectors"]) {
    EXPECT_EQ((*t)->encode(golden::from_hex(v["bytes_hex"]), false, true),
              v["ids"].get<std::vector<std::int32_t>>());
  }
  options.pre_override = "not-a-pre-tokenizer";
  auto bad = Tokenizer::from_gguf(**file, options);
  ASSERT_FALSE(bad.ok());
  expect_refused(bad.error(), "not-a-pre-tokenizer");
}

TEST(UnknownPreTokenizer, ModelLoadIsRefused) {
  const std::string model =
      testing::write_synthetic("tiny-llama", quant::GgmlType::kF32, "tiny_model.gguf");
  ASSERT_FALSE(model.empty());
  auto original = gguf::GgufFile::open(model);
  ASSERT_TRUE(original.ok());
  const std::string pre = *(*original)->get_string(kPreKey);
  const std::string unknown(pre.size(), 'x');
  const std::string patched =
      testing::copy_with_gguf_string(model, kPreKey, unknown, "tiny_unknown_pre.gguf");
  ASSERT_FALSE(patched.empty());

  LlmOptions lo = testing::llm_options(patched, 64, 1);
  auto llm = Llm::load(lo);
  ASSERT_FALSE(llm.ok());
  expect_refused(llm.error(), unknown);

  lo.tokenizer_pre = pre;  // the expert override restores the model
  auto fixed = Llm::load(lo);
  ASSERT_TRUE(fixed.ok()) << fixed.error().message;
  EXPECT_GT((*fixed)->tokenizer().encode("hello world", false, false).size(), 0u);
}

}  // namespace
}  // namespace zinfer::tok
