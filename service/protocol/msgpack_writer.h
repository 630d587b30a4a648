// Internal to the codec: a thin msgpack writer over msgpack-cxx's packer that takes
// string_views and returns the frame as a std::string.
#pragma once

#include <cstdint>
#include <msgpack.hpp>
#include <string>
#include <string_view>

#include "service/protocol/messages.h"

namespace zinfer::protocol::detail {

class MsgWriter {
 public:
  MsgWriter() : pk_(buf_) {}
  MsgWriter(const MsgWriter&) = delete;
  MsgWriter& operator=(const MsgWriter&) = delete;

  void map(std::uint32_t n) { pk_.pack_map(n); }
  void array(std::uint32_t n) { pk_.pack_array(n); }
  void str(std::string_view s) {
    pk_.pack_str(static_cast<std::uint32_t>(s.size()));
    pk_.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
  }
  void key(std::string_view k) { str(k); }
  void i64(std::int64_t v) { pk_.pack_int64(v); }  // smallest encoding that holds v
  void u64(std::uint64_t v) { pk_.pack_uint64(v); }
  void f32(float v) { pk_.pack_float(v); }
  void f64(double v) { pk_.pack_double(v); }
  void boolean(bool v) {
    if (v) {
      pk_.pack_true();
    } else {
      pk_.pack_false();
    }
  }
  // "v" and "type", the first two entries of every message map.
  void header(std::string_view type) {
    key("v");
    u64(kProtocolVersion);
    key("type");
    str(type);
  }
  std::string take() const { return std::string(buf_.data(), buf_.size()); }

 private:
  msgpack::sbuffer buf_;
  msgpack::packer<msgpack::sbuffer> pk_;
};

}  // namespace zinfer::protocol::detail
