// Bounded unpacking, frame-wide rules and typed field reads for the protocol codec.
#include "service/protocol/msgpack_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <new>
#include <vector>

#include "service/protocol/utf8.h"

namespace zinfer::protocol::detail {
namespace {

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidRequest, std::move(message));
}

// Strings and other payloads are referenced in place instead of copied into the zone: the
// handle never outlives the decode call, and the decoders copy what they keep.
bool reference_in_place(msgpack::type::object_type, std::size_t, void*) { return true; }

// Client-chosen keys are cut to this many bytes when they appear in an error message, so a
// message stays short whatever the frame holds.
constexpr std::size_t kMaxKeyInMessage = 64;

std::string_view clip(std::string_view key) { return utf8_prefix(key, kMaxKeyInMessage); }

// One step of a field path: a map key or an array index.
struct PathSeg {
  std::string_view key;
  std::size_t index = 0;
  bool is_index = false;
};

std::string join_path(std::string_view root, const std::vector<PathSeg>& segs) {
  std::string out(root);
  for (const PathSeg& s : segs) {
    if (s.is_index) {
      out += '[';
      out += std::to_string(s.index);
      out += ']';
    } else {
      out += ".";
      out += clip(s.key);
      if (s.key.size() > kMaxKeyInMessage) out += "…";
    }
  }
  return out;
}

bool keys_equal(const msgpack::object& a, const msgpack::object& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case msgpack::type::STR:
      return std::string_view(a.via.str.ptr, a.via.str.size) ==
             std::string_view(b.via.str.ptr, b.via.str.size);
    case msgpack::type::POSITIVE_INTEGER:
      return a.via.u64 == b.via.u64;
    case msgpack::type::NEGATIVE_INTEGER:
      return a.via.i64 == b.via.i64;
    default:
      return false;
  }
}

// Orders keys for the duplicate check of large maps (type first, then value).
bool key_less(const msgpack::object* a, const msgpack::object* b) {
  if (a->type != b->type) return a->type < b->type;
  switch (a->type) {
    case msgpack::type::STR:
      return std::string_view(a->via.str.ptr, a->via.str.size) <
             std::string_view(b->via.str.ptr, b->via.str.size);
    case msgpack::type::POSITIVE_INTEGER:
      return a->via.u64 < b->via.u64;
    default:
      return a->via.i64 < b->via.i64;
  }
}

std::string key_text(const msgpack::object& k) {
  switch (k.type) {
    case msgpack::type::STR: {
      const std::string_view key(k.via.str.ptr, k.via.str.size);
      std::string text = "\"";
      text += clip(key);
      text += key.size() > kMaxKeyInMessage ? "\"…" : "\"";
      return text;
    }
    case msgpack::type::POSITIVE_INTEGER:
      return std::to_string(k.via.u64);
    default:
      return std::to_string(k.via.i64);
  }
}

Status check_map_keys(const msgpack::object_map& m, std::string_view path) {
  for (std::uint32_t i = 0; i < m.size; ++i) {
    const msgpack::object& k = m.ptr[i].key;
    if (k.type == msgpack::type::STR) {
      if (auto bad = utf8_error_offset(std::string_view(k.via.str.ptr, k.via.str.size))) {
        return invalid(std::string(path) + ": invalid UTF-8 in a map key at byte " +
                       std::to_string(*bad));
      }
    } else if (k.type != msgpack::type::POSITIVE_INTEGER &&
               k.type != msgpack::type::NEGATIVE_INTEGER) {
      return invalid(std::string(path) + ": map keys must be strings or integers, got " +
                     std::string(type_name(k)));
    }
  }
  // Duplicate keys make a frame ambiguous (which "temperature" wins?): reject them.
  if (m.size <= 16) {
    for (std::uint32_t i = 1; i < m.size; ++i) {
      for (std::uint32_t j = 0; j < i; ++j) {
        if (keys_equal(m.ptr[i].key, m.ptr[j].key)) {
          return invalid(std::string(path) + ": duplicate key " + key_text(m.ptr[i].key));
        }
      }
    }
    return ok_status();
  }
  std::vector<const msgpack::object*> keys(m.size);
  for (std::uint32_t i = 0; i < m.size; ++i) keys[i] = &m.ptr[i].key;
  std::sort(keys.begin(), keys.end(), key_less);
  for (std::size_t i = 1; i < keys.size(); ++i) {
    if (keys_equal(*keys[i], *keys[i - 1])) {
      return invalid(std::string(path) + ": duplicate key " + key_text(*keys[i]));
    }
  }
  return ok_status();
}

