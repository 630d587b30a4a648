// GgufFile: maps a GGUF v2/v3 file, parses header, metadata and tensor table, and checks
// every count, size and offset against the file before anything trusts it.
#include "engine/gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "engine/gguf/byte_reader.h"
#include "engine/gguf/gguf_value_reader.h"

namespace zinfer::gguf {
namespace {

constexpr std::uint32_t kMinVersion = 2;
constexpr std::uint32_t kMaxVersion = 3;
constexpr std::uint64_t kDefaultAlignment = 32;
constexpr std::uint32_t kMaxDims = 4;
constexpr std::size_t kMaxKeyBytes = 65535;  // the GGUF spec caps metadata keys at 2^16 - 1 bytes
constexpr const char* kAlignmentKey = "general.alignment";
// Smallest possible encodings, used to reject counts the file cannot hold before allocating.
constexpr std::uint64_t kMinKvBytes = 8 + 4 + 1;  // key length, type, u8 value
constexpr std::uint64_t kMinTensorInfoBytes =
    8 + 4 + 8 + 4 + 8;  // name len, n_dims, 1 dim, type, offset

Error load_error(std::string message) {
  return make_error(ErrorCode::kModelLoadFailed, std::move(message));
}

// A name for an error message: quoted, and cut short so a hostile multi-megabyte key
// cannot balloon the message.
std::string quoted(std::string_view s) {
  constexpr std::size_t kMaxShown = 120;
  std::string out;
  out.reserve(std::min(s.size(), kMaxShown) + 5);
  out += '\'';
  out.append(s.substr(0, kMaxShown));
  if (s.size() > kMaxShown) out += "...";
  out += '\'';
  return out;
}

std::string hex_bytes(const std::uint8_t* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t k = 0; k < n; ++k) {
    out += kHex[p[k] >> 4];
    out += kHex[p[k] & 15];
  }
  return out;
}

std::string shape_string(const TensorInfo& t, std::uint32_t n_dims) {
  std::string s = "[";
  for (std::uint32_t d = 0; d < n_dims; ++d) s += (d ? ", " : "") + std::to_string(t.ne[d]);
  return s + "]";
}

// Parses the tensor-info block for one tensor: name, dims, type, offset; computes nbytes.
Status read_tensor_info(GgufValueReader& values, ByteReader& in, std::uint64_t alignment,
                        TensorInfo& t) {
  ZINFER_RETURN_IF_ERROR(values.read_string(t.name, "tensor name"));
  const std::string who = "tensor " + quoted(t.name) + ": ";
  std::uint32_t n_dims = 0;
  if (!in.read(n_dims)) return load_error(who + "truncated n_dims");
  if (n_dims < 1 || n_dims > kMaxDims) {
    return load_error(who + "n_dims " + std::to_string(n_dims) + " is outside [1, " +
                      std::to_string(kMaxDims) + "]");
  }
  t.n_dims = static_cast<int>(n_dims);
  std::int64_t n_elements = 1;
  bool overflow = false;
  for (std::uint32_t d = 0; d < n_dims; ++d) {
    std::uint64_t raw = 0;
    if (!in.read(raw)) return load_error(who + "truncated dimension " + std::to_string(d));
    if (raw > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return load_error(who + "dimension " + std::to_string(d) + " (" + std::to_string(raw) +
                        ") does not fit in int64");
    }
    t.ne[d] = static_cast<std::int64_t>(raw);
    overflow = overflow || __builtin_mul_overflow(n_elements, t.ne[d], &n_elements);
  }
  if (overflow)
    return load_error(who + "element count of shape " + shape_string(t, n_dims) +
                      " overflows int64");
  std::uint32_t raw_type = 0;
  if (!in.read(raw_type)) return load_error(who + "truncated ggml type");
  const std::optional<quant::TypeTraits> traits = quant::type_traits(raw_type);
  if (!traits) return load_error(who + "unknown ggml type " + std::to_string(raw_type));
  t.type = traits->type;
  if (t.ne[0] % traits->block_size != 0) {
    return load_error(who + "ne[0]=" + std::to_string(t.ne[0]) + " is not a multiple of the " +
                      std::string(traits->name) + " block size " +
                      std::to_string(traits->block_size));
  }
  if (!in.read(t.offset)) return load_error(who + "truncated data offset");
  if (t.offset % alignment != 0) {
    return load_error(who + "data offset " + std::to_string(t.offset) +
                      " is not a multiple of the alignment " + std::to_string(alignment));
  }
  // nbytes = (ne0 / block) * type_size * ne1 * ne2 * ne3; the element count fits in int64,
  // but multiplying by the block's byte size still can overflow.
  std::uint64_t nbytes = static_cast<std::uint64_t>(t.ne[0] / traits->block_size);
  overflow = __builtin_mul_overflow(nbytes, static_cast<std::uint64_t>(traits->type_size), &nbytes);
  for (std::uint32_t d = 1; d < n_dims; ++d) {
    overflow =
        overflow || __builtin_mul_overflow(nbytes, static_cast<std::uint64_t>(t.ne[d]), &nbytes);
  }
  if (overflow)
    return load_error(who + "byte size of shape " + shape_string(t, n_dims) + " overflows uint64");
  t.nbytes = nbytes;
  return ok_status();
}

// ---- typed metadata access -------------------------------------------------------------

bool is_unsigned(ValueType t) {
  return t == ValueType::kUInt8 || t == ValueType::kUInt16 || t == ValueType::kUInt32 ||
         t == ValueType::kUInt64;
}
bool is_signed(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 ||
         t == ValueType::kInt64;
}
bool is_float(ValueType t) { return t == ValueType::kFloat32 || t == ValueType::kFloat64; }

std::string describe(const MetaValue& v) {
  if (v.type != ValueType::kArray) return std::string(value_type_name(v.type));
  return "array[" + std::string(value_type_name(v.elem_type)) + "]";
}

Error key_error(std::string_view key, const std::string& what) {
  return load_error("metadata key " + quoted(key) + " " + what);
}

Error wrong_type(std::string_view key, const MetaValue& v, std::string_view expected) {
  return key_error(key, "has type " + describe(v) + ", expected " + std::string(expected));
}

// An integer value (of any integer type) converted to T when it fits; scalars only.
template <typename T>
std::optional<T> integer_as(ValueType type, const MetaValue& v) {
  if (is_unsigned(type) && std::in_range<T>(v.u)) return static_cast<T>(v.u);
  if (is_signed(type) && std::in_range<T>(v.i)) return static_cast<T>(v.i);
  return std::nullopt;
}

std::string integer_string(ValueType type, const MetaValue& v) {
  return is_unsigned(type) ? std::to_string(v.u) : std::to_string(v.i);
}

// A float32/float64 value as float; a finite float64 beyond float's range is an error
// (the conversion would be undefined behaviour).
std::optional<float> float_as_f32(const MetaValue& v) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (std::isfinite(v.f) && (v.f > kMax || v.f < -kMax)) return std::nullopt;
  return static_cast<float>(v.f);
}

}  // namespace

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return load_error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return load_error(path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return load_error(path + ": not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    return load_error(path + ": file is empty, not a GGUF file");
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  void* map = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps the file referenced
  if (map == MAP_FAILED) return load_error(path + ": mmap failed: " + std::strerror(map_err));

  std::unique_ptr<GgufFile> file(new GgufFile());
  file->mapping_ = map;  // owned from here on: the destructor unmaps even if parsing fails
  file->base_ = static_cast<const std::uint8_t*>(map);
  file->size_ = size;
  Status parsed = file->parse();
  if (!parsed.ok()) return load_error(path + ": " + parsed.error().message);
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::from_memory(std::span<const std::uint8_t> bytes) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->base_ = bytes.data();
  file->size_ = bytes.size();
  ZINFER_RETURN_IF_ERROR(file->parse());
  return file;
}

GgufFile::~GgufFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, static_cast<std::size_t>(size_));
}

