// SplitRegex against Python's `regex` module (the expected splits below were printed by
// regex.finditer with llama.cpp's split rule: matches and the text between them are pieces),
// plus a table of patterns outside the supported subset that must each fail to compile
// with a typed error rather than match something else.
#include "engine/tokenizer/split_regex.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/tokenizer/unicode.h"
#include "tests/engine/tokenizer/golden_fixture.h"

namespace zinfer::tok {
namespace {

using Pieces = std::vector<std::string>;

Pieces split(const std::string& pattern, const std::string& text) {
  Result<SplitRegex> re = SplitRegex::compile(pattern);
  EXPECT_TRUE(re.ok()) << pattern << ": " << (re.ok() ? "" : re.error().message);
  if (!re.ok()) return {};
  const std::vector<std::uint32_t> cps = decode_utf8_lenient(text);
  const CodepointText t(cps);
  std::vector<std::size_t> ends;
  re->split(t, 0, cps.size(), ends);
  SCOPED_TRACE(pattern);
  return golden::pieces_at(cps, ends);
}

struct Case {
  const char* pattern;
  const char* text;
  Pieces want;
};

TEST(SplitRegex, MatchesPythonRegex) {
  const Case cases[] = {
      {"a|ab", "ab", {"a", "b"}},  // leftmost-first, not longest
      {"ab|a", "ab", {"ab"}},
      {"a*b", "aaab", {"aaab"}},
      {R"(\s+(?!\S))", "   x", {"  ", " x"}},
      {"(?i:'s|'t)", "'S'T'x", {"'S", "'T", "'x"}},
      {R"([^\r\n\p{L}\p{N}]?\p{L}+)", " hello\nworld", {" hello", "\n", "world"}},
      {R"(\p{N}{1,3})", "1234567", {"123", "456", "7"}},
      {R"(\s+$)", "a  \n", {"a", "  \n"}},
      {"[0-9][0-9][0-9]", "12345", {"123", "45"}},
      {"x(?=y)", "xyxz", {"x", "yxz"}},
      {R"(\p{Lu}+\p{Ll}*)", "ABCdefGhi", {"ABCdef", "Ghi"}},
      {R"([\x{4E00}-\x{9FA5}]+)", "ab\u4e2d\u6587cd", {"ab", "\u4e2d\u6587", "cd"}},
      {"a{2,}", "aaaaa a", {"aaaaa", " a"}},
      {R"([^\n]+|[\n]+)", "ab\n\ncd", {"ab", "\n\n", "cd"}},
      {".", "a\nb", {"a", "\n", "b"}},
      {"^a", "aaa", {"a", "aa"}},
      {R"(\d+)", "12\u0663x", {"12\u0663", "x"}},
      {R"(\P{L}+)", "ab12!c", {"ab", "12!", "c"}},
      {R"([\\\]\-]+)", "a\\]-b", {"a", "\\]-", "b"}},
      {"(?:ab)+c?", "ababcab", {"ababc", "ab"}},
      {"a{2}", "aaaaa", {"aa", "aa", "a"}},
      {R"([^(\s|.,!?)]+)", "hi, you(x)", {"hi", ", ", "you", "(", "x", ")"}},
  };
  for (const Case& c : cases) EXPECT_EQ(split(c.pattern, c.text), c.want) << c.pattern;
}

TEST(SplitRegex, LookaheadAndAnchorsSeeOnlyThePiece) {
  Result<SplitRegex> re = SplitRegex::compile(R"(\s+$)");
  ASSERT_TRUE(re.ok());
  const std::vector<std::uint32_t> cps = decode_utf8_lenient("a  b  ");
  const CodepointText t(cps);
  EXPECT_EQ(re->match_at(t, 0, 1, 3), 3);   // "  " ends the piece [0, 3)
  EXPECT_EQ(re->match_at(t, 0, 1, 6), -1);  // ... but not the whole text
  EXPECT_EQ(re->match_at(t, 0, 4, 6), 6);
}

// Plain backtracking is quadratic here (`\s+$` fails from every space of the run); the
// failed-state memo keeps it linear and must not change the result once it is on.
TEST(SplitRegex, LongFailingRunsStayLinear) {
  const std::string spaces(200000, ' ');
  const double t0 = golden::cpu_ms();
  EXPECT_EQ(split(R"(\s+$|x)", spaces + "1x  "), (Pieces{spaces + "1", "x", "  "}));
  EXPECT_EQ(split(R"(\s*[\r\n]+|\p{L}+)", spaces + "ab" + spaces + "\n"),
            (Pieces{spaces, "ab", spaces + "\n"}));
  EXPECT_LT(golden::cpu_ms() - t0, 2000.0);
}

TEST(SplitRegex, UnsupportedPatternsFailCleanly) {
  for (const char* pattern :
       {"(", "a)", "[a", "a{3,1}", R"(\p{Xx})", "a*?", "a++", "(?<=a)b", "(a*)*", R"(\q)", "[z-a]",
        "[[a]]", R"(\x{110000})", "*a", "a{", R"(\)", "(?P<n>a)"}) {
    Result<SplitRegex> re = SplitRegex::compile(pattern);
    ASSERT_FALSE(re.ok()) << pattern;
    EXPECT_EQ(re.error().code, ErrorCode::kInvalidParameter) << pattern;
    EXPECT_NE(re.error().message.find(pattern), std::string::npos) << re.error().message;
  }
}

}  // namespace
}  // namespace zinfer::tok
