// BpeTokenizer on tiny hand-built vocabularies, where the expected ids follow by hand from
// the BPE rules (lowest rank first, leftmost on ties; special tokens longest first), and the
// table of malformed tokenizer metadata that must fail with an error naming the key.
#include "engine/tokenizer/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/tokenizer/byte_level.h"
#include "tests/test_util.h"

namespace zinfer::tok {
namespace {

// 256 byte tokens (ids = byte values), then `extra` tokens from id 256 on.
BpeSpec byte_spec(const std::vector<std::pair<std::string, TokenType>>& extra,
                  std::vector<std::string> merges) {
  BpeSpec spec;
  for (int b = 0; b < 256; ++b) {
    spec.tokens.push_back(bytes_to_byte_level(std::string(1, static_cast<char>(b))));
    spec.types.push_back(TokenType::kNormal);
  }
  for (const auto& [text, type] : extra) {
    spec.tokens.push_back(type == TokenType::kNormal ? bytes_to_byte_level(text) : text);
    spec.types.push_back(type);
  }
  for (std::string& m : merges) {
    const std::size_t sp = m.find(' ');
    m = bytes_to_byte_level(m.substr(0, sp)) + " " + bytes_to_byte_level(m.substr(sp + 1));
  }
  spec.merges = std::move(merges);
  spec.pre = "gpt-2";
  return spec;
}

std::unique_ptr<BpeTokenizer> make(BpeSpec spec) {
  auto t = BpeTokenizer::create(std::move(spec));
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  return t.ok() ? std::move(t.value()) : nullptr;
}

using Ids = std::vector<std::int32_t>;

TEST(BpeTokenizer, MergesByRankThenLeftmost) {
  // 256 = "ab", 257 = "bc", 258 = "abc", 259 = "aa"
  auto spec = byte_spec({{"ab", TokenType::kNormal},
                         {"bc", TokenType::kNormal},
                         {"abc", TokenType::kNormal},
                         {"aa", TokenType::kNormal}},
                        {"b c", "a b", "a bc", "ab c", "a a"});
  auto t = make(std::move(spec));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->encode("abc", false, false), (Ids{258}));  // b+c first (rank 0), then a+bc
  EXPECT_EQ(t->encode("ab", false, false), (Ids{256}));
  EXPECT_EQ(t->encode("aaa", false, false), (Ids{259, 'a'}));  // equal ranks: leftmost pair first
  EXPECT_EQ(t->encode("aaaa", false, false), (Ids{259, 259}));
  EXPECT_EQ(t->encode("cab", false, false), (Ids{'c', 256}));
  EXPECT_EQ(t->decode(t->encode("abcaab", false, false), false), "abcaab");
}

TEST(BpeTokenizer, MergeResultOutsideVocabFallsBackToByteTokens) {
  // "x y" merges, but "xy" is not a token: llama.cpp emits the single-character tokens.
  auto t = make(byte_spec({}, {"x y"}));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->encode("xy", false, false), (Ids{'x', 'y'}));
}

TEST(BpeTokenizer, SpecialTokensLongestFirstAndParseSpecial) {
  // 256 = "<ab>" user-defined (always matched), 257 = "<ab>c" control (parse_special only).
  auto spec = byte_spec({{"<ab>", TokenType::kUserDefined}, {"<ab>c", TokenType::kControl}}, {});
  auto t = make(std::move(spec));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->encode("x<ab>cx", false, true), (Ids{'x', 257, 'x'}));
  EXPECT_EQ(t->encode("x<ab>cx", false, false), (Ids{'x', 256, 'c', 'x'}));
  EXPECT_EQ(t->encode("<ab><ab>", false, false), (Ids{256, 256}));
  // Pieces: user-defined always rendered, control only with render_special.
  EXPECT_EQ(t->token_to_piece(256, false), "<ab>");
  EXPECT_EQ(t->token_to_piece(257, false), "");
  EXPECT_EQ(t->token_to_piece(257, true), "<ab>c");
  EXPECT_EQ(t->token_to_piece(-1, true), "");
  EXPECT_EQ(t->token_to_piece(t->vocab_size(), true), "");
}

