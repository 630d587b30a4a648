// with_attempt() (see frame_attempt.h).
#include "service/nats/frame_attempt.h"

namespace zinfer::nats {
namespace {

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

std::string with_attempt(std::string_view frame, std::uint64_t attempt) {
  if (frame.empty()) return std::string(frame);
  const auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(frame[i]); };
  std::uint64_t n = 0;
  std::size_t header = 0;
  if ((b(0) & 0xf0) == 0x80) {
    n = b(0) & 0x0f;
    header = 1;
  } else if (b(0) == 0xde && frame.size() >= 3) {
    n = (std::uint64_t{b(1)} << 8) | b(2);
    header = 3;
  } else if (b(0) == 0xdf && frame.size() >= 5) {
    n = (std::uint64_t{b(1)} << 24) | (std::uint64_t{b(2)} << 16) | (std::uint64_t{b(3)} << 8) |
        b(4);
    header = 5;
  } else {
    return std::string(frame);
  }
  std::string out;
  out.reserve(frame.size() + 20);
  const std::uint64_t m = n + 1;
  if (m <= 15) {
    out.push_back(static_cast<char>(0x80 | m));
  } else if (m <= 0xffff) {
    out.push_back(static_cast<char>(0xde));
    put_be(out, m, 2);
  } else {
    out.push_back(static_cast<char>(0xdf));
    put_be(out, m, 4);
  }
  out.append(frame.substr(header));
  out.push_back(static_cast<char>(0xa7));  // fixstr of 7 bytes
  out.append("attempt");
  if (attempt < 128) {
    out.push_back(static_cast<char>(attempt));
  } else {
    out.push_back(static_cast<char>(0xcf));  // uint64
    put_be(out, attempt, 8);
  }
  return out;
}

}  // namespace zinfer::nats
