// GGUF v3 serialization: little-endian scalars, u64-length strings, typed arrays, tensor
// infos, zero padding to the alignment before the data section and after every tensor.
#include "engine/gguf/gguf_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zinfer::gguf {
namespace {

constexpr std::uint32_t kVersion = 3;
constexpr std::uint64_t kDefaultAlignment = 32;

std::uint64_t align_up(std::uint64_t n, std::uint64_t a) { return (n + a - 1) / a * a; }

// Byte sink used for the header; the data section is streamed straight to the file.
class Bytes {
 public:
  explicit Bytes(std::vector<std::uint8_t>& out) : out_(out) {}
  template <typename T>
  void pod(T v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);  // hosts are little-endian
    out_.insert(out_.end(), p, p + sizeof(T));
  }
  void str(std::string_view s) {
    pod<std::uint64_t>(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }

 private:
  std::vector<std::uint8_t>& out_;
};

void put_value(Bytes& b, ValueType type, const MetaValue& v);

void put_array(Bytes& b, const MetaValue& v) {
  b.pod<std::uint32_t>(static_cast<std::uint32_t>(v.elem_type));
  b.pod<std::uint64_t>(v.arr.size());
  for (const auto& e : v.arr) put_value(b, v.elem_type, e);
}

void put_value(Bytes& b, ValueType type, const MetaValue& v) {
  switch (type) {
    case ValueType::kUInt8:
      b.pod<std::uint8_t>(static_cast<std::uint8_t>(v.u));
      break;
    case ValueType::kInt8:
      b.pod<std::int8_t>(static_cast<std::int8_t>(v.i));
      break;
    case ValueType::kUInt16:
      b.pod<std::uint16_t>(static_cast<std::uint16_t>(v.u));
      break;
    case ValueType::kInt16:
      b.pod<std::int16_t>(static_cast<std::int16_t>(v.i));
      break;
    case ValueType::kUInt32:
      b.pod<std::uint32_t>(static_cast<std::uint32_t>(v.u));
      break;
    case ValueType::kInt32:
      b.pod<std::int32_t>(static_cast<std::int32_t>(v.i));
      break;
    case ValueType::kFloat32:
      b.pod<float>(static_cast<float>(v.f));
      break;
    case ValueType::kBool:
      b.pod<std::uint8_t>(v.u != 0 ? 1 : 0);
      break;
    case ValueType::kString:
      b.str(v.s);
      break;
    case ValueType::kArray:
      put_array(b, v);
      break;
    case ValueType::kUInt64:
      b.pod<std::uint64_t>(v.u);
      break;
    case ValueType::kInt64:
      b.pod<std::int64_t>(v.i);
      break;
    case ValueType::kFloat64:
      b.pod<double>(v.f);
      break;
  }
}

// A scalar of type t holding one of the three payloads (MetaValue keeps u, i and f apart).
MetaValue unsigned_value(ValueType t, std::uint64_t u) {
  MetaValue v;
  v.type = t;
  v.u = u;
  return v;
}
MetaValue signed_value(ValueType t, std::int64_t i) {
  MetaValue v;
  v.type = t;
  v.i = i;
  return v;
}
MetaValue float_value(ValueType t, double f) {
  MetaValue v;
  v.type = t;
  v.f = f;
  return v;
}

template <typename T>
MetaValue array_of(ValueType elem_type, std::span<const T> v, MetaValue (*make)(T)) {
  std::vector<MetaValue> e;
  e.reserve(v.size());
  for (const T& x : v) e.push_back(make(x));
  return meta_array(elem_type, std::move(e));
}

}  // namespace

MetaValue meta_u8(std::uint8_t v) { return unsigned_value(ValueType::kUInt8, v); }
MetaValue meta_i8(std::int8_t v) { return signed_value(ValueType::kInt8, v); }
MetaValue meta_u16(std::uint16_t v) { return unsigned_value(ValueType::kUInt16, v); }
MetaValue meta_i16(std::int16_t v) { return signed_value(ValueType::kInt16, v); }
MetaValue meta_u32(std::uint32_t v) { return unsigned_value(ValueType::kUInt32, v); }
MetaValue meta_i32(std::int32_t v) { return signed_value(ValueType::kInt32, v); }
MetaValue meta_u64(std::uint64_t v) { return unsigned_value(ValueType::kUInt64, v); }
MetaValue meta_i64(std::int64_t v) { return signed_value(ValueType::kInt64, v); }
MetaValue meta_f32(float v) { return float_value(ValueType::kFloat32, v); }
MetaValue meta_f64(double v) { return float_value(ValueType::kFloat64, v); }
MetaValue meta_bool(bool v) { return unsigned_value(ValueType::kBool, v ? 1 : 0); }
MetaValue meta_string(std::string v) {
  MetaValue m;
  m.type = ValueType::kString;
  m.s = std::move(v);
  return m;
}

