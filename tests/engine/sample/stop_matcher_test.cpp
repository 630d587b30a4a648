// StopMatcher: hold-back, matches spanning deltas, overlapping stops, UTF-8, flush.
#include "engine/sample/stop_matcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace zinfer::sample {
namespace {

// Strict UTF-8 well-formedness (no overlongs, surrogates or > U+10FFFF).
bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto d = static_cast<unsigned char>(s[i + k]);
      if (d < (k == 1 ? lo : 0x80u) || d > (k == 1 ? hi : 0xBFu)) return false;
    }
    i += n + 1;
  }
  return true;
}

struct Fed {
  std::vector<std::string> emits;
  std::string text;  // all emits concatenated
  bool stopped = false;
};

Fed feed(StopMatcher& m, const std::vector<std::string>& deltas) {
  Fed r;
  for (const std::string& d : deltas) {
    StopMatcher::Out out = m.push(d);
    r.emits.push_back(out.emit);
    r.text += out.emit;
    r.stopped = out.stopped;
    if (out.stopped) break;
  }
  return r;
}

TEST(StopMatcher, NoStopsPassesThrough) {
  StopMatcher m({});
  const Fed r = feed(m, {"Hello", ", ", "world"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"Hello", ", ", "world"}));
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, StopSpanningThreeDeltas) {
  StopMatcher m({"<|end|>"});
  const Fed r = feed(m, {"Hi <", "|e", "nd|> trailing"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"Hi ", "", ""}));
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "Hi ");
  EXPECT_EQ(m.flush(), "");  // the stop string and what follows are never released

  const StopMatcher::Out after = m.push("more");
  EXPECT_EQ(after.emit, "");
  EXPECT_TRUE(after.stopped);
}

TEST(StopMatcher, TextBeforeStopInSameDeltaIsEmitted) {
  StopMatcher m({"STOP"});
  const Fed r = feed(m, {"abc ST", "OP def"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"abc ", ""}));
  EXPECT_TRUE(r.stopped);
  StopMatcher m2({"STOP"});
  const Fed r2 = feed(m2, {"one two STOP three"});
  EXPECT_EQ(r2.text, "one two ");
  EXPECT_TRUE(r2.stopped);
}

TEST(StopMatcher, FalseStartIsReleased) {
  StopMatcher m({"<|end|>"});
  const Fed r = feed(m, {"a <|", "en", "x"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"a ", "", "<|enx"}));
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(m.held_size(), 0u);
}

TEST(StopMatcher, OverlappingPrefixes) {
  {  // "ab" completes first; "abc" is never waited for.
    StopMatcher m({"ab", "abc"});
    const Fed r = feed(m, {"xa", "bc"});
    EXPECT_EQ(r.emits, (std::vector<std::string>{"x", ""}));
    EXPECT_TRUE(r.stopped);
  }
  {  // Same with the list order reversed.
    StopMatcher m({"abc", "ab"});
    const Fed r = feed(m, {"xa", "b"});
    EXPECT_EQ(r.text, "x");
    EXPECT_TRUE(r.stopped);
  }
  {  // Two complete matches in one delta: the earlier start wins.
    StopMatcher m({"bcd", "abc"});
    const Fed r = feed(m, {"zab", "cd"});
    EXPECT_EQ(r.emits, (std::vector<std::string>{"z", ""}));
    EXPECT_TRUE(r.stopped);
  }
  {  // A complete later-starting match stops even while a longer one is still open.
    StopMatcher m({"abcd", "bc"});
    const Fed r = feed(m, {"abc"});
    EXPECT_EQ(r.text, "a");
    EXPECT_TRUE(r.stopped);
  }
  {  // Self-overlapping stop: the held suffix slides.
    StopMatcher m({"aab"});
    const Fed r = feed(m, {"xaa", "a", "b"});
    EXPECT_EQ(r.emits, (std::vector<std::string>{"x", "a", ""}));
    EXPECT_TRUE(r.stopped);
  }
}

TEST(StopMatcher, MultiByteStopStrings) {
  StopMatcher m({"停止"});  // e5 81 9c e6 ad a2
  const Fed r = feed(m, {"你好停", "止了"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"你好", ""}));
  EXPECT_TRUE(r.stopped);

  StopMatcher m2({"é!"});
  const Fed r2 = feed(m2, {"café", "?", " é", "!"});
  EXPECT_EQ(r2.emits, (std::vector<std::string>{"caf", "é?", " ", ""}));
  EXPECT_TRUE(r2.stopped);
  for (const std::string& e : r2.emits) EXPECT_TRUE(valid_utf8(e)) << e;
}

TEST(StopMatcher, NeverMatchesOrHoldsInsideACharacter) {
  // Malformed stops made of a continuation byte of "é" (c3 a9) must neither match nor
  // hold back half a character.
  StopMatcher m({"\xA9", "\xA9x"});
  const Fed r = feed(m, {"café", "x"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"café", "x"}));
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, FlushReleasesHeldTextAtEnd) {
  StopMatcher m({"END"});
  const Fed r = feed(m, {"THE EN"});
  EXPECT_EQ(r.text, "THE ");
  EXPECT_EQ(m.held_size(), 2u);
  EXPECT_EQ(m.flush(), "EN");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, NoFalseHold) {
  StopMatcher m({"xyz", "<|im_end|>"});
  const Fed r = feed(m, {"abc", " def", "<y"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"abc", " def", "<y"}));
  EXPECT_EQ(m.held_size(), 0u);
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, EmptyStopStringsAreIgnored) {
  StopMatcher m({"", "zz"});
  const Fed r = feed(m, {"abc"});
  EXPECT_EQ(r.text, "abc");
  EXPECT_FALSE(r.stopped);
}

TEST(StopMatcher, StopAtVeryStart) {
  StopMatcher m({"###"});
  const Fed r = feed(m, {"#", "##", "after"});
  EXPECT_EQ(r.emits, (std::vector<std::string>{"", ""}));
  EXPECT_TRUE(r.stopped);
}

}  // namespace
}  // namespace zinfer::sample
