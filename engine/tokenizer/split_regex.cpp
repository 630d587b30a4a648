// SplitRegex (see split_regex.h). The pattern is parsed into a small syntax tree and emitted
// as a program in the style of Russ Cox's re1 "backtrack" machine: kSplit tries its
// preferred branch first and leaves the other on a stack, which gives the leftmost-first
// match of Perl-style engines (Oniguruma, fancy-regex, Python's regex). Lookahead runs a
// nested program on the same stack. Patterns of pre-tokenizers match in linear time per
// match with this scheme: their loops are over single characters.
#include "engine/tokenizer/split_regex.h"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace zinfer::tok {
namespace {

using GC = GeneralCategory;

std::uint32_t bit(GC c) { return std::uint32_t{1} << static_cast<unsigned>(c); }

constexpr std::uint32_t kAllCategories =
    (std::uint32_t{1} << (static_cast<unsigned>(GC::kZs) + 1)) - 1;

// \p{name}: a general category or a one-letter group of them.
std::uint32_t category_mask(std::string_view name) {
  struct Named {
    std::string_view name;
    GC cat;
  };
  static constexpr std::array<Named, 30> kNames = {{
      {"Cn", GC::kCn}, {"Cc", GC::kCc}, {"Cf", GC::kCf}, {"Co", GC::kCo}, {"Cs", GC::kCs},
      {"Ll", GC::kLl}, {"Lm", GC::kLm}, {"Lo", GC::kLo}, {"Lt", GC::kLt}, {"Lu", GC::kLu},
      {"Mc", GC::kMc}, {"Me", GC::kMe}, {"Mn", GC::kMn}, {"Nd", GC::kNd}, {"Nl", GC::kNl},
      {"No", GC::kNo}, {"Pc", GC::kPc}, {"Pd", GC::kPd}, {"Pe", GC::kPe}, {"Pf", GC::kPf},
      {"Pi", GC::kPi}, {"Po", GC::kPo}, {"Ps", GC::kPs}, {"Sc", GC::kSc}, {"Sk", GC::kSk},
      {"Sm", GC::kSm}, {"So", GC::kSo}, {"Zl", GC::kZl}, {"Zp", GC::kZp}, {"Zs", GC::kZs},
  }};
  std::uint32_t m = 0;
  for (const Named& n : kNames) {
    if (n.name == name || (name.size() == 1 && n.name[0] == name[0])) m |= bit(n.cat);
  }
  return m;
}

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Node {
  enum class Kind { kChar, kClass, kAny, kBegin, kEnd, kCat, kAlt, kRepeat, kLook };
  Kind kind = Kind::kCat;
  std::uint32_t cp = 0;  // kChar (lower-cased when fold)
  bool flag = false;     // kChar: fold case; kLook: negative
  std::int32_t cls = -1;
  int min = 0;
  int max = -1;  // kRepeat; -1: unbounded
  std::vector<Node> kids;
};

Node node(Node::Kind kind) {
  Node n;
  n.kind = kind;
  return n;
}

bool nullable(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kChar:
    case Node::Kind::kClass:
    case Node::Kind::kAny:
      return false;
    case Node::Kind::kBegin:
    case Node::Kind::kEnd:
    case Node::Kind::kLook:
      return true;
    case Node::Kind::kCat:
      return std::all_of(n.kids.begin(), n.kids.end(), nullable);
    case Node::Kind::kAlt:
      return std::any_of(n.kids.begin(), n.kids.end(), nullable);
    case Node::Kind::kRepeat:
      return n.min == 0 || nullable(n.kids[0]);
  }
  return true;
}

}  // namespace

class SplitRegex::Compiler {
 public:
  Compiler(std::string_view pattern, SplitRegex& re) : p_(decode_utf8_lenient(pattern)), re_(re) {}

  void compile() {
    const Node root = alternation(false);
    if (i_ < p_.size()) fail("unbalanced ')'");
    emit(root);
    push({Op::kMatch});
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw ParseError(what + " at code point " + std::to_string(i_));
  }
  bool more() const { return i_ < p_.size(); }
  std::uint32_t peek() const { return p_[i_]; }
  bool eat(std::uint32_t c) {
    if (more() && peek() == c) {
      ++i_;
      return true;
    }
    return false;
  }

  Node alternation(bool fold) {
    Node alt = node(Node::Kind::kAlt);
    alt.kids.push_back(sequence(fold));
    while (eat('|')) alt.kids.push_back(sequence(fold));
    return alt.kids.size() == 1 ? std::move(alt.kids[0]) : alt;
  }

