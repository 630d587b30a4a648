// SplitRegex: the regular expressions of pre-tokenizers (tokenizer.json "Split" patterns and
// llama.cpp's regex lists), compiled to a small backtracking program over code points. It
// implements the subset those patterns use, with the leftmost-first (Perl/Oniguruma)
// semantics Hugging Face tokenizers gives them:
//   literals, '.', classes [...] with ranges and negation, \s \S \d \D \w \W, \p{X} / \P{X}
//   for the general categories (L Lu Ll Lt Lm Lo M Mn Mc Me N Nd Nl No P.. S.. Z.. C..),
//   \r \n \t \f \v and escaped punctuation, groups ( ) (?: ) (?i: ), lookahead (?= ) (?! ),
//   anchors ^ $, greedy ? * + {n} {n,} {n,m}.
// \s is Unicode White_Space (as in llama.cpp and Oniguruma); (?i:) folds literals only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/core/error.h"
#include "engine/tokenizer/unicode.h"

namespace zinfer::tok {

// Code points with their classes looked up once; shared by every regex of a split.
struct CodepointText {
  std::span<const std::uint32_t> cps;
  std::vector<CodepointClass> cls;  // cls[i] = codepoint_class(cps[i])

  explicit CodepointText(std::span<const std::uint32_t> text);
};

class SplitRegex {
 public:
  // kInvalidParameter naming the position of the first construct outside the subset.
  static Result<SplitRegex> compile(std::string_view pattern);

  // End of the leftmost-first match that starts exactly at pos, the subject being
  // t[begin, end) (anchors and lookahead see only that range); -1 if none.
  std::ptrdiff_t match_at(const CodepointText& t, std::size_t begin, std::size_t pos,
                          std::size_t end) const;

  // Splits t[begin, end) as a Split pre-tokenizer with behaviour "isolated" does: every
  // non-empty match is a piece and so is every run of text between matches. Appends the
  // end offset of each piece.
  void split(const CodepointText& t, std::size_t begin, std::size_t end,
             std::vector<std::size_t>& ends) const;

  const std::string& pattern() const { return pattern_; }

 private:
  // One item of a bracket class (or of \p{..} and friends outside one).
  struct ClassSet {
    bool negated = false;
    std::uint32_t categories = 0;                                 // bit per GeneralCategory
    bool whitespace = false;                                      // \s
    bool non_whitespace = false;                                  // \S
    std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;  // sorted, inclusive
    bool matches(std::uint32_t cp, const CodepointClass& c) const;
  };

  enum class Op : std::uint8_t {
    kChar,
    kClass,
    kAny,
    kSplit,
    kJmp,
    kMatch,
    kLook,
    kLookEnd,
    kBegin,
    kEnd,
  };
  struct Inst {
    Op op = Op::kMatch;
    bool flag = false;     // kChar: fold case; kLook: negative lookahead
    std::uint32_t cp = 0;  // kChar
    std::int32_t x = 0;    // kClass: class index; kSplit: preferred branch; kJmp, kLook: target
    std::int32_t y = 0;    // kSplit: the other branch
  };
  class Compiler;  // pattern text → prog_ and classes_ (split_regex.cpp)

  SplitRegex() = default;
  // Failed (kSplit pc, pos) states of the match attempts of one split(). Within a piece a
  // state's outcome does not depend on where the attempt started (no backreferences; ^ is
  // the piece start), and without empty loops a state cannot recur inside its own subtree,
  // so a state seen again has failed before. Pruning it bounds the work by program size ×
  // piece length (RE2's BitState idea), where plain backtracking is quadratic, e.g. `\s+$`
  // over a long run of spaces that does not end the piece. Only switched on once an
  // input has cost more than a few steps per character, so ordinary text pays nothing.
  struct Memo {
    bool on = false;
    std::size_t steps = 0;
    std::uint32_t generation = 1;  // a successful match starts a new one
    std::unordered_map<std::uint64_t, std::uint32_t> seen;
  };

  // Runs program from pc at pos; the end position of the first path reaching kMatch or
  // kLookEnd, or -1. memo: null inside lookahead bodies and for match_at.
  std::ptrdiff_t run(const CodepointText& t, std::size_t begin, std::size_t end, std::int32_t pc,
                     std::size_t pos, Memo* memo) const;

  std::string pattern_;
  std::vector<Inst> prog_;
  std::vector<ClassSet> classes_;
};

}  // namespace zinfer::tok