TEST(BpeTokenizer, PiecesByTokenType) {
  // 256 byte-type "<0x41>", 257 unused, 258 undefined: llama.cpp renders the byte, then nothing.
  auto t = make(byte_spec({{"<0x41>", TokenType::kByte},
                           {"[unused]", TokenType::kUnused},
                           {"<undef>", TokenType::kUndefined}},
                          {}));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->token_to_piece(256, false), "A");
  EXPECT_EQ(t->token_to_piece(257, true), "");
  EXPECT_EQ(t->token_to_piece(258, true), "");
  EXPECT_EQ(t->token_to_piece(0x20, false), " ");  // byte-level "Ġ" back to a space
}

TEST(BpeTokenizer, BosEosFlagsAndEog) {
  auto spec = byte_spec({{"<s>", TokenType::kControl},
                         {"</s>", TokenType::kControl},
                         {"<|im_end|>", TokenType::kNormal}},
                        {});
  spec.special.bos = 256;
  spec.special.eos = 257;
  spec.special.add_bos = true;
  spec.special.add_eos = true;
  auto t = make(std::move(spec));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->encode("hi", true, false), (Ids{256, 'h', 'i', 257}));
  EXPECT_EQ(t->encode("hi", false, false), (Ids{'h', 'i'}));
  EXPECT_EQ(t->encode("", true, false), (Ids{256, 257}));
  // EOS, "</s>" and "<|im_end|>" (typed normal, found by text and then treated as control).
  EXPECT_EQ(t->eog_ids(), (Ids{257, 258}));
  EXPECT_TRUE(t->is_eog(258));
  EXPECT_EQ(t->encode("<|im_end|>", false, true), (Ids{258}));
  EXPECT_NE(t->encode("<|im_end|>", false, false), (Ids{258}));
  EXPECT_EQ(t->token_to_piece(258, false), "");
}

TEST(BpeTokenizer, UnknownPreTokenizerIsRefused) {
  auto spec = byte_spec({}, {});
  spec.pre = "some-future-model";
  auto t = BpeTokenizer::create(std::move(spec));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::kModelLoadFailed);
  EXPECT_NE(t.error().message.find("'some-future-model'"), std::string::npos);
}

TEST(BpeTokenizer, MissingPreTokenizerUsesLlamaCppDefault) {
  auto spec = byte_spec({}, {});
  spec.pre = "";
  auto t = make(std::move(spec));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->pre_tokenizer().rules().id, "default");
}

TEST(BpeTokenizer, Llama3IgnoresMergesForWholeWordTokens) {
  // "hello" is a token but no merge chain builds it: llama3 (ignore_merges) emits it whole.
  auto spec = byte_spec({{"hello", TokenType::kNormal}}, {});
  spec.pre = "llama-bpe";
  spec.special.bos = 'B';
  auto t = make(std::move(spec));
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->add_bos());
  EXPECT_EQ(t->encode("hello", false, false), (Ids{256}));
  EXPECT_EQ(t->encode("hello", true, false), (Ids{'B', 256}));
  spec = byte_spec({{"hello", TokenType::kNormal}}, {});
  spec.pre = "gpt-2";
  auto g = make(std::move(spec));
  EXPECT_EQ(g->encode("hello", false, false), (Ids{'h', 'e', 'l', 'l', 'o'}));
}

// ---- malformed metadata ----

struct BadCase {
  const char* name;
  void (*edit)(gguf::GgufWriter&);
  const char* key_in_message;
};

