// Read-only view of a GGUF (v2/v3) file: metadata, tensor table, tensor data (mmap).
// Every size, offset, count and type is validated against the file length on open;
// a malformed file yields ErrorCode::kModelLoadFailed with a message naming the problem.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.h"
#include "engine/quant/ggml_type.h"

namespace zinfer::gguf {

// On-disk metadata value type ids (gguf_type).
enum class ValueType : std::uint32_t {
  kUInt8 = 0,
  kInt8 = 1,
  kUInt16 = 2,
  kInt16 = 3,
  kUInt32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUInt64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

std::string_view value_type_name(ValueType type);

// One metadata value. Scalars are widened (integers to int64/uint64, floats to double);
// arrays keep their element type and may nest.
struct MetaValue {
  ValueType type = ValueType::kUInt8;
  ValueType elem_type = ValueType::kUInt8;  // for kArray
  std::uint64_t u = 0;                      // unsigned ints and bool
  std::int64_t i = 0;                       // signed ints
  double f = 0.0;                           // floats
  std::string s;                            // kString
  std::vector<MetaValue> arr;               // kArray
};

struct TensorInfo {
  std::string name;
  quant::GgmlType type = quant::GgmlType::kF32;
  int n_dims = 0;
  std::array<std::int64_t, 4> ne = {1, 1, 1, 1};  // ne[0] is the contiguous (row) dim
  std::uint64_t offset = 0;                       // relative to the start of the data section
  std::uint64_t nbytes = 0;
  const std::uint8_t* data = nullptr;  // points into the mapping
  std::int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class GgufFile {
 public:
  // Maps the file read-only and validates it completely.
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
  // Parses a buffer the caller keeps alive (tests, fuzzing). Copies nothing.
  static Result<std::unique_ptr<GgufFile>> from_memory(std::span<const std::uint8_t> bytes);

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  std::uint32_t version() const { return version_; }
  std::uint64_t alignment() const { return alignment_; }
  std::uint64_t data_offset() const { return data_offset_; }
  std::uint64_t file_size() const { return size_; }

  const std::map<std::string, MetaValue, std::less<>>& metadata() const { return meta_; }
  const MetaValue* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed getters. A missing key or a wrong type is kModelLoadFailed naming the key.
  // Integer getters accept any integer type whose value fits.
  Result<std::uint32_t> get_u32(std::string_view key) const;
  Result<std::int64_t> get_i64(std::string_view key) const;
  Result<float> get_f32(std::string_view key) const;  // accepts f32/f64
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string> get_string(std::string_view key) const;
  Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  Result<std::vector<float>> get_f32_array(std::string_view key) const;
  Result<std::vector<std::int32_t>> get_i32_array(std::string_view key) const;
  // As above but a missing key yields the fallback (a wrong type is still an error).
  Result<std::uint32_t> get_u32_or(std::string_view key, std::uint32_t fallback) const;
  Result<float> get_f32_or(std::string_view key, float fallback) const;
  Result<bool> get_bool_or(std::string_view key, bool fallback) const;
  Result<std::string> get_string_or(std::string_view key, std::string fallback) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  Status parse();

  const std::uint8_t* base_ = nullptr;
  std::uint64_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when we own an mmap
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = 32;
  std::uint64_t data_offset_ = 0;
  std::map<std::string, MetaValue, std::less<>> meta_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> tensor_index_;
};

}  // namespace zinfer::gguf
