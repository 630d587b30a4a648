// Unicode helpers for the tokenizers: UTF-8 decoding/encoding, general category and
// White_Space lookup, simple lower-casing. Tables are generated from Python's unicodedata
// by scripts/gen_unicode_tables.py into unicode_tables.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zinfer::tok {

// Unicode general category; the order matches the generator's CATEGORIES list.
// clang-format off
enum class GeneralCategory : std::uint8_t {
  kCn, kCc, kCf, kCo, kCs,
  kLl, kLm, kLo, kLt, kLu,
  kMc, kMe, kMn,
  kNd, kNl, kNo,
  kPc, kPd, kPe, kPf, kPi, kPo, kPs,
  kSc, kSk, kSm, kSo,
  kZl, kZp, kZs,
};
// clang-format on

// Classes used by the pre-tokenizer patterns (\p{L}, \p{N}, \s, ...).
struct CodepointClass {
  GeneralCategory category = GeneralCategory::kCn;
  bool whitespace = false;  // Unicode White_Space (llama.cpp's \s), not Python's isspace()

  bool is_letter() const {
    return category >= GeneralCategory::kLl && category <= GeneralCategory::kLu;
  }
  bool is_mark() const {
    return category >= GeneralCategory::kMc && category <= GeneralCategory::kMn;
  }
  bool is_number() const {
    return category >= GeneralCategory::kNd && category <= GeneralCategory::kNo;
  }
  bool is_punctuation() const {
    return category >= GeneralCategory::kPc && category <= GeneralCategory::kPs;
  }
  bool is_symbol() const {
    return category >= GeneralCategory::kSc && category <= GeneralCategory::kSo;
  }
  bool is_separator() const { return category >= GeneralCategory::kZl; }
  bool is_control() const {
    return category >= GeneralCategory::kCc && category <= GeneralCategory::kCs;
  }
};

inline constexpr std::uint32_t kReplacementChar = 0xFFFD;
inline constexpr std::uint32_t kMaxCodepoint = 0x10FFFF;

CodepointClass codepoint_class(std::uint32_t cp);
// Simple (one-to-one) lower-case mapping; cp itself when it has none.
std::uint32_t to_lower(std::uint32_t cp);
// Unicode version the tables were generated from, e.g. "14.0.0".
const char* unicode_tables_version();

// Appends the UTF-8 encoding of cp (cp must be <= kMaxCodepoint).
void append_utf8(std::string& out, std::uint32_t cp);

// Decodes text the way llama.cpp's tokenizer does before pre-tokenization: every byte that
// does not start a structurally complete sequence becomes U+FFFD and decoding resumes at
// the next byte. Like llama.cpp it does not reject overlong forms or surrogates; sequences
// above U+10FFFF also become U+FFFD.
std::vector<std::uint32_t> decode_utf8_lenient(std::string_view text);
// One step of decode_utf8_lenient: the code point at text[*pos], advancing *pos.
std::uint32_t next_codepoint_lenient(std::string_view text, std::size_t* pos);

// Length of the longest prefix of bytes that is strictly valid UTF-8 (no overlongs, no
// surrogates, nothing above U+10FFFF).
std::size_t valid_utf8_prefix(std::string_view bytes);

// Strict validation result for the start of a byte sequence.
enum class Utf8Status { kComplete, kIncomplete, kInvalid };
// Classifies bytes[0..]: kComplete with *len = the sequence length; kIncomplete if the
// bytes so far are a valid prefix of a longer sequence; kInvalid with *len = the length
// of the maximal invalid subpart (to be replaced by one U+FFFD, as Python and the WHATWG
// decoder do).
Utf8Status classify_utf8(std::string_view bytes, std::size_t* len);

namespace unicode_data {
struct LowerRun {
  std::uint32_t first;
  std::uint32_t last;
  std::uint32_t stride;
  std::int32_t delta;
};
extern const char kUnicodeVersion[];
extern const std::uint32_t kCategoryRanges[];
extern const std::size_t kCategoryRangesSize;
extern const std::uint32_t kWhitespace[];
extern const std::size_t kWhitespaceSize;
extern const LowerRun kLowerRuns[];
extern const std::size_t kLowerRunsSize;
}  // namespace unicode_data

}  // namespace zinfer::tok
