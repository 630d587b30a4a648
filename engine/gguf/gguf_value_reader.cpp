// Decoding of GGUF strings and metadata values (see gguf_value_reader.h).
#include "engine/gguf/gguf_value_reader.h"

#include <string>

namespace zinfer::gguf {
namespace {

Error load_error(std::string message) {
  return make_error(ErrorCode::kModelLoadFailed, std::move(message));
}

std::string at(std::uint64_t pos) { return " at offset " + std::to_string(pos); }

}  // namespace

bool is_known_value_type(std::uint32_t raw) {
  return raw <= static_cast<std::uint32_t>(ValueType::kFloat64);
}

std::uint64_t min_encoded_size(ValueType type) {
  switch (type) {
    case ValueType::kUInt8:
    case ValueType::kInt8:
    case ValueType::kBool:
      return 1;
    case ValueType::kUInt16:
    case ValueType::kInt16:
      return 2;
    case ValueType::kUInt32:
    case ValueType::kInt32:
    case ValueType::kFloat32:
      return 4;
    case ValueType::kUInt64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
    case ValueType::kString:  // u64 length
      return 8;
    case ValueType::kArray:  // u32 element type + u64 count
      return 12;
  }
  return 1;
}

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::kUInt8:
      return "uint8";
    case ValueType::kInt8:
      return "int8";
    case ValueType::kUInt16:
      return "uint16";
    case ValueType::kInt16:
      return "int16";
    case ValueType::kUInt32:
      return "uint32";
    case ValueType::kInt32:
      return "int32";
    case ValueType::kFloat32:
      return "float32";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "string";
    case ValueType::kArray:
      return "array";
    case ValueType::kUInt64:
      return "uint64";
    case ValueType::kInt64:
      return "int64";
    case ValueType::kFloat64:
      return "float64";
  }
  return "unknown";
}

Status GgufValueReader::read_string(std::string& out, const char* what) {
  const std::uint64_t start = in_.pos();
  std::uint64_t len = 0;
  if (!in_.read(len)) return load_error(std::string("truncated ") + what + " length" + at(start));
  if (len > in_.remaining()) {
    return load_error(std::string(what) + " length " + std::to_string(len) + at(start) +
                      " exceeds the " + std::to_string(in_.remaining()) +
                      " bytes left in the file");
  }
  in_.read_bytes(len, out);
  return ok_status();
}

Status GgufValueReader::read_type(ValueType& out, const char* what) {
  const std::uint64_t start = in_.pos();
  std::uint32_t raw = 0;
  if (!in_.read(raw)) return load_error(std::string("truncated ") + what + at(start));
  if (!is_known_value_type(raw)) {
    return load_error(std::string("unknown ") + what + " " + std::to_string(raw) + at(start));
  }
  out = static_cast<ValueType>(raw);
  return ok_status();
}

template <typename T>
Status GgufValueReader::read_scalar(T& out, ValueType type) {
  if (!in_.read(out)) {
    return load_error("truncated " + std::string(value_type_name(type)) + " value" + at(in_.pos()));
  }
  return ok_status();
}

Status GgufValueReader::read_value_at(ValueType type, MetaValue& out, int depth) {
  out.type = type;
  switch (type) {
    case ValueType::kUInt8: {
      std::uint8_t v = 0;
      ZINFER_RETURN_IF_ERROR(read_scalar(v, type));
      out.u = v;
      break;
    }
    case ValueType::kInt8: {
      std::int8_t v = 0;
      ZINFER_RETURN_IF_ERROR(read_scalar(v, type));
      out.i = v;  // NOLINT(bugprone-signed-char-misuse): a GGUF INT8 is signed
      break;
    }
    case ValueType::kUInt16: {
      std::uint16_t v = 0;
      ZINFER_RETURN_IF_ERROR(read_scalar(v, type));
      out.u = v;
      break;
    }
    case ValueType::kInt16: {
      std::int16_t v = 0;
      ZINFER_RETURN_IF_ERROR(read_scalar(v, type));
      out.i = v;
      break;
    }
    case ValueType::kUInt32: {
      std::uint32_t v = 0;
      ZINFER_RETURN_IF_ERROR(read_scalar(v, type));
      out.u = v;
      break;
    }
    case ValueType::kInt32: {
      std::int32_t v = 0;
      ZINFER_RETURN_IF_ERROR(read_scalar(v, type));
      out.i = v;
      break;
    }
    case ValueType::kUInt64:
      ZINFER_RETURN_IF_ERROR(read_scalar(out.u, type));
      break;
    case ValueType::kInt64:
      ZINFER_RETURN_IF_ERROR(read_scalar(out.i, type));
      break;
    case ValueType::kFloat32: {
      float v = 0.0f;
      ZINFER_RETURN_IF_ERROR(read_scalar(v, type));
      out.f = v;
      break;
    }
    case ValueType::kFloat64:
      ZINFER_RETURN_IF_ERROR(read_scalar(out.f, type));
      break;
    case ValueType::kBool: {
      const std::uint64_t start = in_.pos();
      std::uint8_t v = 0;
      ZINFER_RETURN_IF_ERROR(read_scalar(v, type));
      // The spec allows only 0 and 1; anything else means we are reading garbage.
      if (v > 1)
        return load_error("bool value " + std::to_string(v) + at(start) + " is neither 0 nor 1");
      out.u = v;
      break;
    }
    case ValueType::kString:
      return read_string(out.s, "string value");
    case ValueType::kArray:
      return read_array(out, depth + 1);
  }
  return ok_status();
}

Status GgufValueReader::read_array(MetaValue& out, int depth) {
  const std::uint64_t start = in_.pos();
  if (depth > limits_.max_array_depth) {
    return load_error("array" + at(start) + " nested deeper than the limit of " +
                      std::to_string(limits_.max_array_depth) + " levels");
  }
  ZINFER_RETURN_IF_ERROR(read_type(out.elem_type, "array element type"));
  std::uint64_t count = 0;
  if (!in_.read(count)) return load_error("truncated array length" + at(in_.pos()));
  // Every element occupies at least min_encoded_size bytes, so a count the rest of the file
  // cannot hold is rejected here, before anything is allocated for it.
  if (count > in_.remaining() / min_encoded_size(out.elem_type)) {
    return load_error("array of " + std::to_string(count) + " " +
                      std::string(value_type_name(out.elem_type)) + at(start) +
                      " cannot fit in the " + std::to_string(in_.remaining()) +
                      " bytes left in the file");
  }
  if (count > limits_.max_array_elements - array_elements_) {
    return load_error("array of " + std::to_string(count) + " elements" + at(start) +
                      " exceeds the limit of " + std::to_string(limits_.max_array_elements) +
                      " array elements per file");
  }
  array_elements_ += count;
  out.arr.resize(static_cast<std::size_t>(count));
  for (std::uint64_t k = 0; k < count; ++k) {
    Status st = read_value_at(out.elem_type, out.arr[k], depth);
    if (!st.ok())
      return load_error("array element " + std::to_string(k) + ": " + st.error().message);
  }
  return ok_status();
}

}  // namespace zinfer::gguf
