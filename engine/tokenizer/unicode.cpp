// UTF-8 coding and code point classification over the generated tables (unicode_tables.cpp).
#include "engine/tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace zinfer::tok {
namespace {

constexpr std::uint8_t kWhitespaceBit = 0x80;

GeneralCategory category_from_ranges(std::uint32_t cp) {
  using unicode_data::kCategoryRanges;
  using unicode_data::kCategoryRangesSize;
  // Last range whose start <= cp.
  const std::uint32_t key = (cp << 8) | 0xFF;
  const std::uint32_t* end = kCategoryRanges + kCategoryRangesSize;
  const std::uint32_t* it = std::upper_bound(kCategoryRanges, end, key);
  return static_cast<GeneralCategory>(*(it - 1) & 0xFF);
}

bool is_white_space(std::uint32_t cp) {
  const std::uint32_t* end = unicode_data::kWhitespace + unicode_data::kWhitespaceSize;
  return std::binary_search(unicode_data::kWhitespace, end, cp);
}

// One byte per BMP code point (category | whitespace bit): the hot path of pre-tokenizing
// is a lookup per code point, and nearly all text lives in the BMP.
const std::array<std::uint8_t, 0x10000>& bmp_table() {
  static const std::array<std::uint8_t, 0x10000> table = [] {
    std::array<std::uint8_t, 0x10000> t{};
    using unicode_data::kCategoryRanges;
    for (std::size_t i = 0; i < unicode_data::kCategoryRangesSize; ++i) {
      const std::uint32_t start = kCategoryRanges[i] >> 8;
      if (start >= 0x10000) break;
      const std::uint32_t stop = i + 1 < unicode_data::kCategoryRangesSize
                                     ? std::min<std::uint32_t>(kCategoryRanges[i + 1] >> 8, 0x10000)
                                     : 0x10000;
      std::fill(t.begin() + start, t.begin() + stop,
                static_cast<std::uint8_t>(kCategoryRanges[i] & 0xFF));
    }
    for (std::size_t i = 0; i < unicode_data::kWhitespaceSize; ++i)
      t[unicode_data::kWhitespace[i]] |= kWhitespaceBit;
    return t;
  }();
  return table;
}

bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

CodepointClass codepoint_class(std::uint32_t cp) {
  CodepointClass c;
  if (cp < 0x10000) {
    const std::uint8_t v = bmp_table()[cp];
    c.category = static_cast<GeneralCategory>(v & ~kWhitespaceBit);
    c.whitespace = (v & kWhitespaceBit) != 0;
    return c;
  }
  if (cp > kMaxCodepoint) return c;  // unassigned
  c.category = category_from_ranges(cp);
  c.whitespace = is_white_space(cp);
  return c;
}

std::uint32_t to_lower(std::uint32_t cp) {
  using unicode_data::kLowerRuns;
  const unicode_data::LowerRun* end = kLowerRuns + unicode_data::kLowerRunsSize;
  // Runs are sorted and disjoint: find the last run with first <= cp.
  const unicode_data::LowerRun* it = std::upper_bound(
      kLowerRuns, end, cp,
      [](std::uint32_t v, const unicode_data::LowerRun& r) { return v < r.first; });
  if (it == kLowerRuns) return cp;
  --it;
  if (cp > it->last || (cp - it->first) % it->stride != 0) return cp;
  return static_cast<std::uint32_t>(static_cast<std::int64_t>(cp) + it->delta);
}

const char* unicode_tables_version() { return unicode_data::kUnicodeVersion; }

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::uint32_t next_codepoint_lenient(std::string_view text, std::size_t* pos) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  const std::size_t i = *pos;
  const unsigned char b0 = s[i];
  if (b0 < 0x80) {
    *pos = i + 1;
    return b0;
  }
  if (b0 >= 0xC0 && b0 < 0xE0 && i + 1 < n && is_cont(s[i + 1])) {
    *pos = i + 2;
    return ((b0 & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
  }
  if (b0 >= 0xE0 && b0 < 0xF0 && i + 2 < n && is_cont(s[i + 1]) && is_cont(s[i + 2])) {
    *pos = i + 3;
    return ((b0 & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
  }
  if (b0 >= 0xF0 && b0 < 0xF8 && i + 3 < n && is_cont(s[i + 1]) && is_cont(s[i + 2]) &&
      is_cont(s[i + 3])) {
    *pos = i + 4;
    const std::uint32_t cp = ((b0 & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) |
                             ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
    return cp <= kMaxCodepoint ? cp : kReplacementChar;
  }
  // A stray continuation byte, a truncated sequence or F8..FF: one U+FFFD per byte.
  *pos = i + 1;
  return kReplacementChar;
}

std::vector<std::uint32_t> decode_utf8_lenient(std::string_view text) {
  std::vector<std::uint32_t> cps;
  cps.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) cps.push_back(next_codepoint_lenient(text, &i));
  return cps;
}

Utf8Status classify_utf8(std::string_view bytes, std::size_t* len) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  *len = 1;
  if (n == 0) return Utf8Status::kIncomplete;
  const unsigned char b0 = s[0];
  if (b0 < 0x80) return Utf8Status::kComplete;
  std::size_t need = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;  // allowed range of the second byte (Unicode Table 3-7)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return Utf8Status::kInvalid;  // 80..C1, F5..FF never start a sequence
  }
  for (std::size_t k = 1; k <= need; ++k) {
    if (k >= n) {
      *len = k;
      return Utf8Status::kIncomplete;
    }
    const unsigned char b = s[k];
    const bool ok = k == 1 ? (b >= lo && b <= hi) : is_cont(b);
    if (!ok) {
      *len = k;  // the lead plus the continuation bytes accepted so far
      return Utf8Status::kInvalid;
    }
  }
  *len = need + 1;
  return Utf8Status::kComplete;
}

std::size_t valid_utf8_prefix(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    std::size_t len = 0;
    if (classify_utf8(bytes.substr(i), &len) != Utf8Status::kComplete) break;
    i += len;
  }
  return i;
}

}  // namespace zinfer::tok