MetaValue meta_array(ValueType elem_type, std::vector<MetaValue> elems) {
  MetaValue m;
  m.type = ValueType::kArray;
  m.elem_type = elem_type;
  m.arr = std::move(elems);
  return m;
}

MetaValue meta_string_array(std::span<const std::string> v) {
  return array_of<std::string>(ValueType::kString, v, &meta_string);
}
MetaValue meta_i32_array(std::span<const std::int32_t> v) {
  return array_of<std::int32_t>(ValueType::kInt32, v, &meta_i32);
}
MetaValue meta_f32_array(std::span<const float> v) {
  return array_of<float>(ValueType::kFloat32, v, &meta_f32);
}

GgufWriter::~GgufWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void GgufWriter::set(std::string key, MetaValue value) {
  for (auto& kv : meta_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  meta_.emplace_back(std::move(key), std::move(value));
}

Status GgufWriter::set_alignment(std::uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    return make_error(ErrorCode::kInvalidParameter,
                      "general.alignment must be a power of two, got " + std::to_string(alignment));
  }
  if (file_ != nullptr) {
    return make_error(ErrorCode::kInvalidParameter, "general.alignment set after open()");
  }
  alignment_ = alignment;
  // Recompute offsets of tensors already declared.
  data_size_ = 0;
  for (auto& t : tensors_) {
    t.offset = data_size_;
    data_size_ = align_up(data_size_ + t.nbytes, alignment_);
  }
  if (alignment != kDefaultAlignment) set_u32("general.alignment", alignment);
  return ok_status();
}

Status GgufWriter::add_tensor(std::string name, quant::GgmlType type,
                              std::span<const std::int64_t> ne) {
  if (file_ != nullptr) {
    return make_error(ErrorCode::kInvalidParameter, "tensor '" + name + "' added after open()");
  }
  if (ne.empty() || ne.size() > 4) {
    return make_error(
        ErrorCode::kInvalidParameter,
        "tensor '" + name + "': n_dims must be 1..4, got " + std::to_string(ne.size()));
  }
  for (const auto& t : tensors_) {
    if (t.name == name) {
      return make_error(ErrorCode::kInvalidParameter, "duplicate tensor name '" + name + "'");
    }
  }
  WriterTensor t;
  t.name = std::move(name);
  t.type = type;
  t.n_dims = static_cast<int>(ne.size());
  std::int64_t rows = 1;
  for (std::size_t i = 0; i < ne.size(); ++i) {
    if (ne[i] <= 0) {
      return make_error(ErrorCode::kInvalidParameter,
                        "tensor '" + t.name + "': ne[" + std::to_string(i) + "] must be positive");
    }
    t.ne[i] = ne[i];
    if (i > 0) rows *= ne[i];
  }
  const auto& tr = quant::traits(type);
  if (t.ne[0] % tr.block_size != 0) {
    return make_error(ErrorCode::kInvalidParameter,
                      "tensor '" + t.name + "': ne[0]=" + std::to_string(t.ne[0]) +
                          " is not a multiple of the " + std::string(tr.name) + " block size " +
                          std::to_string(tr.block_size));
  }
  t.nbytes = quant::row_size(type, t.ne[0]) * static_cast<std::uint64_t>(rows);
  t.offset = data_size_;
  data_size_ = align_up(data_size_ + t.nbytes, alignment_);
  tensors_.push_back(std::move(t));
  return ok_status();
}

void GgufWriter::serialize_header(std::vector<std::uint8_t>& out) const {
  Bytes b(out);
  out.insert(out.end(), {'G', 'G', 'U', 'F'});
  b.pod<std::uint32_t>(kVersion);
  b.pod<std::uint64_t>(tensors_.size());
  b.pod<std::uint64_t>(meta_.size());
  for (const auto& [key, value] : meta_) {
    b.str(key);
    b.pod<std::uint32_t>(static_cast<std::uint32_t>(value.type));
    put_value(b, value.type, value);
  }
  for (const auto& t : tensors_) {
    b.str(t.name);
    b.pod<std::uint32_t>(static_cast<std::uint32_t>(t.n_dims));
    for (int d = 0; d < t.n_dims; ++d) b.pod<std::uint64_t>(static_cast<std::uint64_t>(t.ne[d]));
    b.pod<std::uint32_t>(static_cast<std::uint32_t>(t.type));
    b.pod<std::uint64_t>(t.offset);
  }
  out.resize(align_up(out.size(), alignment_), 0);
}

std::uint64_t GgufWriter::data_offset() const {
  std::vector<std::uint8_t> header;
  serialize_header(header);
  return header.size();
}

std::uint64_t GgufWriter::file_size() const { return data_offset() + data_size_; }