// Recursion depth is bounded by the unpack depth limit (clamped in unpack_frame).
Status walk(const msgpack::object& o, std::string_view root, std::vector<PathSeg>& segs) {
  switch (o.type) {
    case msgpack::type::STR:
      if (auto bad = utf8_error_offset(std::string_view(o.via.str.ptr, o.via.str.size))) {
        return invalid(join_path(root, segs) + ": invalid UTF-8 at byte " + std::to_string(*bad));
      }
      return ok_status();
    case msgpack::type::BIN:
    case msgpack::type::EXT:
      return invalid(join_path(root, segs) + ": " + std::string(type_name(o)) +
                     " values are not part of the protocol");
    case msgpack::type::ARRAY:
      for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
        segs.push_back(PathSeg{{}, i, true});
        ZINFER_RETURN_IF_ERROR(walk(o.via.array.ptr[i], root, segs));
        segs.pop_back();
      }
      return ok_status();
    case msgpack::type::MAP: {
      ZINFER_RETURN_IF_ERROR(check_map_keys(o.via.map, join_path(root, segs)));
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack::object& k = o.via.map.ptr[i].key;
        std::string int_key;
        PathSeg seg;
        if (k.type == msgpack::type::STR) {
          seg.key = std::string_view(k.via.str.ptr, k.via.str.size);
          segs.push_back(seg);
          ZINFER_RETURN_IF_ERROR(walk(o.via.map.ptr[i].val, root, segs));
        } else {
          int_key = key_text(k);
          seg.key = int_key;
          segs.push_back(seg);
          ZINFER_RETURN_IF_ERROR(walk(o.via.map.ptr[i].val, root, segs));
        }
        segs.pop_back();
      }
      return ok_status();
    }
    default:
      return ok_status();
  }
}

}  // namespace

Result<msgpack::object_handle> unpack_frame(std::span<const std::uint8_t> frame,
                                            const DecodeLimits& limits) {
  if (frame.size() > limits.max_frame_bytes) {
    return invalid("frame of " + std::to_string(frame.size()) + " bytes exceeds max_frame_bytes " +
                   std::to_string(limits.max_frame_bytes));
  }
  if (frame.empty()) return invalid("frame: empty (expected one msgpack map)");
  // The walkers recurse once per level, so the depth limit also bounds their stack use.
  const std::size_t depth = std::min<std::size_t>(limits.max_depth, 64);
  const msgpack::unpack_limit lim(
      limits.max_array_elements, limits.max_map_entries, limits.max_string_bytes,
      /*bin=*/limits.max_string_bytes, /*ext=*/limits.max_string_bytes, depth);
  const char* data = reinterpret_cast<const char*>(frame.data());
  std::size_t off = 0;
  try {
    msgpack::object_handle h =
        msgpack::unpack(data, frame.size(), off, reference_in_place, nullptr, lim);
    if (h.zone() == nullptr) return invalid("frame: not valid msgpack");
    if (off != frame.size()) {
      return invalid("frame: " + std::to_string(frame.size() - off) +
                     " trailing bytes after the first msgpack value (one frame = one map)");
    }
    return h;
  } catch (const msgpack::depth_size_overflow&) {
    return invalid("frame: nesting deeper than max_depth " + std::to_string(depth));
  } catch (const msgpack::array_size_overflow&) {
    return invalid("frame: an array longer than max_array_elements " +
                   std::to_string(limits.max_array_elements));
  } catch (const msgpack::map_size_overflow&) {
    return invalid("frame: a map larger than max_map_entries " +
                   std::to_string(limits.max_map_entries));
  } catch (const msgpack::str_size_overflow&) {
    return invalid("frame: a string longer than max_string_bytes " +
                   std::to_string(limits.max_string_bytes));
  } catch (const msgpack::bin_size_overflow&) {
    return invalid("frame: a bin value longer than max_string_bytes " +
                   std::to_string(limits.max_string_bytes));
  } catch (const msgpack::ext_size_overflow&) {
    return invalid("frame: an ext value longer than max_string_bytes " +
                   std::to_string(limits.max_string_bytes));
  } catch (const msgpack::insufficient_bytes&) {
    return invalid("frame: truncated msgpack (a value claims more bytes than the frame holds)");
  } catch (const msgpack::parse_error&) {
    return invalid("frame: not valid msgpack (reserved byte 0xc1)");
  } catch (const std::bad_alloc&) {
    return invalid("frame: too large to decode");
  } catch (const std::exception& e) {
    return invalid(std::string("frame: not valid msgpack (") + e.what() + ")");
  }
}

