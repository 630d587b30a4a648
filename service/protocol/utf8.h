// Strict UTF-8 validation for every string that crosses the wire.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace zinfer::protocol {

// Byte offset of the first ill-formed sequence, or nullopt when `s` is well-formed UTF-8
// as defined by Unicode Table 3-7: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
// above U+10FFFF, no truncated sequence at the end. U+0000 is allowed (it is valid UTF-8).
std::optional<std::size_t> utf8_error_offset(std::string_view s);

inline bool utf8_valid(std::string_view s) { return !utf8_error_offset(s).has_value(); }

// The longest prefix of valid UTF-8 `s` that has at most max_bytes bytes and does not split a
// character (for quoting client text in error messages).
inline std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

}  // namespace zinfer::protocol