  Node sequence(bool fold) {
    Node cat = node(Node::Kind::kCat);
    while (more() && peek() != '|' && peek() != ')') cat.kids.push_back(quantified(fold));
    return cat;
  }

  int number() {
    if (!more() || peek() < '0' || peek() > '9') fail("expected a number");
    int v = 0;
    while (more() && peek() >= '0' && peek() <= '9') v = v * 10 + static_cast<int>(p_[i_++] - '0');
    return v;
  }

  Node quantified(bool fold) {
    Node a = atom(fold);
    int lo = 0;
    int hi = -1;
    if (eat('?')) {
      hi = 1;
    } else if (eat('*')) {
    } else if (eat('+')) {
      lo = 1;
    } else if (eat('{')) {
      lo = number();
      hi = lo;
      if (eat(',')) hi = (more() && peek() == '}') ? -1 : number();
      if (!eat('}') || (hi >= 0 && hi < lo)) fail("bad {n,m}");
    } else {
      return a;
    }
    if (more() && (peek() == '?' || peek() == '+'))
      fail("lazy or possessive quantifiers are not supported");
    Node r = node(Node::Kind::kRepeat);
    r.min = lo;
    r.max = hi;
    r.kids.push_back(std::move(a));
    if (hi < 0 && nullable(r.kids[0])) fail("unbounded repeat of an empty-matching group");
    return r;
  }

  Node atom(bool fold) {
    if (!more()) fail("pattern ends early");
    const std::uint32_t c = p_[i_++];
    switch (c) {
      case '(': {
        bool inner_fold = fold;
        Node look = node(Node::Kind::kLook);
        bool is_look = false;
        if (eat('?')) {
          if (eat(':')) {
          } else if (eat('i')) {
            if (!eat(':')) fail("only (?i:...) is supported");
            inner_fold = true;
          } else if (eat('=') || (more() && peek() == '!')) {
            is_look = true;
            look.flag = eat('!');
          } else {
            fail("unsupported group");
          }
        }
        Node body = alternation(inner_fold);
        if (!eat(')')) fail("missing ')'");
        if (!is_look) return body;
        look.kids.push_back(std::move(body));
        return look;
      }
      case '[':
        return class_node(bracket());
      case '.':
        return node(Node::Kind::kAny);
      case '^':
        return node(Node::Kind::kBegin);
      case '$':
        return node(Node::Kind::kEnd);
      case '\\': {
        ClassSet set;
        std::uint32_t lit = 0;
        if (escape(set, lit)) return class_node(std::move(set));
        return char_node(lit, fold);
      }
      case ')':
      case '*':
      case '+':
      case '?':
      case '{':
        fail("unexpected metacharacter");
      default:
        return char_node(c, fold);
    }
  }

  static Node char_node(std::uint32_t c, bool fold) {
    Node n = node(Node::Kind::kChar);
    n.flag = fold;
    n.cp = fold ? to_lower(c) : c;
    return n;
  }

  Node class_node(ClassSet set) {
    Node n = node(Node::Kind::kClass);
    n.cls = static_cast<std::int32_t>(re_.classes_.size());
    std::sort(set.ranges.begin(), set.ranges.end());
    re_.classes_.push_back(std::move(set));
    return n;
  }

  // After a backslash. Returns true with `set` filled for a class escape, false with `lit`
  // for a literal one.
  bool escape(ClassSet& set, std::uint32_t& lit) {
    if (!more()) fail("pattern ends after '\\'");
    const std::uint32_t c = p_[i_++];
    auto complement = [&](std::uint32_t mask) { return kAllCategories & ~mask; };
    const std::uint32_t word =
        category_mask("L") | category_mask("M") | bit(GC::kNd) | bit(GC::kPc);
    switch (c) {
      case 's':
        set.whitespace = true;
        return true;
      case 'S':
        set.non_whitespace = true;
        return true;
      case 'd':
        set.categories |= bit(GC::kNd);
        return true;
      case 'D':
        set.categories |= complement(bit(GC::kNd));
        return true;
      case 'w':
        set.categories |= word;
        return true;
      case 'W':
        set.categories |= complement(word);
        return true;
      case 'p':
      case 'P': {
        if (!eat('{')) fail("expected '{' after \\p");
        std::string name;
        while (more() && peek() != '}') name.push_back(static_cast<char>(p_[i_++]));
        if (!eat('}')) fail("unterminated \\p{");
        const std::uint32_t m = category_mask(name);
        if (m == 0) fail("unsupported property \\p{" + name + "}");
        set.categories |= c == 'p' ? m : complement(m);
        return true;
      }
      case 'r':
        lit = '\r';
        return false;
      case 'n':
        lit = '\n';
        return false;
      case 't':
        lit = '\t';
        return false;
      case 'f':
        lit = '\f';
        return false;
      case 'v':
        lit = '\v';
        return false;
      case 'x': {
        const bool braced = eat('{');
        std::uint32_t v = 0;
        int digits = 0;
        while (more() && (braced ? peek() != '}' : digits < 2)) {
          const std::uint32_t h = p_[i_++];
          const int d = (h >= '0' && h <= '9')   ? static_cast<int>(h - '0')
                        : (h >= 'a' && h <= 'f') ? static_cast<int>(h - 'a' + 10)
                        : (h >= 'A' && h <= 'F') ? static_cast<int>(h - 'A' + 10)
                                                 : -1;
          if (d < 0) fail("bad hex escape");
          v = v * 16 + static_cast<std::uint32_t>(d);
          ++digits;
        }
        if ((braced && !eat('}')) || digits == 0 || v > kMaxCodepoint) fail("bad hex escape");
        lit = v;
        return false;
      }
      default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
          fail("unsupported escape");
        lit = c;  // escaped punctuation stands for itself
        return false;
    }
  }

