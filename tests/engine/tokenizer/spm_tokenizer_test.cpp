// SentencePiece-style tokenizer against llama.cpp (golden fixtures written by
// scripts/golden/spm_tokenizer_vectors.py with llama-cpp-python) for Gemma 3 270M (262k
// vocab, no space prefix) and a small synthetic Phi-3-style vocab (llama.cpp's SPM defaults,
// space prefix, byte fallback, right-stripping specials): ids for ~100 strings with
// parse_special off/on and add_special, token_to_piece and llama_detokenize output,
// BOS/EOS/add flags, the EOG set and a hash over every piece. Plus hand-derived merges on a
// tiny vocab and the construction errors.
#include "engine/tokenizer/spm_tokenizer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"
#include "tests/engine/tokenizer/golden_fixture.h"
#include "tests/test_util.h"

namespace zinfer::tok {
namespace {

using golden::cpu_ms;
using golden::from_hex;
using nlohmann::json;

struct Fixture {
  const char* name;
  const char* model;  // a real model in models_dir(), or a file under tests/data/
  bool in_test_data;
  const char* vectors;
  bool add_space_prefix;  // tokenizer.ggml.add_space_prefix (absent in the synthetic: true)
};

const Fixture kFixtures[] = {
    {"gemma3", "gemma-3-270m-q4_k_m.gguf", false, "tokenizer/gemma3_vectors.json", false},
    {"synthetic", "tokenizer/spm_synthetic.gguf", true, "tokenizer/spm_synthetic_vectors.json",
     true},
};

using Loaded = golden::LoadedTokenizer;

class SpmGolden : public ::testing::TestWithParam<Fixture> {
 protected:
  void SetUp() override {
    const std::string text = testing::read_file(testing::data_path(GetParam().vectors));
    ASSERT_FALSE(text.empty()) << "missing fixture " << GetParam().vectors;
    golden_ = json::parse(text);
  }
  json golden_;
};

// var names the variable the macro declares: it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define LOAD_OR_SKIP(var)                                                   \
  std::string var##_path;                                                   \
  if (GetParam().in_test_data) {                                            \
    var##_path = testing::data_path(GetParam().model);                      \
  } else {                                                                  \
    ZINFER_REQUIRE_MODEL(real_path, GetParam().model);                      \
    var##_path = real_path;                                                 \
  }                                                                         \
  Loaded& var = golden::load_tokenizer_once(var##_path);                    \
  ASSERT_NE(var.tok, nullptr);                                              \
  const auto* var##_spm = dynamic_cast<const SpmTokenizer*>(var.tok.get()); \
  ASSERT_NE(var##_spm, nullptr) << "tokenizer.ggml.model = llama must build an SpmTokenizer"
// NOLINTEND(bugprone-macro-parentheses)

TEST_P(SpmGolden, SpecialIdsFlagsAndEog) {
  LOAD_OR_SKIP(m);
  const Tokenizer& t = *m.tok;
  golden::expect_special_ids(t, golden_);
  EXPECT_EQ(m_spm->add_space_prefix(), GetParam().add_space_prefix);
}

TEST_P(SpmGolden, EncodeMatchesLlamaCpp) {
  LOAD_OR_SKIP(m);
  golden::expect_encodings(*m.tok, golden_);
}

TEST_P(SpmGolden, DecodeMatchesLlamaCppAndRoundTrips) {
  LOAD_OR_SKIP(m);
  const SpmTokenizer& t = *m_spm;
  int round_trips = 0;
  for (const json& v : golden_["vectors"]) {
    const std::string name = v["name"];
    const std::string input = from_hex(v["bytes_hex"]);
    const auto ids = v["ids"].get<std::vector<std::int32_t>>();
    const auto ids_special = v["ids_parse_special"].get<std::vector<std::int32_t>>();
    const auto ids_add = v["ids_add_special"].get<std::vector<std::int32_t>>();
    // token_to_piece, joined.
    EXPECT_EQ(t.decode(ids, false), from_hex(v["decoded_hex"])) << name;
    EXPECT_EQ(t.decode(ids_special, true), from_hex(v["decoded_parse_special_hex"])) << name;
    // llama_detokenize: leading-space removal and BOS/EOS removal.
    const std::string detok = from_hex(v["detok_hex"]);
    const std::string detok_add = from_hex(v["detok_add_special_hex"]);
    EXPECT_EQ(t.detokenize(ids, false, false), detok) << name;
    EXPECT_EQ(t.detokenize(ids_add, true, true), detok_add) << name;
    // Round trip wherever llama.cpp round-trips (it does not where special-looking text
    // becomes a token, a space follows a right-stripping special, or input is invalid UTF-8).
    if (detok == input) {
      EXPECT_EQ(t.detokenize(t.encode(input, false, false), false, false), input) << name;
      ++round_trips;
    }
    if (detok_add == input) {
      EXPECT_EQ(t.detokenize(t.encode(input, true, true), true, true), input) << name;
    }
  }
  EXPECT_GE(round_trips, 50);
}

TEST_P(SpmGolden, EveryTokenPieceMatchesLlamaCpp) {
  LOAD_OR_SKIP(m);
  golden::expect_pieces(*m.tok, golden_);
}

TEST_P(SpmGolden, BuildAndEncodeAreFast) {
  LOAD_OR_SKIP(m);
  EXPECT_LT(m.build_ms, 300.0) << "tokenizer construction took " << m.build_ms << " ms";
  std::string text;
  const json& vecs = golden_["vectors"];
  while (text.size() < 10 * 1024) {
    for (const json& v : vecs) text += from_hex(v["bytes_hex"]);
  }
  text.resize(10 * 1024);
  for (bool parse_special : {false, true}) {
    std::vector<std::int32_t> ids;
    const double t0 = cpu_ms();
    for (int rep = 0; rep < 5; ++rep) ids = m.tok->encode(text, false, parse_special);
    const double ms = (cpu_ms() - t0) / 5;
    std::printf(
        "[ timing ] %s: build %.1f ms, encode 10 KiB (parse_special=%d) -> %zu tokens in %.2f ms "
        "(thread CPU time)\n",
        GetParam().name, m.build_ms, parse_special, ids.size(), ms);
    EXPECT_LT(ms, 10.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabs, SpmGolden, ::testing::ValuesIn(kFixtures),
                         [](const ::testing::TestParamInfo<Fixture>& i) {
                           return std::string(i.param.name);
                         });

// A vocab small enough to derive every merge by hand: the byte tokens, "▁" and a few pieces.
SpmSpec tiny_spec() {
  SpmSpec s;
  s.tokens = {"<unk>", "<s>", "</s>"};
  s.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  s.scores = {0, 0, 0};
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    s.tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
    s.types.push_back(TokenType::kByte);
    s.scores.push_back(0);
  }
  const std::string sp = "\xE2\x96\x81";  // "▁"
  const std::vector<std::pair<std::string, float>> pieces = {
      {sp, -1},   {"a", -2},  {"b", -2},   {"c", -2},      {"aa", -3},
      {"ab", -5}, {"bc", -4}, {"abc", -6}, {sp + "a", -7}, {sp + "aa", -2}};
  for (const auto& [text, score] : pieces) {
    s.tokens.push_back(text);
    s.types.push_back(TokenType::kNormal);
    s.scores.push_back(score);
  }
  return s;
}

std::vector<std::string> texts(const Tokenizer& t, const std::vector<std::int32_t>& ids) {
  std::vector<std::string> out;
  for (std::int32_t id : ids) out.push_back(t.token_text(id));
  return out;
}

TEST(SpmTokenizer, HandDerivedMerges) {
  SpmSpec spec = tiny_spec();
  spec.add_space_prefix = false;
  auto made = SpmTokenizer::create(spec);
  ASSERT_TRUE(made.ok()) << made.error().message;
  const SpmTokenizer& t = **made;
  using V = std::vector<std::string>;
  // Equal scores: the leftmost pair merges first.
  EXPECT_EQ(texts(t, t.encode("aaa", false, false)), (V{"aa", "a"}));
  // The higher score wins: "aa" (-3) before "ab" (-5), and "aab" is no token.
  EXPECT_EQ(texts(t, t.encode("aab", false, false)), (V{"aa", "b"}));
  // A merge joins any two symbols whose text is a token: "bc" (-4), then "a" + "bc" = "abc".
  EXPECT_EQ(texts(t, t.encode("abc", false, false)), (V{"abc"}));
  // "▁a" (-7) loses to "aa" (-3); then "▁"+"aa" = "▁aa" (-2) merges.
  EXPECT_EQ(texts(t, t.encode(" aa", false, false)), (V{"\xE2\x96\x81"
                                                        "aa"}));
  // Characters without a token fall back to their UTF-8 bytes.
  EXPECT_EQ(texts(t, t.encode("\xC3\xA9", false, false)), (V{"<0xC3>", "<0xA9>"}));
  // Defaults of an SPM vocab: BOS = 1, add BOS, no EOS.
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_EQ(t.encode("", true, false), (std::vector<std::int32_t>{1}));
  EXPECT_EQ(t.decode(t.encode(" a\xC3\xA9 b", false, false), false), " a\xC3\xA9 b");

  // With the space prefix (the default) " " is prepended to the first raw fragment and after
  // each special token; detokenize takes it off again.
  auto prefixed = SpmTokenizer::create(tiny_spec());
  ASSERT_TRUE(prefixed.ok());
  const SpmTokenizer& p = **prefixed;
  EXPECT_TRUE(p.add_space_prefix());
  EXPECT_EQ(texts(p, p.encode("aa", false, false)), (V{"\xE2\x96\x81"
                                                       "aa"}));
  EXPECT_EQ(texts(p, p.encode("aa</s>aa", false, true)), (V{"\xE2\x96\x81"
                                                            "aa",
                                                            "</s>",
                                                            "\xE2\x96\x81"
                                                            "aa"}));
  const auto ids = p.encode("aa b", true, false);
  EXPECT_EQ(p.decode(ids, false), " aa b");
  EXPECT_EQ(p.detokenize(ids, false, false), " aa b");  // BOS renders as "" and takes the strip
  EXPECT_EQ(p.detokenize(ids, true, false), " aa b");   // BOS removed: the space stays
  EXPECT_EQ(p.detokenize(std::vector<std::int32_t>(ids.begin() + 1, ids.end()), false, false),
            "aa b");
}

TEST(SpmTokenizer, ConstructionErrorsNameTheKey) {
  SpmSpec short_scores = tiny_spec();
  short_scores.scores.resize(10);
  auto a = SpmTokenizer::create(short_scores);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, ErrorCode::kModelLoadFailed);
  EXPECT_NE(a.error().message.find("tokenizer.ggml.scores"), std::string::npos);

  SpmSpec no_bos = tiny_spec();
  no_bos.special.bos = 100000;  // outside the vocab: ignored, default 1 kept
  auto b = SpmTokenizer::create(no_bos);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->bos_id(), 1);

  SpmSpec empty;
  auto c = SpmTokenizer::create(empty);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("tokenizer.ggml.tokens"), std::string::npos);
}

}  // namespace
}  // namespace zinfer::tok
