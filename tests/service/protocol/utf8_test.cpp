// UTF-8 validator against hand-derived vectors from Unicode Table 3-7 and Markus Kuhn's
// UTF-8 decoder stress test (boundary code points, overlongs, surrogates, truncations).
#include "service/protocol/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace zinfer::protocol {
namespace {

TEST(Utf8, WellFormedSequences) {
  const std::string good[] = {
      "",
      "plain ascii",
      std::string("nul\0inside", 10),
      "\x7f",              // U+007F, last 1-byte
      "\xc2\x80",          // U+0080, first 2-byte
      "\xdf\xbf",          // U+07FF, last 2-byte
      "\xe0\xa0\x80",      // U+0800, first 3-byte
      "\xed\x9f\xbf",      // U+D7FF, just below the surrogates
      "\xee\x80\x80",      // U+E000, just above the surrogates
      "\xef\xbf\xbd",      // U+FFFD
      "\xef\xbf\xbf",      // U+FFFF (a noncharacter, still well-formed)
      "\xf0\x90\x80\x80",  // U+10000, first 4-byte
      "\xf4\x8f\xbf\xbf",  // U+10FFFF, last code point
      "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x9a\x80",
  };
  for (const std::string& s : good) {
    EXPECT_TRUE(utf8_valid(s)) << testing::PrintToString(s);
  }
}

TEST(Utf8, IllFormedSequencesReportTheOffendingByte) {
  const std::pair<std::string, std::size_t> bad[] = {
      {"\x80", 0},              // lone continuation
      {"ab\xbf", 2},            // lone continuation after ASCII
      {"\xc0\x80", 0},          // overlong NUL
      {"\xc1\xbf", 0},          // overlong U+007F
      {"\xe0\x80\xaf", 0},      // overlong '/'
      {"\xe0\x9f\xbf", 0},      // overlong U+07FF
      {"\xf0\x8f\xbf\xbf", 0},  // overlong U+FFFF
      {"\xed\xa0\x80", 0},      // U+D800 (surrogate)
      {"\xed\xbf\xbf", 0},      // U+DFFF (surrogate)
      {"\xf4\x90\x80\x80", 0},  // U+110000
      {"\xf5\x80\x80\x80", 0},  // lead byte F5
      {"\xff", 0},
      {"\xfe", 0},
      {"x\xc3", 1},         // truncated 2-byte at the end
      {"x\xe2\x9c", 1},     // truncated 3-byte
      {"\xf0\x9f\x9a", 0},  // truncated 4-byte
      {"\xc3\x28", 0},      // second byte not a continuation
      {"\xe2\x28\xa1", 0},
      {"\xe2\x82\x28", 0},  // third byte not a continuation
      {"\xf0\x28\x8c\xbc", 0},
      {"\xf0\x90\x28\xbc", 0},
      {"\xf0\x90\x8c\x28", 0},  // fourth byte not a continuation
      {"ok \xc3\xa9 then \xc3", 11},
  };
  for (const auto& [s, offset] : bad) {
    EXPECT_EQ(utf8_error_offset(s), std::optional<std::size_t>(offset))
        << testing::PrintToString(s);
  }
}

TEST(Utf8, EveryTwoByteSequenceMatchesTheTableRule) {
  // Table 3-7: a 2-byte sequence is well-formed iff lead in C2..DF and trail in 80..BF.
  for (int a = 0x80; a <= 0xff; ++a) {
    for (int b = 0; b <= 0xff; ++b) {
      const std::string s{static_cast<char>(a), static_cast<char>(b)};
      const bool want = a >= 0xc2 && a <= 0xdf && b >= 0x80 && b <= 0xbf;
      ASSERT_EQ(utf8_valid(s), want) << std::hex << a << " " << b;
    }
  }
}

}  // namespace
}  // namespace zinfer::protocol