Status check_frame_rules(const msgpack::object& root, std::string_view root_path) {
  std::vector<PathSeg> segs;
  return walk(root, root_path, segs);
}

std::string_view type_name(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "boolean";
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER:
      return "integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return "float";
    case msgpack::type::STR:
      return "string";
    case msgpack::type::BIN:
      return "bin";
    case msgpack::type::ARRAY:
      return "array";
    case msgpack::type::MAP:
      return "map";
    case msgpack::type::EXT:
      return "ext";
  }
  return "unknown";
}

std::string fmt_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Inf" : "-Inf";
  char buf[32];
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {  // integral: "100", not "1e+02"
    std::snprintf(buf, sizeof(buf), "%.0f", v);
    return buf;
  }
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  // Prefer the shortest text that reads back exactly (0.1, not 0.10000000000000001).
  for (int prec = 1; prec <= 17; ++prec) {
    char shorter[32];
    std::snprintf(shorter, sizeof(shorter), "%.*g", prec, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buf;
}

Error field_error(ErrorCode code, std::string_view path, std::string_view what) {
  std::string m(path);
  m += ": ";
  m += what;
  return make_error(code, std::move(m));
}

Result<std::int64_t> read_int(const msgpack::object& o, std::string_view path, std::int64_t lo,
                              std::int64_t hi, ErrorCode range_code) {
  auto range_error = [&](const std::string& got) {
    return field_error(range_code, path,
                       "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                           "], got " + got);
  };
  if (o.type == msgpack::type::POSITIVE_INTEGER) {
    if (hi < 0 || o.via.u64 > static_cast<std::uint64_t>(hi))
      return range_error(std::to_string(o.via.u64));
    const auto v = static_cast<std::int64_t>(o.via.u64);
    if (v < lo) return range_error(std::to_string(v));
    return v;
  }
  if (o.type == msgpack::type::NEGATIVE_INTEGER) {
    if (o.via.i64 < lo || o.via.i64 > hi) return range_error(std::to_string(o.via.i64));
    return o.via.i64;
  }
  return field_error(ErrorCode::kInvalidRequest, path,
                     "must be an integer, got " + std::string(type_name(o)));
}

Result<std::uint64_t> read_uint64(const msgpack::object& o, std::string_view path,
                                  ErrorCode range_code) {
  if (o.type == msgpack::type::POSITIVE_INTEGER) return o.via.u64;
  if (o.type == msgpack::type::NEGATIVE_INTEGER) {
    return field_error(
        range_code, path,
        "must be an integer in [0, 18446744073709551615], got " + std::to_string(o.via.i64));
  }
  return field_error(ErrorCode::kInvalidRequest, path,
                     "must be an integer, got " + std::string(type_name(o)));
}

Result<double> read_number(const msgpack::object& o, std::string_view path) {
  switch (o.type) {
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return o.via.f64;
    case msgpack::type::POSITIVE_INTEGER:
      return static_cast<double>(o.via.u64);
    case msgpack::type::NEGATIVE_INTEGER:
      return static_cast<double>(o.via.i64);
    default:
      return field_error(ErrorCode::kInvalidRequest, path,
                         "must be a number, got " + std::string(type_name(o)));
  }
}

Result<std::string_view> read_str(const msgpack::object& o, std::string_view path) {
  if (o.type != msgpack::type::STR) {
    return field_error(ErrorCode::kInvalidRequest, path,
                       "must be a string, got " + std::string(type_name(o)));
  }
  std::string_view s(o.via.str.ptr, o.via.str.size);
  // check_frame_rules() has usually run already; repeated here so every read stands alone.
  if (auto bad = utf8_error_offset(s)) {
    return field_error(ErrorCode::kInvalidRequest, path,
                       "invalid UTF-8 at byte " + std::to_string(*bad));
  }
  return s;
}

Result<bool> read_bool(const msgpack::object& o, std::string_view path) {
  if (o.type != msgpack::type::BOOLEAN) {
    return field_error(ErrorCode::kInvalidRequest, path,
                       "must be a boolean, got " + std::string(type_name(o)));
  }
  return o.via.boolean;
}

Result<MapReader> MapReader::make(const msgpack::object& o, std::string path) {
  if (o.type != msgpack::type::MAP) {
    return field_error(ErrorCode::kInvalidRequest, path,
                       "must be a map, got " + std::string(type_name(o)));
  }
  for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
    if (o.via.map.ptr[i].key.type != msgpack::type::STR) {
      return field_error(
          ErrorCode::kInvalidRequest, path,
          "field names must be strings, got " + std::string(type_name(o.via.map.ptr[i].key)));
    }
  }
  return MapReader(o.via.map, std::move(path));
}