Status GgufWriter::open(const std::string& path) {
  if (file_ != nullptr) return make_error(ErrorCode::kInvalidParameter, "GgufWriter already open");
  for (const auto& [key, value] : meta_) {
    if (value.type == ValueType::kArray) {
      for (const auto& e : value.arr) {
        if (e.type != value.elem_type) {
          return make_error(ErrorCode::kInvalidParameter,
                            "metadata '" + key + "': array element of type id " +
                                std::to_string(static_cast<int>(e.type)) +
                                " in an array of type id " +
                                std::to_string(static_cast<int>(value.elem_type)));
        }
      }
    }
  }
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) {
    return make_error(ErrorCode::kInternal,
                      "cannot create '" + path + "': " + std::strerror(errno));
  }
  path_ = path;
  io_buffer_.resize(std::size_t{4} << 20);
  std::setvbuf(file_, io_buffer_.data(), _IOFBF, io_buffer_.size());
  std::vector<std::uint8_t> header;
  serialize_header(header);
  written_ = 0;
  ZINFER_RETURN_IF_ERROR(write_raw(header.data(), header.size()));
  data_start_ = written_;
  cur_tensor_ = 0;
  cur_written_ = 0;
  return ok_status();
}

Status GgufWriter::write_raw(const void* p, std::size_t n) {
  if (n == 0) return ok_status();
  if (std::fwrite(p, 1, n, file_) != n) {
    return make_error(ErrorCode::kInternal,
                      "write to '" + path_ + "' failed: " + std::strerror(errno));
  }
  written_ += n;
  return ok_status();
}

Status GgufWriter::pad_to(std::uint64_t alignment) {
  static constexpr std::uint8_t kZeros[64] = {};
  std::uint64_t rel = written_ - data_start_;
  std::uint64_t pad = align_up(rel, alignment) - rel;
  while (pad > 0) {
    std::size_t n = pad < sizeof(kZeros) ? static_cast<std::size_t>(pad) : sizeof(kZeros);
    ZINFER_RETURN_IF_ERROR(write_raw(kZeros, n));
    pad -= n;
  }
  return ok_status();
}

Status GgufWriter::skip_raw(std::uint64_t n) {
  if (n == 0) return ok_status();
  if (std::fseek(file_, static_cast<long>(n), SEEK_CUR) != 0) {
    return make_error(ErrorCode::kInternal,
                      "seek in '" + path_ + "' failed: " + std::strerror(errno));
  }
  written_ += n;
  skipped_ = true;
  return ok_status();
}

Status GgufWriter::write_data(std::span<const std::uint8_t> bytes) {
  return advance(bytes.size(), false, bytes.data());
}

Status GgufWriter::skip_data(std::uint64_t n) { return advance(n, true, nullptr); }

// Moves n bytes through the tensors in order (writing `bytes` or seeking over holes),
// padding at each tensor's end.
Status GgufWriter::advance(std::uint64_t total, bool skip, const std::uint8_t* bytes) {
  if (file_ == nullptr) return make_error(ErrorCode::kInvalidParameter, "write_data before open()");
  while (total > 0) {
    if (cur_tensor_ >= tensors_.size()) {
      return make_error(ErrorCode::kInvalidParameter,
                        "write_data: " + std::to_string(total) + " bytes past the last tensor");
    }
    const WriterTensor& t = tensors_[cur_tensor_];
    const std::uint64_t room = t.nbytes - cur_written_;
    const std::uint64_t n = total < room ? total : room;
    if (skip) {
      ZINFER_RETURN_IF_ERROR(skip_raw(n));
    } else {
      ZINFER_RETURN_IF_ERROR(write_raw(bytes, static_cast<std::size_t>(n)));
      bytes += n;
    }
    total -= n;
    cur_written_ += n;
    if (cur_written_ == t.nbytes) {
      ZINFER_RETURN_IF_ERROR(pad_to(alignment_));
      ++cur_tensor_;
      cur_written_ = 0;
    }
  }
  return ok_status();
}

Status GgufWriter::close() {
  if (file_ == nullptr) return make_error(ErrorCode::kInvalidParameter, "close before open()");
  // Zero-sized tails cannot happen (every ne > 0), so an unfinished tensor is a caller bug.
  if (cur_tensor_ < tensors_.size()) {
    std::string name = tensors_[cur_tensor_].name;
    std::fclose(file_);
    file_ = nullptr;
    return make_error(ErrorCode::kInvalidParameter,
                      "close: tensor '" + name + "' has " + std::to_string(cur_written_) + " of " +
                          std::to_string(tensors_[cur_tensor_].nbytes) + " bytes written");
  }
  int rc = std::fflush(file_);
  if (rc == 0 && skipped_ && ::ftruncate(::fileno(file_), static_cast<off_t>(written_)) != 0)
    rc = -1;
  rc = std::fclose(file_) != 0 ? -1 : rc;
  file_ = nullptr;
  if (rc != 0) {
    return make_error(ErrorCode::kInternal,
                      "closing '" + path_ + "' failed: " + std::strerror(errno));
  }
  return ok_status();
}

}  // namespace zinfer::gguf