Status GgufFile::parse() {
  ByteReader in(base_, size_);
  GgufValueReader values(in, ValueLimits{});

  // Header: magic, version, tensor count, kv count.
  if (size_ < 4)
    return load_error("file is " + std::to_string(size_) + " bytes, too small for the GGUF magic");
  if (std::memcmp(base_, "GGUF", 4) != 0) {
    return load_error("bad magic: expected 'GGUF' (47475546), found " + hex_bytes(base_, 4));
  }
  std::uint32_t magic = 0;
  (void)in.read(magic);
  if (!in.read(version_)) return load_error("truncated header: missing version");
  if (version_ == 1) {
    return load_error(
        "GGUF version 1 is not supported (only versions 2 and 3); re-convert the model");
  }
  if (version_ < kMinVersion || version_ > kMaxVersion) {
    if (const std::uint32_t swapped = __builtin_bswap32(version_);
        swapped >= 1 && swapped <= kMaxVersion) {
      return load_error("big-endian GGUF (version " + std::to_string(swapped) +
                        ") is not supported");
    }
    return load_error("unsupported GGUF version " + std::to_string(version_) +
                      " (only versions 2 and 3)");
  }
  std::uint64_t tensor_count = 0;
  std::uint64_t kv_count = 0;
  if (!in.read(tensor_count)) return load_error("truncated header: missing tensor_count");
  if (!in.read(kv_count)) return load_error("truncated header: missing kv_count");
  if (kv_count > in.remaining() / kMinKvBytes) {
    return load_error("kv_count " + std::to_string(kv_count) + " cannot fit in the " +
                      std::to_string(in.remaining()) + " bytes after the header");
  }
  if (tensor_count > in.remaining() / kMinTensorInfoBytes) {
    return load_error("tensor_count " + std::to_string(tensor_count) + " cannot fit in the " +
                      std::to_string(in.remaining()) + " bytes after the header");
  }

  // Metadata key/value pairs.
  for (std::uint64_t k = 0; k < kv_count; ++k) {
    std::string key;
    Status st = values.read_string(key, "key");
    if (!st.ok()) return load_error("metadata kv " + std::to_string(k) + ": " + st.error().message);
    const std::string who = "metadata key " + quoted(key) + ": ";
    if (key.size() > kMaxKeyBytes) {
      return load_error(who + "key length " + std::to_string(key.size()) +
                        " exceeds the format's limit of " + std::to_string(kMaxKeyBytes));
    }
    if (meta_.find(key) != meta_.end()) return load_error("duplicate metadata key " + quoted(key));
    ValueType type = ValueType::kUInt8;
    st = values.read_type(type, "value type");
    if (st.ok()) {
      MetaValue value;
      st = values.read_value(type, value);
      if (st.ok()) meta_.emplace(std::move(key), std::move(value));
    }
    if (!st.ok()) return load_error(who + st.error().message);
  }

  if (const MetaValue* align = find(kAlignmentKey)) {
    if (align->type != ValueType::kUInt32) {
      return load_error(std::string(kAlignmentKey) + " must be uint32, found " +
                        std::string(value_type_name(align->type)));
    }
    if (align->u == 0 || (align->u & (align->u - 1)) != 0) {
      return load_error(std::string(kAlignmentKey) + " " + std::to_string(align->u) +
                        " is not a non-zero power of two");
    }
    alignment_ = align->u;
  } else {
    alignment_ = kDefaultAlignment;
  }

  // Tensor infos.
  if (tensor_count > in.remaining() / kMinTensorInfoBytes) {
    return load_error("tensor_count " + std::to_string(tensor_count) + " cannot fit in the " +
                      std::to_string(in.remaining()) + " bytes after the metadata");
  }
  tensors_.resize(static_cast<std::size_t>(tensor_count));
  for (std::uint64_t k = 0; k < tensor_count; ++k) {
    TensorInfo& t = tensors_[k];
    Status st = read_tensor_info(values, in, alignment_, t);
    if (!st.ok()) return load_error("tensor info " + std::to_string(k) + ": " + st.error().message);
    if (!tensor_index_.emplace(t.name, static_cast<std::size_t>(k)).second) {
      return load_error("duplicate tensor name " + quoted(t.name));
    }
  }

  // Data section: starts at the next multiple of the alignment; every tensor must lie inside
  // the file and no two tensors may share bytes.
  const std::uint64_t infos_end = in.pos();  // <= size_, so adding alignment - 1 cannot overflow
  data_offset_ = (infos_end + alignment_ - 1) / alignment_ * alignment_;
  if (tensors_.empty()) return ok_status();
  if (data_offset_ > size_) {
    return load_error("data section would start at " + std::to_string(data_offset_) +
                      ", past the file size " + std::to_string(size_));
  }
  const std::uint64_t data_size = size_ - data_offset_;
  for (TensorInfo& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      // Report absolute offsets, saturating where they overflow.
      std::uint64_t start = 0;
      std::uint64_t end = 0;
      if (__builtin_add_overflow(data_offset_, t.offset, &start))
        start = std::numeric_limits<std::uint64_t>::max();
      if (__builtin_add_overflow(start, t.nbytes, &end))
        end = std::numeric_limits<std::uint64_t>::max();
      return load_error("tensor " + quoted(t.name) + ": data [" + std::to_string(start) + ", " +
                        std::to_string(end) + ") exceeds file size " + std::to_string(size_));
    }
    t.data = base_ + data_offset_ + t.offset;
  }
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const TensorInfo& t : tensors_) {
    if (t.nbytes > 0) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (std::size_t k = 1; k < by_offset.size(); ++k) {
    const TensorInfo& prev = *by_offset[k - 1];
    const TensorInfo& cur = *by_offset[k];
    if (cur.offset < prev.offset + prev.nbytes) {
      return load_error("tensor " + quoted(cur.name) + ": data at offset " +
                        std::to_string(cur.offset) + " overlaps tensor " + quoted(prev.name) +
                        " [" + std::to_string(prev.offset) + ", " +
                        std::to_string(prev.offset + prev.nbytes) + ")");
    }
  }
  return ok_status();
}