  // After '['.
  ClassSet bracket() {
    ClassSet set;
    set.negated = eat('^');
    bool first = true;
    while (true) {
      if (!more()) fail("unterminated '['");
      std::uint32_t c = p_[i_++];
      if (c == ']' && !first) break;
      first = false;
      if (c == '[') fail("nested classes are not supported");
      if (c == '\\') {
        std::uint32_t lit = 0;
        if (escape(set, lit)) continue;
        c = lit;
      }
      std::uint32_t hi = c;
      if (i_ + 1 < p_.size() && peek() == '-' && p_[i_ + 1] != ']') {
        ++i_;
        hi = p_[i_++];
        if (hi == '\\') {
          ClassSet unused;
          if (escape(unused, hi)) fail("a class escape cannot end a range");
        }
        if (hi < c) fail("reversed range");
      }
      set.ranges.emplace_back(c, hi);
    }
    return set;
  }

  std::int32_t push(Inst inst) {
    re_.prog_.push_back(inst);
    return static_cast<std::int32_t>(re_.prog_.size() - 1);
  }
  std::int32_t here() const { return static_cast<std::int32_t>(re_.prog_.size()); }

  void emit(const Node& n) {
    std::vector<Inst>& prog = re_.prog_;
    switch (n.kind) {
      case Node::Kind::kChar:
        push({Op::kChar, n.flag, n.cp});
        break;
      case Node::Kind::kClass:
        push({Op::kClass, false, 0, n.cls});
        break;
      case Node::Kind::kAny:
        push({Op::kAny});
        break;
      case Node::Kind::kBegin:
        push({Op::kBegin});
        break;
      case Node::Kind::kEnd:
        push({Op::kEnd});
        break;
      case Node::Kind::kCat:
        for (const Node& k : n.kids) emit(k);
        break;
      case Node::Kind::kAlt: {
        std::vector<std::int32_t> to_end;
        for (std::size_t k = 0; k < n.kids.size(); ++k) {
          if (k + 1 == n.kids.size()) {
            emit(n.kids[k]);
            break;
          }
          const std::int32_t split = push({Op::kSplit});
          prog[split].x = here();
          emit(n.kids[k]);
          to_end.push_back(push({Op::kJmp}));
          prog[split].y = here();
        }
        for (std::int32_t j : to_end) prog[j].x = here();
        break;
      }
      case Node::Kind::kRepeat: {
        for (int k = 0; k < n.min; ++k) emit(n.kids[0]);
        if (n.max < 0) {
          const std::int32_t loop = push({Op::kSplit});
          prog[loop].x = here();
          emit(n.kids[0]);
          push({Op::kJmp, false, 0, loop});
          prog[loop].y = here();
          break;
        }
        std::vector<std::int32_t> splits;
        for (int k = n.min; k < n.max; ++k) {
          const std::int32_t split = push({Op::kSplit});
          prog[split].x = here();
          emit(n.kids[0]);
          splits.push_back(split);
        }
        for (std::int32_t s : splits) prog[s].y = here();
        break;
      }
      case Node::Kind::kLook: {
        const std::int32_t look = push({Op::kLook, n.flag});
        emit(n.kids[0]);
        push({Op::kLookEnd});
        prog[look].x = here();
        break;
      }
    }
  }

  std::vector<std::uint32_t> p_;
  std::size_t i_ = 0;
  SplitRegex& re_;
};

