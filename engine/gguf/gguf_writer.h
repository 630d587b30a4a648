// GgufWriter: writes GGUF v3 files — metadata of every value type (arrays nested), the
// tensor table and aligned tensor data streamed in order, so multi-GB files never have
// to fit in memory. Byte layout follows the GGUF spec as the `gguf` Python writer emits it.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/quant/ggml_type.h"

namespace zinfer::gguf {

// Builders for metadata values (the on-disk type is the function's, not the C++ type's).
MetaValue meta_u8(std::uint8_t v);
MetaValue meta_i8(std::int8_t v);
MetaValue meta_u16(std::uint16_t v);
MetaValue meta_i16(std::int16_t v);
MetaValue meta_u32(std::uint32_t v);
MetaValue meta_i32(std::int32_t v);
MetaValue meta_u64(std::uint64_t v);
MetaValue meta_i64(std::int64_t v);
MetaValue meta_f32(float v);
MetaValue meta_f64(double v);
MetaValue meta_bool(bool v);
MetaValue meta_string(std::string v);
// Every element must have type elem_type (nested arrays: elem_type kArray).
MetaValue meta_array(ValueType elem_type, std::vector<MetaValue> elems);
MetaValue meta_string_array(std::span<const std::string> v);
MetaValue meta_i32_array(std::span<const std::int32_t> v);
MetaValue meta_f32_array(std::span<const float> v);

// Description of one tensor as written (offset relative to the data section).
struct WriterTensor {
  std::string name;
  quant::GgmlType type = quant::GgmlType::kF32;
  int n_dims = 0;
  std::array<std::int64_t, 4> ne = {1, 1, 1, 1};  // ne[0] is the contiguous (row) dim
  std::uint64_t offset = 0;
  std::uint64_t nbytes = 0;
};

class GgufWriter {
 public:
  GgufWriter() = default;
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Metadata in insertion order; setting an existing key replaces its value in place.
  void set(std::string key, MetaValue value);
  void set_u32(std::string key, std::uint32_t v) { set(std::move(key), meta_u32(v)); }
  void set_i32(std::string key, std::int32_t v) { set(std::move(key), meta_i32(v)); }
  void set_u64(std::string key, std::uint64_t v) { set(std::move(key), meta_u64(v)); }
  void set_f32(std::string key, float v) { set(std::move(key), meta_f32(v)); }
  void set_bool(std::string key, bool v) { set(std::move(key), meta_bool(v)); }
  void set_string(std::string key, std::string v) {
    set(std::move(key), meta_string(std::move(v)));
  }
  // Data alignment (power of two); stored as general.alignment (u32) unless it is 32.
  Status set_alignment(std::uint32_t alignment);
  std::uint64_t alignment() const { return alignment_; }
  std::size_t metadata_count() const { return meta_.size(); }

  // Declares the next tensor; data must later be written in declaration order.
  // kInvalidParameter (naming the tensor) for duplicates, bad dims or ne[0] that is not
  // a multiple of the type's block size.
  Status add_tensor(std::string name, quant::GgmlType type, std::span<const std::int64_t> ne);
  const std::vector<WriterTensor>& tensors() const { return tensors_; }

  // Creates the file and writes header, metadata, tensor table and padding.
  Status open(const std::string& path);
  // Appends bytes of the current tensor (any chunking); crossing into the next tensor
  // inserts the alignment padding. More bytes than declared is an error.
  Status write_data(std::span<const std::uint8_t> bytes);
  // Like write_data with n zero bytes, but seeks instead of writing: the file gets a hole
  // (sparse on file systems that support it), so test files larger than disk or RAM are cheap.
  Status skip_data(std::uint64_t n);
  // Index of the tensor the next write_data bytes belong to (tensors().size() when done).
  std::size_t current_tensor() const { return cur_tensor_; }
  // Checks every declared byte was written, then flushes and closes the file.
  Status close();

  // Size of the header (everything before the data section), padded.
  std::uint64_t data_offset() const;
  // Size of the complete file.
  std::uint64_t file_size() const;

 private:
  Status write_raw(const void* p, std::size_t n);
  Status skip_raw(std::uint64_t n);
  Status advance(std::uint64_t n, bool skip, const std::uint8_t* bytes);
  Status pad_to(std::uint64_t alignment);
  void serialize_header(std::vector<std::uint8_t>& out) const;

  std::vector<std::pair<std::string, MetaValue>> meta_;
  std::vector<WriterTensor> tensors_;
  std::uint64_t alignment_ = 32;
  std::uint64_t data_size_ = 0;  // padded size of the data section

  std::FILE* file_ = nullptr;
  std::string path_;
  std::uint64_t written_ = 0;     // bytes written to the file so far
  std::uint64_t data_start_ = 0;  // file offset of the data section
  std::size_t cur_tensor_ = 0;
  std::uint64_t cur_written_ = 0;  // bytes of the current tensor written
  bool skipped_ = false;           // skip_data left holes: close() sets the length
  std::vector<char> io_buffer_;
};

}  // namespace zinfer::gguf
