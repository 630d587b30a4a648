// ByteReader: a bounds-checked little-endian cursor over an untrusted byte buffer.
// Every read either succeeds completely or leaves the cursor untouched and returns false,
// so a parser can never step past the end of the buffer.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

namespace zinfer::gguf {

// GGUF is little-endian on disk and we read it with memcpy, so the host must match.
static_assert(std::endian::native == std::endian::little,
              "GGUF reader assumes a little-endian host");

class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::uint64_t size) : data_(data), size_(size) {}

  std::uint64_t pos() const { return pos_; }
  std::uint64_t size() const { return size_; }
  std::uint64_t remaining() const { return size_ - pos_; }

  // Reads one trivially copyable value (integers, floats) in host (= little-endian) order.
  template <typename T>
  bool read(T& out) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T)) return false;
    std::memcpy(&out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  // Copies n bytes into out; false (nothing consumed) when fewer than n remain.
  bool read_bytes(std::uint64_t n, std::string& out) {
    if (remaining() < n) return false;
    out.assign(reinterpret_cast<const char*>(data_ + pos_), static_cast<std::size_t>(n));
    pos_ += n;
    return true;
  }

 private:
  const std::uint8_t* data_;
  std::uint64_t size_;
  std::uint64_t pos_ = 0;
};

}  // namespace zinfer::gguf