CodepointText::CodepointText(std::span<const std::uint32_t> text) : cps(text) {
  cls.reserve(text.size());
  for (std::uint32_t cp : text) cls.push_back(codepoint_class(cp));
}

bool SplitRegex::ClassSet::matches(std::uint32_t cp, const CodepointClass& c) const {
  bool hit = ((categories >> static_cast<unsigned>(c.category)) & 1u) != 0 ||
             (whitespace && c.whitespace) || (non_whitespace && !c.whitespace);
  if (!hit && !ranges.empty()) {
    auto it = std::upper_bound(ranges.begin(), ranges.end(), std::make_pair(cp, kMaxCodepoint + 1));
    hit = it != ranges.begin() && std::prev(it)->second >= cp;
  }
  return hit != negated;
}

Result<SplitRegex> SplitRegex::compile(std::string_view pattern) {
  SplitRegex re;
  re.pattern_ = pattern;
  try {
    Compiler(pattern, re).compile();
  } catch (const ParseError& e) {
    return make_error(ErrorCode::kInvalidParameter,
                      "pre-tokenizer regex '" + std::string(pattern) + "': " + e.what());
  }
  return re;
}

std::ptrdiff_t SplitRegex::run(const CodepointText& t, std::size_t begin, std::size_t end,
                               std::int32_t pc, std::size_t pos, Memo* memo) const {
  // Backtrack points (pc, pos); a nested run (lookahead) works above its caller's entries.
  thread_local std::vector<std::pair<std::int32_t, std::size_t>> stack;
  const std::size_t base = stack.size();
  while (true) {
    const Inst& in = prog_[static_cast<std::size_t>(pc)];
    bool ok = true;
    if (memo != nullptr) ++memo->steps;
    switch (in.op) {
      case Op::kChar:
        ok = pos < end && (in.flag ? to_lower(t.cps[pos]) : t.cps[pos]) == in.cp;
        pos += ok ? 1 : 0;
        ++pc;
        break;
      case Op::kClass:
        ok = pos < end && classes_[static_cast<std::size_t>(in.x)].matches(t.cps[pos], t.cls[pos]);
        pos += ok ? 1 : 0;
        ++pc;
        break;
      case Op::kAny:
        ok = pos < end && t.cps[pos] != '\n';
        pos += ok ? 1 : 0;
        ++pc;
        break;
      case Op::kSplit:
        if (memo != nullptr && memo->on) {
          const std::uint64_t key = (static_cast<std::uint64_t>(pc) << 40) | pos;
          std::uint32_t& seen = memo->seen[key];
          if (seen == memo->generation) {
            ok = false;  // explored before, and it failed
            break;
          }
          seen = memo->generation;
        }
        stack.emplace_back(in.y, pos);
        pc = in.x;
        break;
      case Op::kJmp:
        pc = in.x;
        break;
      case Op::kMatch:
      case Op::kLookEnd:
        stack.resize(base);
        return static_cast<std::ptrdiff_t>(pos);
      case Op::kLook:
        ok = (run(t, begin, end, pc + 1, pos, nullptr) >= 0) != in.flag;
        pc = in.x;
        break;
      case Op::kBegin:
        ok = pos == begin;
        ++pc;
        break;
      case Op::kEnd:
        ok = pos == end;
        ++pc;
        break;
    }
    if (!ok) {
      if (stack.size() == base) return -1;
      pc = stack.back().first;
      pos = stack.back().second;
      stack.pop_back();
    }
  }
}

std::ptrdiff_t SplitRegex::match_at(const CodepointText& t, std::size_t begin, std::size_t pos,
                                    std::size_t end) const {
  return run(t, begin, end, 0, pos, nullptr);
}

void SplitRegex::split(const CodepointText& t, std::size_t begin, std::size_t end,
                       std::vector<std::size_t>& ends) const {
  std::size_t gap = begin;  // start of the unmatched run before pos
  std::size_t pos = begin;
  Memo memo;
  const std::size_t step_budget = 64 * (end - begin) + 4096;
  while (pos < end) {
    memo.on = memo.on || memo.steps > step_budget;
    const std::ptrdiff_t m = run(t, begin, end, 0, pos, &memo);
    if (m >= 0) ++memo.generation;  // states of a successful attempt may succeed again
    if (m > static_cast<std::ptrdiff_t>(pos)) {
      if (gap < pos) ends.push_back(pos);
      pos = static_cast<std::size_t>(m);
      ends.push_back(pos);
      gap = pos;
    } else {
      ++pos;
    }
  }
  if (gap < end) ends.push_back(end);
}

}  // namespace zinfer::tok
