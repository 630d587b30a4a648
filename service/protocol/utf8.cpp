// UTF-8 validator following Unicode Table 3-7 (well-formed byte sequences) row by row.
#include "service/protocol/utf8.h"

#include <cstdint>

namespace zinfer::protocol {

std::optional<std::size_t> utf8_error_offset(std::string_view s) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t b0 = p[i];
    if (b0 < 0x80) {  // ASCII fast path
      ++i;
      continue;
    }
    // Length and the allowed range of the second byte (Table 3-7 narrows it for E0, ED,
    // F0 and F4 to exclude overlongs, surrogates and code points above U+10FFFF).
    std::size_t len = 0;
    std::uint8_t lo = 0x80;
    std::uint8_t hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
    } else if (b0 == 0xE0) {
      len = 3;
      lo = 0xA0;
    } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
      len = 3;
    } else if (b0 == 0xED) {
      len = 3;
      hi = 0x9F;
    } else if (b0 == 0xF0) {
      len = 4;
      lo = 0x90;
    } else if (b0 >= 0xF1 && b0 <= 0xF3) {
      len = 4;
    } else if (b0 == 0xF4) {
      len = 4;
      hi = 0x8F;
    } else {
      return i;  // 80..C1 (continuation or overlong lead) and F5..FF never start a character
    }
    if (n - i < len) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return std::nullopt;
}

}  // namespace zinfer::protocol