void base_metadata(gguf::GgufWriter& w) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b)
    tokens.push_back(bytes_to_byte_level(std::string(1, static_cast<char>(b))));
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "gpt-2");
  w.set("tokenizer.ggml.tokens", gguf::meta_string_array(tokens));
  const std::vector<std::string> merges = {"a b"};
  w.set("tokenizer.ggml.merges", gguf::meta_string_array(merges));
}

const BadCase kBadCases[] = {
    {"no_model", [](gguf::GgufWriter& w) { w.set_u32("tokenizer.ggml.model", 1); },
     "tokenizer.ggml.model"},
    {"unsupported_model", [](gguf::GgufWriter& w) { w.set_string("tokenizer.ggml.model", "rwkv"); },
     "tokenizer.ggml.model"},
    {"tokens_not_strings",
     [](gguf::GgufWriter& w) {
       const std::vector<std::int32_t> v = {1, 2};
       w.set("tokenizer.ggml.tokens", gguf::meta_i32_array(v));
     },
     "tokenizer.ggml.tokens"},
    {"tokens_empty",
     [](gguf::GgufWriter& w) { w.set("tokenizer.ggml.tokens", gguf::meta_string_array({})); },
     "tokenizer.ggml.tokens"},
    {"merges_not_strings", [](gguf::GgufWriter& w) { w.set_u32("tokenizer.ggml.merges", 3); },
     "tokenizer.ggml.merges"},
    {"types_short",
     [](gguf::GgufWriter& w) {
       const std::vector<std::int32_t> v = {1, 1, 1};
       w.set("tokenizer.ggml.token_type", gguf::meta_i32_array(v));
     },
     "tokenizer.ggml.token_type"},
    {"bos_id_not_int",
     [](gguf::GgufWriter& w) { w.set_string("tokenizer.ggml.bos_token_id", "1"); },
     "tokenizer.ggml.bos_token_id"},
    {"add_bos_not_bool", [](gguf::GgufWriter& w) { w.set_u32("tokenizer.ggml.add_bos_token", 1); },
     "tokenizer.ggml.add_bos_token"},
    {"add_eos_without_eos",
     [](gguf::GgufWriter& w) {
       // With fewer than 12 tokens the gpt2 default EOS (11) is dropped, leaving none.
       const std::vector<std::string> few = {"a", "b"};
       w.set("tokenizer.ggml.tokens", gguf::meta_string_array(few));
       w.set_bool("tokenizer.ggml.add_eos_token", true);
     },
     "tokenizer.ggml.add_eos_token"},
};

TEST(BpeTokenizer, MalformedMetadataFailsNamingTheKey) {
  for (const BadCase& c : kBadCases) {
    gguf::GgufWriter w;
    base_metadata(w);
    c.edit(w);
    const std::string path = testing::temp_dir() + "/bad_" + c.name + ".gguf";
    ASSERT_TRUE(w.open(path).ok()) << c.name;
    ASSERT_TRUE(w.close().ok()) << c.name;
    auto file = gguf::GgufFile::open(path);
    ASSERT_TRUE(file.ok()) << c.name << ": " << file.error().message;
    auto tok = Tokenizer::from_gguf(**file);
    ASSERT_FALSE(tok.ok()) << c.name;
    EXPECT_EQ(tok.error().code, ErrorCode::kModelLoadFailed) << c.name;
    EXPECT_NE(tok.error().message.find(c.key_in_message), std::string::npos)
        << c.name << ": " << tok.error().message;
  }
  // The base metadata itself is fine.
  gguf::GgufWriter w;
  base_metadata(w);
  const std::string path = testing::temp_dir() + "/good.gguf";
  ASSERT_TRUE(w.open(path).ok());
  ASSERT_TRUE(w.close().ok());
  auto file = gguf::GgufFile::open(path);
  ASSERT_TRUE(file.ok());
  auto tok = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ((*tok)->encode("ab", false, false), (Ids{'a', 'b'}));  // "ab" is no token
}

}  // namespace
}  // namespace zinfer::tok
