// IncrementalDetokenizer: streamed output is always complete UTF-8. Expected outputs are
// hand-derived; the replacement of invalid bytes follows the Unicode Standard's maximal
// subpart practice (its Table 3-8 example), which Python's bytes.decode(errors="replace")
// also implements: b"a\xf1\x80\x80\xe1\x80\xc2b\x80c\x80\xbfd" -> "a���b�c��d".
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/bpe_tokenizer.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/unicode.h"
#include "tests/test_util.h"

namespace zinfer::tok {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

// Token id b is the single byte b; 256 is a control token "<|c|>".
std::unique_ptr<BpeTokenizer> byte_tokenizer() {
  BpeSpec spec;
  for (int b = 0; b < 256; ++b)
    spec.tokens.push_back(bytes_to_byte_level(std::string(1, static_cast<char>(b))));
  spec.types.assign(256, TokenType::kNormal);
  spec.tokens.push_back("<|c|>");
  spec.types.push_back(TokenType::kControl);
  spec.pre = "gpt-2";
  auto t = BpeTokenizer::create(std::move(spec));
  EXPECT_TRUE(t.ok());
  return std::move(t.value());
}

TEST(IncrementalDetokenizer, HoldsBackSplitCharacterUntilComplete) {
  auto t = byte_tokenizer();
  IncrementalDetokenizer d(*t);
  EXPECT_EQ(d.push('a'), "a");
  EXPECT_EQ(d.push(0xF0), "");
  EXPECT_EQ(d.push(0x9F), "");
  EXPECT_EQ(d.push(0x98), "");
  EXPECT_EQ(d.push(0x80), "\xF0\x9F\x98\x80");  // 😀 only once complete
  EXPECT_EQ(d.push('b'), "b");
  EXPECT_EQ(d.flush(), "");
}

TEST(IncrementalDetokenizer, ReplacesInvalidBytesAsSoonAsDecided) {
  auto t = byte_tokenizer();
  IncrementalDetokenizer d(*t);
  const std::vector<int> bytes = {0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2,
                                  0x62, 0x80, 0x63, 0x80, 0xBF, 0x64};
  // Output after each byte: F1 80 80 is undecided until E1 arrives; E1 80 until C2; C2
  // until b; a stray 80 or BF is invalid at once.
  const std::vector<std::string> expected = {"a",         "",    "",  "",    kFffd, "", kFffd,
                                             kFffd + "b", kFffd, "c", kFffd, kFffd, "d"};
  std::string all;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const std::string out = d.push(bytes[i]);
    EXPECT_EQ(out, expected[i]) << "after byte " << i;
    all += out;
  }
  all += d.flush();
  EXPECT_EQ(all, "a" + kFffd + kFffd + kFffd + "b" + kFffd + "c" + kFffd + kFffd + "d");
}

TEST(IncrementalDetokenizer, FlushReplacesIncompleteTailAndResets) {
  auto t = byte_tokenizer();
  IncrementalDetokenizer d(*t);
  EXPECT_EQ(d.push(0xE2), "");
  EXPECT_EQ(d.push(0x82), "");
  EXPECT_EQ(d.flush(), kFffd);  // one U+FFFD for the maximal subpart E2 82
  EXPECT_EQ(d.flush(), "");
  EXPECT_EQ(d.push('z'), "z");
  // Surrogates and overlongs are invalid (strict UTF-8), unlike llama.cpp's input decoder.
  EXPECT_EQ(d.push(0xED), "");
  EXPECT_EQ(d.push(0xA0), kFffd + kFffd);
  EXPECT_EQ(d.push(0xC0), kFffd);
}

TEST(IncrementalDetokenizer, RenderSpecialChoosesControlTokenText) {
  auto t = byte_tokenizer();
  IncrementalDetokenizer plain(*t);
  IncrementalDetokenizer special(*t, /*render_special=*/true);
  EXPECT_EQ(plain.push(256), "");
  EXPECT_EQ(special.push(256), "<|c|>");
  // A control token between the bytes of a character does not break the hold-back.
  EXPECT_EQ(plain.push(0xC3), "");
  EXPECT_EQ(plain.push(256), "");
  EXPECT_EQ(plain.push(0xA9), "\xC3\xA9");
}

TEST(IncrementalDetokenizer, RealModelEmojiOverByteTokensAndStreamedText) {
  ZINFER_REQUIRE_MODEL(path, "SmolLM2-135M-Instruct.Q4_1.gguf");
  auto file = gguf::GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tok = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const auto& bpe = dynamic_cast<const BpeTokenizer&>(**tok);
  // The byte tokens of U+1F600: <0xF0> <0x9F> <0x98> <0x80> in byte-level spelling.
  const std::string emoji = "\xF0\x9F\x98\x80";
  IncrementalDetokenizer d(bpe);
  std::string out;
  for (std::size_t i = 0; i < emoji.size(); ++i) {
    const std::int32_t id = bpe.vocab().find(bytes_to_byte_level(emoji.substr(i, 1)));
    ASSERT_GE(id, 0) << "byte token " << i;
    out = d.push(id);
    if (i + 1 < emoji.size()) {
      EXPECT_EQ(out, "") << "byte " << i;
    }
  }
  EXPECT_EQ(out, emoji);

  // Streaming the real encoding of mixed text token by token reproduces it, and every
  // delta is valid UTF-8 on its own.
  const std::string text = "Unicode: 東京 🇫🇷 👨‍👩‍👧 naïve — done.";
  IncrementalDetokenizer s(bpe);
  std::string streamed;
  for (std::int32_t id : bpe.encode(text, false, false)) {
    const std::string delta = s.push(id);
    EXPECT_EQ(valid_utf8_prefix(delta), delta.size());
    streamed += delta;
  }
  streamed += s.flush();
  EXPECT_EQ(streamed, text);
}

}  // namespace
}  // namespace zinfer::tok