const MetaValue* GgufFile::find(std::string_view key) const {
  auto it = meta_.find(key);
  return it == meta_.end() ? nullptr : &it->second;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::uint32_t> GgufFile::get_u32(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return key_error(key, "is missing");
  if (!is_unsigned(v->type) && !is_signed(v->type)) return wrong_type(key, *v, "an integer");
  if (auto x = integer_as<std::uint32_t>(v->type, *v)) return *x;
  return key_error(key, "value " + integer_string(v->type, *v) + " does not fit in uint32");
}

Result<std::int64_t> GgufFile::get_i64(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return key_error(key, "is missing");
  if (!is_unsigned(v->type) && !is_signed(v->type)) return wrong_type(key, *v, "an integer");
  if (auto x = integer_as<std::int64_t>(v->type, *v)) return *x;
  return key_error(key, "value " + integer_string(v->type, *v) + " does not fit in int64");
}

Result<float> GgufFile::get_f32(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return key_error(key, "is missing");
  if (!is_float(v->type)) return wrong_type(key, *v, "float32 or float64");
  if (auto x = float_as_f32(*v)) return *x;
  return key_error(key, "value " + std::to_string(v->f) + " is out of float32 range");
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return key_error(key, "is missing");
  if (v->type != ValueType::kBool) return wrong_type(key, *v, "bool");
  return v->u != 0;
}

Result<std::string> GgufFile::get_string(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return key_error(key, "is missing");
  if (v->type != ValueType::kString) return wrong_type(key, *v, "string");
  return v->s;
}

Result<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return key_error(key, "is missing");
  if (v->type != ValueType::kArray || v->elem_type != ValueType::kString) {
    return wrong_type(key, *v, "array[string]");
  }
  std::vector<std::string> out;
  out.reserve(v->arr.size());
  for (const MetaValue& e : v->arr) out.push_back(e.s);
  return out;
}

