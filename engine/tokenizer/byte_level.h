// GPT-2 byte-level alphabet: every byte maps to one printable code point so that BPE vocab
// entries are text. Printable Latin-1 bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) map
// to themselves; the other 68 bytes map, in byte order, to U+0100, U+0101, ...
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace zinfer::tok {

// Code point that stands for `byte` in byte-level BPE token text.
std::uint32_t byte_to_codepoint(std::uint8_t byte);
// Inverse of byte_to_codepoint; -1 for code points outside the 256-symbol alphabet.
int codepoint_to_byte(std::uint32_t cp);

// Raw bytes → byte-level token text (UTF-8 of the mapped code points).
std::string bytes_to_byte_level(std::string_view bytes);
// Byte-level token text → raw bytes. Code points outside the alphabet (possible only in
// malformed vocabs) are copied through as their UTF-8.
std::string byte_level_to_bytes(std::string_view text);

}  // namespace zinfer::tok
