// GPT-2 byte-level alphabet (see byte_level.h).
#include "engine/tokenizer/byte_level.h"

#include <array>

#include "engine/tokenizer/unicode.h"

namespace zinfer::tok {
namespace {

bool maps_to_itself(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
  std::array<std::uint32_t, 256> to_cp{};
  std::array<std::int16_t, 0x100 + 68> to_byte{};  // -1: not in the alphabet
};

const Tables& tables() {
  static const Tables t = [] {
    Tables x;
    x.to_byte.fill(-1);
    std::uint32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      x.to_cp[b] = maps_to_itself(b) ? static_cast<std::uint32_t>(b) : next++;
      x.to_byte[x.to_cp[b]] = static_cast<std::int16_t>(b);
    }
    return x;
  }();
  return t;
}

}  // namespace

std::uint32_t byte_to_codepoint(std::uint8_t byte) { return tables().to_cp[byte]; }

int codepoint_to_byte(std::uint32_t cp) {
  return cp < tables().to_byte.size() ? tables().to_byte[cp] : -1;
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) append_utf8(out, byte_to_codepoint(static_cast<std::uint8_t>(c)));
  return out;
}

std::string byte_level_to_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::uint32_t cp = next_codepoint_lenient(text, &i);
    const int b = codepoint_to_byte(cp);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      append_utf8(out, cp);
    }
  }
  return out;
}

}  // namespace zinfer::tok
