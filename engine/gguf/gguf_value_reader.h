// GgufValueReader: decodes GGUF strings and metadata values (all 13 types, nested arrays)
// from untrusted bytes, with limits on string length, array counts and nesting depth.
#pragma once

#include <cstdint>
#include <string>

#include "engine/core/error.h"
#include "engine/gguf/byte_reader.h"
#include "engine/gguf/gguf_file.h"

namespace zinfer::gguf {

// Bounds applied on top of "never read past the end".
struct ValueLimits {
  int max_array_depth = 8;  // an array of arrays of ... at most this many levels
  // All array elements of one file together. Each element costs ~90 bytes in memory but may
  // cost one byte on disk; this bounds that blow-up (the largest real vocabularies hold a
  // few hundred thousand entries per array).
  std::uint64_t max_array_elements = std::uint64_t{1} << 24;
};

// Smallest on-disk size of one value of a type (a string is at least its u64 length,
// an array at least its element type and count); used to reject impossible counts early.
std::uint64_t min_encoded_size(ValueType type);
// True for the 13 ids the format defines.
bool is_known_value_type(std::uint32_t raw);

class GgufValueReader {
 public:
  GgufValueReader(ByteReader& in, ValueLimits limits) : in_(in), limits_(limits) {}

  // u64 length + bytes. `what` names the string in errors ("key", "tensor name").
  Status read_string(std::string& out, const char* what);
  // A u32 value type id, rejected when unknown.
  Status read_type(ValueType& out, const char* what);
  // One value of `type` (arrays recurse up to limits.max_array_depth).
  Status read_value(ValueType type, MetaValue& out) { return read_value_at(type, out, 0); }

 private:
  Status read_value_at(ValueType type, MetaValue& out, int depth);
  Status read_array(MetaValue& out, int depth);
  template <typename T>
  Status read_scalar(T& out, ValueType type);

  ByteReader& in_;
  ValueLimits limits_;
  std::uint64_t array_elements_ = 0;  // running total against limits_.max_array_elements
};

}  // namespace zinfer::gguf