const msgpack::object* MapReader::get(std::string_view key) const {
  for (std::uint32_t i = 0; i < map_->size; ++i) {
    const msgpack::object& k = map_->ptr[i].key;
    if (std::string_view(k.via.str.ptr, k.via.str.size) == key) {
      const msgpack::object& v = map_->ptr[i].val;
      return v.type == msgpack::type::NIL ? nullptr : &v;
    }
  }
  return nullptr;
}

std::string MapReader::path(std::string_view key) const {
  std::string p = path_;
  if (!p.empty()) p += ".";
  p += key;
  return p;
}

Result<std::optional<std::string_view>> MapReader::str(std::string_view key) const {
  const msgpack::object* o = get(key);
  if (o == nullptr) return std::optional<std::string_view>();
  ZINFER_ASSIGN_OR_RETURN(std::string_view s, read_str(*o, path(key)));
  return std::optional<std::string_view>(s);
}

Result<std::optional<std::int64_t>> MapReader::integer(std::string_view key, std::int64_t lo,
                                                       std::int64_t hi,
                                                       ErrorCode range_code) const {
  const msgpack::object* o = get(key);
  if (o == nullptr) return std::optional<std::int64_t>();
  ZINFER_ASSIGN_OR_RETURN(std::int64_t v, read_int(*o, path(key), lo, hi, range_code));
  return std::optional<std::int64_t>(v);
}

Result<std::optional<double>> MapReader::number(std::string_view key) const {
  const msgpack::object* o = get(key);
  if (o == nullptr) return std::optional<double>();
  ZINFER_ASSIGN_OR_RETURN(double v, read_number(*o, path(key)));
  return std::optional<double>(v);
}

Result<std::optional<bool>> MapReader::boolean(std::string_view key) const {
  const msgpack::object* o = get(key);
  if (o == nullptr) return std::optional<bool>();
  ZINFER_ASSIGN_OR_RETURN(bool v, read_bool(*o, path(key)));
  return std::optional<bool>(v);
}

}  // namespace zinfer::protocol::detail
