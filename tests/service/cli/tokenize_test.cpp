// `zinfer tokenize` / `zinfer detokenize` end to end: the built binary on the committed
// vocabulary-only GGUF files (no tensors) and on the real SmolLM2 model, each output format
// (--ids, --pieces, --json) against the Hugging Face ids of the family fixtures
// (tests/data/tokenizer/families/), special-token flags, the byte-exact round trip, and the
// typed error for an unknown pre-tokenizer with its --tokenizer-pre override.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/engine/tokenizer/golden_fixture.h"
#include "tests/service/cli/zinfer_process.h"
#include "tests/test_util.h"

namespace {

using nlohmann::json;
using zinfer::testing::run_zinfer;
using zinfer::testing::RunResult;
using zinfer::tok::golden::from_hex;

std::string family_path(const std::string& name) {
  return zinfer::testing::data_path("tokenizer/families/" + name);
}

json fixture(const std::string& family) {
  return json::parse(zinfer::testing::read_file(family_path(family + ".json")));
}

// The fixture's vector for a text, the text written to a temp file for --file.
struct Case {
  std::string text;
  std::vector<std::int32_t> ids;
  std::string file;
};

Case pick(const json& golden, const std::string& text) {
  for (const json& v : golden["vectors"]) {
    if (from_hex(v["bytes_hex"]) != text) continue;
    Case c{text, v["ids"].get<std::vector<std::int32_t>>(), ""};
    c.file = zinfer::testing::temp_dir() + "/" + golden["family"].get<std::string>() + "_" +
             std::to_string(std::hash<std::string>{}(text)) + ".txt";
    std::ofstream(c.file, std::ios::binary) << c.text;
    return c;
  }
  ADD_FAILURE() << "no vector for " << text;
  return {};
}

constexpr const char* kCode = "def f(x):\n    return x**2\n";
constexpr const char* kEmoji = "\U0001f468\u200d\U0001f469\u200d\U0001f467";  // ZWJ family
constexpr const char* kJapanese =
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002";
constexpr const char* kPunctuation =
    "Hello, world! ... !!!??? \u00abquotes\u00bb \u2014 dash \u2013";

std::string joined(const std::vector<std::int32_t>& ids) {
  std::string s;
  for (std::size_t i = 0; i < ids.size(); ++i) s += (i > 0 ? " " : "") + std::to_string(ids[i]);
  return s;
}

// Undoes the --pieces quoting of one line's piece ('...' with \n \r \t \\ \' \xNN).
std::string unquote(const std::string& q) {
  std::string out;
  for (std::size_t i = 1; i + 1 < q.size(); ++i) {
    if (q[i] != '\\') {
      out.push_back(q[i]);
      continue;
    }
    const char e = q[++i];
    if (e == 'n') {
      out.push_back('\n');
    } else if (e == 'r') {
      out.push_back('\r');
    } else if (e == 't') {
      out.push_back('\t');
    } else if (e == 'x') {
      out.push_back(static_cast<char>(std::stoi(q.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(e);
    }
  }
  return out;
}

// The committed gpt-4o vocabulary-only file: code with newlines and indentation, emoji
// (byte-level pieces of partial characters) and Japanese.
TEST(TokenizeCommandTest, IdsOnVocabOnlyFile) {
  REQUIRE_ZINFER_BINARY();
  const json g = fixture("gpt-4o");
  for (const char* name : {kCode, kEmoji, kJapanese}) {
    const Case c = pick(g, name);
    const RunResult r = run_zinfer("tokenize --model '" + family_path("gpt-4o.gguf") +
                                   "' --file '" + c.file + "' --parse-special");
    ASSERT_EQ(r.exit_code, 0) << name;
    EXPECT_EQ(r.out, joined(c.ids) + "\n") << name;
    const RunResult explicit_ids = run_zinfer("tokenize --model '" + family_path("gpt-4o.gguf") +
                                              "' --ids --file '" + c.file + "' --parse-special");
    EXPECT_EQ(explicit_ids.out, r.out);
  }
}

TEST(TokenizeCommandTest, PiecesFormat) {
  REQUIRE_ZINFER_BINARY();
  const Case c = pick(fixture("gpt-4o"), kCode);
  const RunResult r =
      run_zinfer("tokenize -m '" + family_path("gpt-4o.gguf") + "' --pieces -f '" + c.file + "'");
  ASSERT_EQ(r.exit_code, 0);
  std::vector<std::int32_t> ids;
  std::string text;
  std::size_t begin = 0;
  while (begin < r.out.size()) {
    const std::size_t nl = r.out.find('\n', begin);
    ASSERT_NE(nl, std::string::npos);
    const std::string line = r.out.substr(begin, nl - begin);
    const std::size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    ids.push_back(std::stoi(line.substr(0, tab)));
    text += unquote(line.substr(tab + 1));
    begin = nl + 1;
  }
  EXPECT_EQ(ids, c.ids);
  EXPECT_EQ(text, c.text);
  EXPECT_NE(r.out.find("\\n"), std::string::npos) << r.out;  // newlines are escaped
}

TEST(TokenizeCommandTest, JsonFormat) {
  REQUIRE_ZINFER_BINARY();
  const Case c = pick(fixture("tekken"), kPunctuation);
  const RunResult r = run_zinfer("tokenize --model '" + family_path("tekken.gguf") +
                                 "' --json --file '" + c.file + "'");
  ASSERT_EQ(r.exit_code, 0);
  const json d = json::parse(r.out);
  EXPECT_EQ(d["ids"].get<std::vector<std::int32_t>>(), c.ids);
  EXPECT_EQ(d["n_tokens"].get<std::size_t>(), c.ids.size());
  ASSERT_EQ(d["pieces"].size(), c.ids.size());
}

// Special tokens: --parse-special turns their text into the token; --add-special adds BOS
// (tekken's rule says add BOS; "<s>" is id 0 of the synthetic vocabulary).
TEST(TokenizeCommandTest, SpecialTokenFlags) {
  REQUIRE_ZINFER_BINARY();
  const std::string model = family_path("tekken.gguf");
  const RunResult parsed =
      run_zinfer("tokenize -m '" + model + "' --text '<|im_start|>hi' --parse-special");
  const RunResult plain = run_zinfer("tokenize -m '" + model + "' --text '<|im_start|>hi'");
  const RunResult bos = run_zinfer("tokenize -m '" + model +
                                   "' --text '<|im_start|>hi' --parse-special --add-special");
  ASSERT_EQ(parsed.exit_code, 0);
  EXPECT_EQ(parsed.out.substr(0, 2), "2 ");  // <|im_start|> is id 2
  EXPECT_NE(plain.out, parsed.out);
  EXPECT_EQ(bos.out, "0 " + parsed.out);
}

TEST(TokenizeCommandTest, FullModel) {
  REQUIRE_ZINFER_BINARY();
  ZINFER_REQUIRE_MODEL(path, "SmolLM2-135M-Instruct.Q4_1.gguf");
  const Case c = pick(fixture("smollm"), kJapanese);
  const RunResult r = run_zinfer("tokenize --model '" + path + "' --file '" + c.file + "'");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, joined(c.ids) + "\n");
}

TEST(DetokenizeCommandTest, RestoresTheTextByteForByte) {
  REQUIRE_ZINFER_BINARY();
  for (const char* family : {"gpt-4o", "deepseek-v3"}) {
    const json g = fixture(family);
    for (const char* name : {kEmoji, kCode, "\n\n\n"}) {
      const Case c = pick(g, name);
      const RunResult r =
          run_zinfer("detokenize --model '" + family_path(std::string(family) + ".gguf") +
                     "' --ids '" + joined(c.ids) + "'");
      ASSERT_EQ(r.exit_code, 0);
      EXPECT_EQ(r.out, c.text) << family;
    }
  }
  const RunResult bracketed =
      run_zinfer("detokenize -m '" + family_path("gpt-4o.gguf") + "' --ids '[2, 0]'");
  EXPECT_EQ(bracketed.out, "<|im_start|><s>");
  const RunResult skipped = run_zinfer("detokenize -m '" + family_path("gpt-4o.gguf") +
                                       "' --ids '[2, 0]' --skip-special");
  EXPECT_EQ(skipped.out, "");
  const RunResult outside =
      run_zinfer("detokenize -m '" + family_path("gpt-4o.gguf") + "' --ids '99999999' 2>&1");
  EXPECT_EQ(outside.exit_code, 2);
  EXPECT_NE(outside.out.find("INVALID_PARAMETER"), std::string::npos) << outside.out;
}

TEST(TokenizeCommandTest, UnknownPreTokenizerExitsTwoUnlessOverridden) {
  REQUIRE_ZINFER_BINARY();
  const std::string patched = zinfer::testing::copy_with_gguf_string(
      family_path("gpt-4o.gguf"), "tokenizer.ggml.pre", "gpt-4x", "cli_unknown_pre.gguf");
  ASSERT_FALSE(patched.empty());
  const RunResult refused = run_zinfer("tokenize -m '" + patched + "' --text hello 2>&1");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.out.find("MODEL_LOAD_FAILED"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("'gpt-4x'"), std::string::npos) << refused.out;
  const Case c = pick(fixture("gpt-4o"), kCode);
  const RunResult overridden = run_zinfer(
      "tokenize -m '" + patched + "' --tokenizer-pre gpt-4o -f '" + c.file + "' 2>/dev/null");
  EXPECT_EQ(overridden.exit_code, 0);
  EXPECT_EQ(overridden.out, joined(c.ids) + "\n");
}

}  // namespace