Result<std::vector<float>> GgufFile::get_f32_array(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return key_error(key, "is missing");
  if (v->type != ValueType::kArray || !is_float(v->elem_type))
    return wrong_type(key, *v, "array[float32]");
  std::vector<float> out;
  out.reserve(v->arr.size());
  for (std::size_t k = 0; k < v->arr.size(); ++k) {
    auto x = float_as_f32(v->arr[k]);
    if (!x) return key_error(key, "element " + std::to_string(k) + " is out of float32 range");
    out.push_back(*x);
  }
  return out;
}

Result<std::vector<std::int32_t>> GgufFile::get_i32_array(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return key_error(key, "is missing");
  if (v->type != ValueType::kArray || (!is_unsigned(v->elem_type) && !is_signed(v->elem_type))) {
    return wrong_type(key, *v, "an array of integers");
  }
  std::vector<std::int32_t> out;
  out.reserve(v->arr.size());
  for (std::size_t k = 0; k < v->arr.size(); ++k) {
    auto x = integer_as<std::int32_t>(v->elem_type, v->arr[k]);
    if (!x) {
      return key_error(key, "element " + std::to_string(k) + " value " +
                                integer_string(v->elem_type, v->arr[k]) + " does not fit in int32");
    }
    out.push_back(*x);
  }
  return out;
}

Result<std::uint32_t> GgufFile::get_u32_or(std::string_view key, std::uint32_t fallback) const {
  return has(key) ? get_u32(key) : Result<std::uint32_t>(fallback);
}

Result<float> GgufFile::get_f32_or(std::string_view key, float fallback) const {
  return has(key) ? get_f32(key) : Result<float>(fallback);
}

Result<bool> GgufFile::get_bool_or(std::string_view key, bool fallback) const {
  return has(key) ? get_bool(key) : Result<bool>(fallback);
}

Result<std::string> GgufFile::get_string_or(std::string_view key, std::string fallback) const {
  return has(key) ? get_string(key) : Result<std::string>(std::move(fallback));
}

}  // namespace zinfer::gguf
