// Unicode tables and UTF-8 helpers against hand-checked facts from the Unicode Character
// Database (categories, White_Space, simple lower-case) and the Unicode Standard's
// "maximal subpart" replacement example (Table 3-8), which Python's decoder also follows.
#include "engine/tokenizer/unicode.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace zinfer::tok {
namespace {

using GC = GeneralCategory;

TEST(UnicodeTables, GeneralCategoryOfKnownCodepoints) {
  struct Case {
    std::uint32_t cp;
    GC cat;
  };
  const Case cases[] = {
      {'A', GC::kLu},      {'z', GC::kLl},      {'0', GC::kNd},     {'!', GC::kPo},
      {'$', GC::kSc},      {'+', GC::kSm},      {'^', GC::kSk},     {'_', GC::kPc},
      {'(', GC::kPs},      {')', GC::kPe},      {'-', GC::kPd},     {' ', GC::kZs},
      {'\t', GC::kCc},     {0x7F, GC::kCc},     {0xAD, GC::kCf},    {0xAA, GC::kLo},
      {0xB2, GC::kNo},     {0xBD, GC::kNo},     {0x2B0, GC::kLm},   {0x1C5, GC::kLt},
      {0x301, GC::kMn},    {0x903, GC::kMc},    {0x20DD, GC::kMe},  {0x378, GC::kCn},
      {0x663, GC::kNd},    {0x216B, GC::kNl},   {0x4E2D, GC::kLo},  {0xAC00, GC::kLo},
      {0x3042, GC::kLo},   {0x5D0, GC::kLo},    {0x627, GC::kLo},   {0x928, GC::kLo},
      {0x94D, GC::kMn},    {0x200B, GC::kCf},   {0x200D, GC::kCf},  {0xFEFF, GC::kCf},
      {0x2028, GC::kZl},   {0x2029, GC::kZp},   {0x3000, GC::kZs},  {0xFFFD, GC::kSo},
      {0xE000, GC::kCo},   {0xD800, GC::kCs},   {0x1F600, GC::kSo}, {0x1F1EB, GC::kSo},
      {0x1F3FD, GC::kSk},  {0x20000, GC::kLo},  {0x1D7CE, GC::kNd}, {0xE0001, GC::kCf},
      {0x10FFFF, GC::kCn}, {0x110000, GC::kCn},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(static_cast<int>(codepoint_class(c.cp).category), static_cast<int>(c.cat))
        << std::hex << "U+" << c.cp;
  }
  EXPECT_TRUE(codepoint_class(0x4E2D).is_letter());
  EXPECT_TRUE(codepoint_class(0x216B).is_number());
  EXPECT_TRUE(codepoint_class(0x301).is_mark());
  EXPECT_FALSE(codepoint_class(0x301).is_letter());
  EXPECT_TRUE(codepoint_class(0x1F600).is_symbol());
  EXPECT_TRUE(codepoint_class(0xBF).is_punctuation());
}

TEST(UnicodeTables, WhiteSpaceIsTheUnicodePropertyNotPythonIsspace) {
  const std::uint32_t white[] = {0x09,   0x0A,   0x0B,   0x0C,   0x0D,   0x20,
                                 0x85,   0xA0,   0x1680, 0x2000, 0x2005, 0x200A,
                                 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
  for (std::uint32_t cp : white) EXPECT_TRUE(codepoint_class(cp).whitespace) << std::hex << cp;
  // U+001C..U+001F are isspace() in Python but not White_Space; ZWSP and BOM are neither.
  const std::uint32_t not_white[] = {0x1C,   0x1D,   0x1E, 0x1F, 0x200B,
                                     0xFEFF, 0x180E, 'a',  0x00, 0x7F};
  for (std::uint32_t cp : not_white) EXPECT_FALSE(codepoint_class(cp).whitespace) << std::hex << cp;
}

TEST(UnicodeTables, SimpleLowercase) {
  EXPECT_EQ(to_lower('A'), 'a');
  EXPECT_EQ(to_lower('Z'), 'z');
  EXPECT_EQ(to_lower('a'), 'a');
  EXPECT_EQ(to_lower('1'), '1');
  EXPECT_EQ(to_lower(0xC0), 0xE0u);    // À → à
  EXPECT_EQ(to_lower(0xD7), 0xD7u);    // × has no case
  EXPECT_EQ(to_lower(0x100), 0x101u);  // Ā → ā (alternating pairs)
  EXPECT_EQ(to_lower(0x101), 0x101u);
  EXPECT_EQ(to_lower(0x130), 'i');         // İ → i (simple mapping)
  EXPECT_EQ(to_lower(0x178), 0xFFu);       // Ÿ → ÿ
  EXPECT_EQ(to_lower(0x3A3), 0x3C3u);      // Σ → σ
  EXPECT_EQ(to_lower(0x410), 0x430u);      // А → а
  EXPECT_EQ(to_lower(0x212A), 'k');        // Kelvin sign → k
  EXPECT_EQ(to_lower(0xDF), 0xDFu);        // ß stays
  EXPECT_EQ(to_lower(0x10400), 0x10428u);  // Deseret
  EXPECT_EQ(to_lower(0x1F600), 0x1F600u);
}

std::vector<std::uint32_t> decode(const std::string& s) { return decode_utf8_lenient(s); }

TEST(Utf8, LenientDecodeLikeLlamaCpp) {
  EXPECT_EQ(decode("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"),
            (std::vector<std::uint32_t>{'a', 0xE9, 0x20AC, 0x1F600}));
  EXPECT_EQ(decode("a\x80"
                   "b"),
            (std::vector<std::uint32_t>{'a', 0xFFFD, 'b'}));
  EXPECT_EQ(decode("\xE2\x82"),
            (std::vector<std::uint32_t>{0xFFFD, 0xFFFD}));  // truncated: each byte
  EXPECT_EQ(decode("\xC0\xAF"),
            (std::vector<std::uint32_t>{'/'}));  // overlong accepted, as llama.cpp
  EXPECT_EQ(decode("\xFF"), (std::vector<std::uint32_t>{0xFFFD}));
  EXPECT_EQ(decode("\xF7\xBF\xBF\xBF"), (std::vector<std::uint32_t>{0xFFFD}));  // above U+10FFFF
}

TEST(Utf8, StrictClassificationAndMaximalSubparts) {
  std::size_t len = 0;
  EXPECT_EQ(classify_utf8("\xF0\x9F\x98\x80", &len), Utf8Status::kComplete);
  EXPECT_EQ(len, 4u);
  EXPECT_EQ(classify_utf8("\xF0\x9F\x98", &len), Utf8Status::kIncomplete);
  EXPECT_EQ(classify_utf8("\xF0\x9F"
                          "a",
                          &len),
            Utf8Status::kInvalid);
  EXPECT_EQ(len, 2u);
  EXPECT_EQ(classify_utf8("\xC0\xAF", &len), Utf8Status::kInvalid);  // overlong lead
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(classify_utf8("\xED\xA0\x80", &len), Utf8Status::kInvalid);  // surrogate
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(classify_utf8("\xF4\x90\x80\x80", &len), Utf8Status::kInvalid);  // > U+10FFFF
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(classify_utf8("\xE0\x80", &len), Utf8Status::kInvalid);  // overlong 3-byte
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(valid_utf8_prefix("ok\xE2\x82\xAC\xE2\x82"), 5u);
}

TEST(Utf8, AppendUtf8RoundTrips) {
  for (std::uint32_t cp : {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    std::string s;
    append_utf8(s, cp);
    EXPECT_EQ(decode(s), std::vector<std::uint32_t>{cp}) << std::hex << cp;
  }
}

}  // namespace
}  // namespace zinfer::tok
