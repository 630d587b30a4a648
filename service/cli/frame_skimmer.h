// FrameSkimmer: the `zinfer bench` clients' minimal msgpack walker. It reads only "type" and
// "text" of a worker frame so that clients, which share the machine's cores with the worker,
// cost as little as possible (the bench still decodes a sample of frames with the strict codec).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace zinfer::cli {

class FrameSkimmer {
 public:
  FrameSkimmer(const std::uint8_t* p, std::size_t n) : p_(p), end_(p + n) {}
  // Fills type and text of a top-level map; false on anything unexpected.
  bool read(std::string_view& type, std::string_view& text) {
    std::uint32_t entries = 0;
    if (!map_header(entries)) return false;
    for (std::uint32_t i = 0; i < entries; ++i) {
      std::string_view key;
      if (!str(key)) return false;
      if (key == "type" || key == "text") {
        if (!str(key == "type" ? type : text)) return false;
      } else if (!skip()) {
        return false;
      }
    }
    return true;
  }

 private:
  bool need(std::size_t n) const { return static_cast<std::size_t>(end_ - p_) >= n; }
  std::uint64_t be(int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | *p_++;
    return v;
  }
  bool map_header(std::uint32_t& n) {
    if (!need(1)) return false;
    const std::uint8_t b = *p_++;
    if ((b & 0xf0) == 0x80) return (n = b & 0x0f), true;
    if (b == 0xde && need(2)) return (n = static_cast<std::uint32_t>(be(2))), true;
    if (b == 0xdf && need(4)) return (n = static_cast<std::uint32_t>(be(4))), true;
    return false;
  }
  bool str(std::string_view& out) {
    if (!need(1)) return false;
    const std::uint8_t b = *p_++;
    std::uint64_t len = 0;
    if ((b & 0xe0) == 0xa0) {
      len = b & 0x1f;
    } else if (b == 0xd9 && need(1)) {
      len = be(1);
    } else if (b == 0xda && need(2)) {
      len = be(2);
    } else if (b == 0xdb && need(4)) {
      len = be(4);
    } else {
      return false;
    }
    if (!need(len)) return false;
    out = std::string_view(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    return true;
  }
  bool skip(int depth = 0) {
    if (!need(1) || depth > 8) return false;
    const std::uint8_t b = *p_;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return ++p_, true;
    if ((b & 0xe0) == 0xa0 || (b >= 0xd9 && b <= 0xdb)) {
      std::string_view s;
      return str(s);
    }
    std::uint64_t n = 0;
    bool is_map = false;
    ++p_;
    switch (b) {
      case 0xcc:
      case 0xd0:
        return need(1) && (p_ += 1, true);
      case 0xcd:
      case 0xd1:
        return need(2) && (p_ += 2, true);
      case 0xca:
      case 0xce:
      case 0xd2:
        return need(4) && (p_ += 4, true);
      case 0xcb:
      case 0xcf:
      case 0xd3:
        return need(8) && (p_ += 8, true);
      case 0xdc:
        if (!need(2)) return false;
        n = be(2);
        break;
      case 0xdd:
        if (!need(4)) return false;
        n = be(4);
        break;
      case 0xde:
        if (!need(2)) return false;
        n = be(2);
        is_map = true;
        break;
      case 0xdf:
        if (!need(4)) return false;
        n = be(4);
        is_map = true;
        break;
      default:
        if ((b & 0xf0) == 0x90) {
          n = b & 0x0f;
        } else if ((b & 0xf0) == 0x80) {
          n = b & 0x0f;
          is_map = true;
        } else {
          return false;
        }
    }
    for (std::uint64_t i = 0; i < n * (is_map ? 2 : 1); ++i) {
      if (!skip(depth + 1)) return false;
    }
    return true;
  }
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

}  // namespace zinfer::cli
